"""The engine seam: everything the packages above gitdeploy.live ask of an engine, and no more.

`EngineAPI` is what the pipeline, the healer, the CLI, the bot and the dashboard hold; nothing
outside `gitdeploy.live` imports `docker`. `gitdeploy.live.engine.Engine` implements it on one
Docker Engine; `gitdeploy.live.factory` builds one from a `docker_host`.

Shaped for a second engine (Docker Swarm: services whose tasks run on many nodes):
- the unit is an *instance* of a service replica (`LiveContainer`, alias `Instance`), identified
  by an opaque id and carrying the `node` it runs on ("" on a single engine); analysis returns
  instances, never engine-specific objects;
- every answer is a plain value of gitdeploy.live.model (Live, FinalState, EngineEvent,
  ContainerEvent, FileChange, EngineObject, Observation);
- instance operations (create/start/stop/remove, drain/publish/rejoin, final_state, logs,
  file_changes) take the id analysis gave out, so an engine that must reach a node to act on
  it finds the node from its own bookkeeping;
- the engine lock is the engine's: Swarm keeps it in the cluster (a config), Docker in a
  never-started container (gitdeploy.live.enginelock).

Failures are GitdeployError with what the engine said (engine errors never leak as types).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gitdeploy.live.model import (
    ContainerEvent,
    EngineEvent,
    EngineObject,
    FileChange,
    FinalState,
    Live,
    LiveContainer,
    Observation,
)
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec
from gitdeploy.spec.resolve import Images

if TYPE_CHECKING:  # within live: engine.py and enginelock.py implement what these name
    from gitdeploy.live.engine import Cancel
    from gitdeploy.live.enginelock import EngineLock, Holder, LockState


class EventStream(Protocol):
    """A live stream of a system's instance events; `close()` (from any thread) ends the iteration."""

    def __iter__(self) -> Iterator[ContainerEvent]: ...

    def close(self) -> None: ...


class EngineAPI(Protocol):
    """One engine (see the module docstring)."""

    kind: str  # "docker" (one Docker Engine) or "swarm" (a cluster, through a manager)
    where: str  # what it is, for messages: its docker_host, or "the local socket"
    data_dir: Path
    only: frozenset[str] | None  # analysis sees only these service paths (None: all)

    def scoped(self, only: frozenset[str] | None) -> EngineAPI:
        """The same engine (shared connection) whose analysis sees only the services in `only`."""
        ...

    def untrusted(self) -> EngineAPI:
        """The same engine for planning untrusted code (a fork's pull request): it reads, but never
        builds, pulls, creates or starts anything (images resolve to a placeholder)."""
        ...

    def close(self) -> None: ...

    # -- analysis ----------------------------------------------------------------------------

    def analyze(self, system: str, env: str, inspect: bool = True) -> Live:
        """Every instance of `system` in `env` (running or not), with its node."""
        ...

    def analyze_ids(self, ids: list[str]) -> list[LiveContainer]:
        """Those of `ids` that still exist."""
        ...

    def foreign_envs(self, system: str, env: str) -> set[str]:
        """The other environments `system` has instances in on this engine."""
        ...

    def observe(self, system: str, env: str, desired: Sequence[Desired], workers: int = 8) -> Observation:
        """The healer's look: every container, and the settings and file changes of each
        instance at its target (see gitdeploy.heal.detect)."""
        ...

    def file_changes(self, cid: str) -> list[FileChange] | None:
        """The paths changed inside instance `cid` since it was created (None: it is gone)."""
        ...

    def events(self, system: str, env: str, actions: Sequence[str]) -> EventStream:
        """The instance events (`actions`: die, oom, kill, ...) of `system` in `env` from now on."""
        ...

    # -- instances -----------------------------------------------------------------------------

    def create(self, d: Desired, spec: Spec, env: str, replica: int, commit: str, aliases: tuple[str, ...],
               publish: bool = True) -> str:
        """Create (not start) replica `replica` of `d`; returns the instance's id."""
        ...

    def start(self, cid: str, system: str, env: str, aliases: tuple[str, ...], fresh: bool = False) -> None: ...

    def stop(self, cid: str, timeout: float = 10) -> None: ...

    def remove(self, cid: str) -> None: ...

    def drain(self, cid: str, system: str, env: str) -> None:
        """Take a running instance out of its service's names, keeping its open connections."""
        ...

    def settle(self, cid: str, max_wait: float, cancel: Cancel | None = None) -> str:
        """After `drain`: wait until the instance serves no client connection (at most `max_wait`
        seconds); says how it ended."""
        ...

    def publish(self, cid: str, system: str, env: str, aliases: tuple[str, ...]) -> None:
        """Put a running, healthy instance into its service's names."""
        ...

    def rejoin(self, cid: str, system: str, env: str, aliases: tuple[str, ...]) -> None:
        """Give a stopped (drained) instance its names back, for a fast later start."""
        ...

    def container_events(self, cid: str, since: float, until: float, cancel: Cancel | None = None
                         ) -> Iterator[EngineEvent]:
        """Instance `cid`'s die/restart/oom/health events in [since, until] (the health gate's)."""
        ...

    def final_state(self, cid: str) -> FinalState: ...

    def logs_tail(self, cid: str, lines: int = 5) -> str: ...

    # -- networks, volumes, files, images ------------------------------------------------------

    def ensure_network(self, system: str, env: str) -> str: ...

    def networks(self, system: str, env: str) -> list[EngineObject]:
        """The networks gitdeploy made for `system` in `env` (by label, checked)."""
        ...

    def remove_network(self, net: EngineObject) -> None: ...

    def ensure_volume(self, system: str, env: str, source: str) -> str: ...

    def volumes(self, system: str, env: str) -> list[EngineObject]:
        """The named volumes gitdeploy made for `system` in `env` (by label, checked)."""
        ...

    def remove_volume(self, volume: EngineObject) -> None: ...

    def images(self) -> Images:
        """What resolves image references to ids and builds images (spec.resolve takes it)."""
        ...

    def ensure_base_image(self) -> str:
        """The offline busybox base image's id, imported if missing."""
        ...

    def prune_secret_files(self, grace: float | None = None, dry_run: bool = False) -> list[Path]:
        """Remove secret values (data dir) no instance mounts any more; returns them."""
        ...

    # -- the engine lock -----------------------------------------------------------------------

    def hold_lock(self, system: str, env: str, holder: Holder | None = None) -> EngineLock:
        """Take the engine lock of `system` in `env` at once; raises Locked naming its holder."""
        ...

    def lock_holder(self, system: str, env: str) -> LockState | None:
        """The engine lock of `system` in `env` while a live holder has it (None: free or stale)."""
        ...
