"""The engines a spec can be meant for: their names, the default, and the check of a name.

Kept apart from gitdeploy.spec.scheduling (which parses the keys each engine honours) so that
a command that only needs the names - every CLI start-up, a deploy whose spec comes from the
cache - does not import the spec parser."""

from __future__ import annotations

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.spec.shown import shown

ENGINES = ("docker", "swarm")
DEFAULT_ENGINE = "docker"


def check_engine_name(engine: str) -> str:
    """`engine` when it names an engine; raises GitdeployError (exit 2) otherwise."""
    if engine not in ENGINES:
        raise GitdeployError(f"unknown engine {shown(engine)}", f"use one of: {', '.join(ENGINES)}",
                             exit_code=EXIT_INVALID)
    return engine
