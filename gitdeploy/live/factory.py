"""Building an engine (gitdeploy.live.interface.EngineAPI) from where it is.

Everything above gitdeploy.live holds an engine, or at most an opaque connection that tests and
the server share between contexts (`connect`). This is where a second kind of engine (Swarm)
will be chosen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitdeploy.live.engine import Engine
from gitdeploy.live.engine import connect as _docker_client
from gitdeploy.live.interface import EngineAPI

if TYPE_CHECKING:  # the swarm engine is imported only where a cluster is used (start-up of a docker deploy)
    from gitdeploy.live.swarm.engine import SwarmEngine

Connection = Any  # what `connect` returns: shared, thread-safe, only ever handed back to open_engine


def describe(docker_host: str | None) -> str:
    """Where an engine is, for messages."""
    return docker_host or os.environ.get("DOCKER_HOST") or "the local socket"


def connect(docker_host: str | None = None, timeout: int = 300) -> Connection:
    """A connection to the engine at `docker_host` (default: DOCKER_HOST or the local socket),
    checked once. Raises GitdeployError naming where when it does not answer."""
    return _docker_client(docker_host, timeout)


def open_engine(connection: Connection, data_dir: Path, only: frozenset[str] | None = None,
                where: str = "", kind: str = "docker", registry: str | None = None) -> EngineAPI:
    """The engine behind `connection` (from `connect`, or a docker client a test made): one
    Docker Engine (`kind` "docker") or the Swarm cluster it manages ("swarm"; `registry`:
    where built images go so every node can pull them)."""
    if kind == "swarm":
        from gitdeploy.live.swarm.engine import SwarmEngine

        return SwarmEngine(connection, data_dir, only, where, registry)
    return Engine(connection, data_dir, only, where)


def as_swarm(engine: EngineAPI) -> SwarmEngine | None:
    """`engine` when it is a Swarm cluster's, else None (without importing the swarm engine for a
    Docker Engine's)."""
    if getattr(engine, "kind", None) != "swarm":
        return None
    from gitdeploy.live.swarm.engine import SwarmEngine

    return engine if isinstance(engine, SwarmEngine) else None


def engine_at(docker_host: str | None, data_dir: Path, timeout: int = 300) -> EngineAPI:
    """Connect to the engine at `docker_host` and open it (see connect)."""
    return open_engine(connect(docker_host, timeout), data_dir, where=describe(docker_host))
