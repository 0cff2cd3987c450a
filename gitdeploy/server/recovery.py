"""Before a server serves: finish every deploy a dead predecessor left half-done.

Each environment's journal (gitdeploy.deploy.journal) is checked; an unfinished attempt is
recovered through `pipeline.recover` - back to the last verified revision, verified, recorded
as `interrupted` - before any new job can run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gitdeploy import pipeline
from gitdeploy.errors import GitdeployError
from gitdeploy.server.config import Environment, ServerConfig

log = logging.getLogger("gitdeploy.recovery")


def recover_environments(config: ServerConfig, context: Callable[[str, Environment], pipeline.Context]) -> int:
    """Recover every environment of `config` (`context(repo, env)` gives its pipeline context).
    Returns how many interrupted deploys were recovered; failures are logged, never raised."""
    if not config.repositories:
        return 0
    repo = config.repositories[0]
    recovered = 0
    for env in config.environments:
        try:
            done = pipeline.recover(context(repo, env),
                                    on_event=lambda ev, name=env.name: log.warning("%s: %s", name, ev.message))
        except GitdeployError as exc:
            log.error("%s: %s (%s)", env.name, exc.message, exc.hint)
            continue
        if done:
            recovered += 1
            log.warning("%s: recovered an interrupted deploy of %s: %s", env.name,
                        done.target[:7] or "a working tree", done.outcome)
    return recovered
