"""The live system as plain values, rebuilt from one engine call (`analyze`), and the other plain
values an engine returns (see gitdeploy.live.interface)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from gitdeploy.live import labels

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


@dataclass(frozen=True)
class EngineEvent:
    time: float  # unix time
    action: str  # die | restart | oom | health_status: healthy | health_status: unhealthy | ...
    exit_code: str = ""


@dataclass(frozen=True)
class FinalState:
    """The container as inspected when the window ended."""

    running: bool
    restarting: bool = False
    status: str = ""
    exit_code: int | str = ""
    health: str = "none"  # healthy | unhealthy | starting | none


@dataclass(frozen=True)
class ContainerEvent:
    """Something happened to one of a system's instances (the healer's wake-up call)."""

    time: float  # unix time
    action: str  # die | oom | destroy | kill | health_status: unhealthy | pause | update | ...
    container_id: str
    node: str = ""  # where it happened ("" on a single engine)


@dataclass(frozen=True)
class FileChange:
    """One path changed inside an instance's filesystem since it was created (`docker diff`)."""

    path: str
    kind: int  # 0 changed, 1 added, 2 deleted (the engine's codes)


@dataclass(frozen=True)
class EngineObject:
    """A network or volume on the engine: enough to tell whose it is and to remove it."""

    name: str
    id: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """What the healer's look at the engine saw (Engine.observe), as the engine's own plain dicts:
    `detect` decides everything from these without an engine."""

    containers: tuple[dict[str, Any], ...]  # GET /containers/json?all=1 (every container)
    inspects: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # by container ID
    diffs: Mapping[str, list[FileChange]] = field(default_factory=dict)  # by container ID (docker diff)
    images: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # image ID -> its Config


@dataclass(frozen=True)
class LiveContainer:
    """One instance of a service replica: a container on one engine (on a cluster, one task's
    container on the node named by `node`)."""

    id: str
    name: str
    service: str  # service path
    replica: int
    hash: str
    commit: str
    state: str  # created | running | paused | restarting | removing | exited | dead
    health: str  # healthy | unhealthy | starting | none
    image_id: str
    created: float  # unix time
    definition_raw: str = ""  # the definition label, parsed on demand
    depends: tuple[str, ...] = ()
    # (network, its aliases there) from an inspection; None when not inspected (stopped ones)
    networks: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    # (network, endpoint ID) from the list: an endpoint's aliases never change (new aliases take
    # a new endpoint), so a known endpoint needs no inspection
    endpoints: tuple[tuple[str, str], ...] = ()
    node: str = ""  # the node it runs on ("" on a single engine: there is only the one)

    def published(self, network: str, aliases: tuple[str, ...]) -> bool | None:
        """On `network` with every one of `aliases` (None: not known, it was not inspected)."""
        if self.networks is None:
            return None
        on = dict(self.networks)
        return network in on and set(aliases) <= set(on[network])

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    @cached_property
    def definition(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.definition_raw) if self.definition_raw else None
        except ValueError:
            return None

    def with_inspect(self, info: dict[str, Any]) -> LiveContainer:
        """This container with what an inspection adds: its networks and aliases, current state."""
        nets = (info.get("NetworkSettings") or {}).get("Networks") or {}
        state = info.get("State") or {}
        health = (state.get("Health") or {}).get("Status") or "none"
        status = state.get("Status") or self.state
        return replace(self, networks=tuple(sorted((n, tuple(e.get("Aliases") or ())) for n, e in nets.items())),
                       state=status, health=health)

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> LiveContainer:
        """From one entry of the engine's container list (GET /containers/json)."""
        lab = raw.get("Labels") or {}
        status = raw.get("Status") or ""
        m = _HEALTH.search(status)
        health = "none"
        if m:
            health = {"health: starting": "starting"}.get(m.group(1), m.group(1))
        try:
            replica = int(lab.get(labels.REPLICA, "0"))
        except ValueError:
            replica = 0
        deps = tuple(d for d in lab.get(labels.DEPENDS, "").split(",") if d)
        return cls(
            id=raw["Id"],
            name=(raw.get("Names") or ["/?"])[0].lstrip("/"),
            service=lab.get(labels.SERVICE, ""),
            replica=replica,
            hash=lab.get(labels.HASH, ""),
            commit=lab.get(labels.COMMIT, ""),
            state=raw.get("State") or "unknown",
            health=health,
            image_id=raw.get("ImageID") or "",
            created=float(raw.get("Created") or 0),
            definition_raw=lab.get(labels.DEFINITION, ""),
            depends=deps,
            endpoints=tuple(sorted((n, e.get("EndpointID") or "") for n, e in
                                   ((raw.get("NetworkSettings") or {}).get("Networks") or {}).items())),
        )


Instance = LiveContainer  # the engine-neutral name of the unit an engine runs


@dataclass(frozen=True)
class Live:
    """Every container of one system in one environment, grouped by service path."""

    system: str
    env: str
    containers: tuple[LiveContainer, ...]

    def of(self, path: str) -> list[LiveContainer]:
        return [c for c in self.containers if c.service == path]

    @property
    def nodes(self) -> list[str]:
        """The nodes the system's instances run on, sorted ([""] on a single engine)."""
        return sorted({c.node for c in self.containers})

    @property
    def by_service(self) -> dict[str, list[LiveContainer]]:
        out: dict[str, list[LiveContainer]] = {}
        for c in self.containers:
            out.setdefault(c.service, []).append(c)
        return out
