"""Decisions as values: what changes per service, and the ordered steps that carry it out.

Nothing here talks to Docker; a plan can be printed, compared, serialised and tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["create", "replace", "scale", "start", "remove", "unchanged"]
# The engine actions a rollout is made of (see Op). The executor runs these and nothing else.
OpKind = Literal["await", "create", "start", "gate", "publish", "drain", "stop"]


@dataclass(frozen=True)
class FieldChange:
    field: str  # "image", "environment.LOG_LEVEL", "configs./etc/app.conf", "replicas", ...
    old: str
    new: str


@dataclass(frozen=True)
class ServiceChange:
    """What converging one service takes, and why."""

    path: str
    action: Action
    reason: str
    hash: str  # target definition hash ("" for remove)
    replicas_before: int  # running containers of the service now, at any hash
    replicas_after: int
    fields: tuple[FieldChange, ...] = ()
    old_hashes: tuple[str, ...] = ()  # hashes of the running containers being replaced
    start: tuple[tuple[str, int], ...] = ()  # (container id, replica) stopped at target hash: start
    create: tuple[int, ...] = ()  # replica indices to create
    retire: tuple[str, ...] = ()  # running container ids to stop (kept for rollback)
    discard: tuple[str, ...] = ()  # stopped containers at the target hash that are surplus: remove

    @property
    def changed(self) -> bool:
        return self.action != "unchanged"


@dataclass(frozen=True)
class GateSpec:
    healthcheck: bool  # the container has a health check: the gate waits for "healthy"
    monitor: float  # without one: seconds it must keep running
    deadline: float  # with one: seconds it has to become healthy

    @property
    def window(self) -> float:
        return self.deadline if self.healthcheck else self.monitor

    def describe(self) -> str:
        if self.healthcheck:
            return f"healthy within {self.deadline:g}s"
        return f"running for {self.monitor:g}s" if self.monitor > 0 else "started"



@dataclass(frozen=True)
class Op:
    """One engine action of a service's rollout, decided by the planner.

    - await: wait until `container` (a replica of the dependency `service`) is healthy;
    - create: create replica `replica` (`hold_back`: on the network without the service's aliases);
    - start: start replica `replica`: `container` when it exists already (a kept revision, which
      rejoins the aliases), else the one this step created;
    - gate: wait for replica `replica` to pass its health gate (healthy, or up for `monitor`);
    - publish: give a held-back replica the service's aliases, once its gate passed;
    - drain: take `container` out of the aliases and let it finish what it serves (`rollout.drain`);
    - stop: stop `container` (kept for rollback; `rejoin`: its aliases restored while stopped).
    """

    kind: OpKind
    replica: int = 0
    container: str = ""
    hold_back: bool = False
    rejoin: bool = False
    service: str = ""  # await: the dependency's path
    gate: GateSpec | None = None  # gate and await: what passing means
    seconds: float = 0.0  # drain: how long it keeps serving; stop: the grace period before SIGKILL

    def describe(self) -> str:
        """'create replica 2 (held back)', 'stop 1a2b3c4d5e6f', ..."""
        if self.kind == "await":
            return f"await {self.service} ({self.container[:12]}) healthy"
        if self.kind in ("drain", "stop") or (self.kind == "start" and self.container):
            what = f"{self.kind} {self.container[:12]}"
            if self.kind == "start":
                what += f" as replica {self.replica}"
            return what + (" (aliases kept)" if self.rejoin else "")
        if self.kind == "gate" and self.gate:
            return f"gate replica {self.replica}: {self.gate.describe()}"
        return f"{self.kind} replica {self.replica}" + (" (held back)" if self.hold_back else "")


Phase = tuple[Op, ...]  # ops that run at the same time; phases run one after the other


@dataclass(frozen=True)
class Step:
    """One service's change, runnable once every step in `after` has succeeded."""

    path: str
    change: ServiceChange
    after: tuple[str, ...] = ()  # paths of the steps this one waits for
    order: str = "start-first"  # start-first | stop-first (replacements)
    parallelism: int = 1  # replicas replaced at once after the canary
    canary: int = 0  # replicas replaced first, alone, and gated before the others (0: no canary)
    wait_healthy: tuple[str, ...] = ()  # dependencies that must be healthy first (service_healthy)
    rollout: tuple[Phase, ...] = ()  # the engine actions, phase by phase (see gitdeploy.plan.rollout)

    @property
    def ops(self) -> list[Op]:
        return [op for phase in self.rollout for op in phase]


@dataclass(frozen=True)
class Plan:
    system: str
    env: str
    commit: str | None  # the spec commit planned (None: working tree)
    changes: tuple[ServiceChange, ...]  # every service, unchanged ones included
    steps: tuple[Step, ...] = field(default=())  # changed services only, dependency-ordered
    prune: tuple[str, ...] = ()  # stopped containers removed once the target is verified
    keep: int = 0  # stopped revisions kept per service for rollback
    engine: str = "docker"  # what it was planned against: docker (containers) or swarm (services)
    nodes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # swarm: (service path, the nodes running it today)
    images: tuple[tuple[str, str], ...] = ()  # swarm: (service path, the image it will run, pinned by digest)
    unusable: tuple[str, ...] = ()  # swarm: nodes that take no task now ("node2 (10.0.0.2) is down")

    @property
    def has_changes(self) -> bool:
        return bool(self.steps)

    def counts(self) -> dict[str, int]:
        out = {a: 0 for a in ("create", "replace", "scale", "start", "remove", "unchanged")}
        for c in self.changes:
            out[c.action] += 1
        return out

    def summary(self) -> str:
        """One line: "2 to create, 1 to replace, 5 unchanged" or "no changes"."""
        words = {
            "create": "to create",
            "replace": "to replace",
            "scale": "to scale",
            "start": "to start",
            "remove": "to remove",
            "unchanged": "unchanged",
        }
        counts = self.counts()
        parts = [f"{n} {words[a]}" for a, n in counts.items() if n]
        if not self.has_changes:
            return f"no changes ({counts['unchanged']} unchanged)"
        return ", ".join(parts)
