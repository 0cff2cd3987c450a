"""Decisions as values: what changes per service, and the ordered steps that carry it out.

Nothing here talks to Docker; a plan can be printed, compared, serialised and tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["create", "replace", "scale", "start", "remove", "unchanged"]


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
class Step:
    """One service's change, runnable once every step in `after` has succeeded."""

    path: str
    change: ServiceChange
    after: tuple[str, ...] = ()  # paths of the steps this one waits for
    order: str = "start-first"  # start-first | stop-first (replacements)
    parallelism: int = 1  # replicas replaced at once
    wait_healthy: tuple[str, ...] = ()  # dependencies that must be healthy first (service_healthy)


@dataclass(frozen=True)
class Plan:
    system: str
    env: str
    commit: str | None  # the spec commit planned (None: working tree)
    changes: tuple[ServiceChange, ...]  # every service, unchanged ones included
    steps: tuple[Step, ...] = field(default=())  # changed services only, dependency-ordered

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
