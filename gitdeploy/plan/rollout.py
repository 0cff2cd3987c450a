"""rollout(change) -> the engine actions that carry out one service's change, phase by phase.

Pure decisions, made once by the planner and shown in the plan; the executor runs them and
decides nothing (see gitdeploy.deploy.execute):

- start-first replacement (the default): per batch of `parallelism` replicas, the new ones are
  created held back (on the network, without the service's aliases), started and gated, then
  published; only then are as many old ones drained (out of DNS, still serving what they serve)
  and stopped, their aliases restored while stopped so a rollback can start them straight back;
- stop-first replacement (a host port can only be bound once): per batch, old ones stop first,
  then the new ones are created (published at once), started and gated;
- create / scale / start: every missing replica at once, then surplus ones stop;
- remove: every running container of the service stops (kept for rollback, pruned later).

A kept container of the target revision (a rollback's fast path) is started instead of a new
one being created; it rejoins its aliases as it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.model import GateSpec, Op, Phase, Plan, ServiceChange, Step

Item = tuple[str, int]  # (existing container id or "", replica index)


def rollout(
    change: ServiceChange, order: str, parallelism: int, gate: GateSpec | None = None, awaits: Sequence[Op] = (),
    drain: float = 0.0, grace: float = 10.0,
) -> tuple[Phase, ...]:
    """The phases of `change` (see the module docstring); `awaits` come first."""
    phases: list[Phase] = [tuple(awaits)] if awaits else []
    if change.action == "remove":
        return tuple(phases + [tuple(Op("stop", container=cid, seconds=grace) for cid in change.retire)])
    todo: list[Item] = [(cid, r) for cid, r in change.start] + [("", r) for r in change.create]
    old = list(change.retire)
    replace = change.action == "replace"
    stop_first = replace and order == "stop-first"
    batch = max(1, parallelism) if replace else max(1, len(todo))
    for i in range(0, len(todo), batch):
        chunk = todo[i : i + batch]
        going, old = old[: len(chunk)] if replace else [], old[len(chunk) :] if replace else old
        if stop_first:
            phases.append(tuple(Op("stop", container=cid, seconds=grace) for cid in going))
        phases += _bring_up(chunk, replace and not stop_first, gate or GateSpec(False, 0, 0))
        if replace and not stop_first and going:
            phases.append(tuple(Op("drain", container=cid, seconds=drain) for cid in going))
            phases.append(tuple(Op("stop", container=cid, rejoin=True, seconds=grace) for cid in going))
    if old:  # surplus (scale down), or more old replicas than new ones
        phases.append(tuple(Op("stop", container=cid, seconds=grace) for cid in old))
    return tuple(p for p in phases if p)


def _bring_up(chunk: Sequence[Item], hold_back: bool, gate: GateSpec) -> list[Phase]:
    fresh = [r for cid, r in chunk if not cid]
    held = hold_back and bool(fresh)
    return [
        tuple(Op("create", replica=r, hold_back=hold_back) for r in fresh),
        tuple(Op("start", replica=r, container=cid) for cid, r in chunk),
        tuple(Op("gate", replica=r, gate=gate) for _, r in chunk),
        tuple(Op("publish", replica=r) for r in fresh) if held else (),
    ]


def awaits_for(dependencies: Iterable[str], targets: Mapping[str, str], live: Live,
               deadlines: Mapping[str, float]) -> tuple[Op, ...]:
    """`condition: service_healthy` on dependencies this plan does not touch: wait for each of
    their running replicas at the target that is not healthy yet."""
    out: list[Op] = []
    for dep in dependencies:
        for c in live.of(dep):
            if c.running and c.hash == targets.get(dep) and c.health != "healthy":
                out.append(Op("await", replica=c.replica, container=c.id, service=dep,
                              gate=GateSpec(True, 0, deadlines.get(dep, 60.0))))
    return tuple(out)


def prunable(containers: Iterable[LiveContainer], retired: Iterable[str], targets: Mapping[str, str],
             keep: int) -> list[str]:
    """Containers to remove once the target is verified: stopped revisions (counting those this
    plan retires) older than the newest `keep` per service - never one at the target."""
    going = set(retired)
    by_service: dict[str, list[LiveContainer]] = {}
    for c in containers:
        by_service.setdefault(c.service, []).append(c)
    out: list[str] = []
    for path, group in by_service.items():
        stopped = [c for c in group if (not c.running or c.id in going) and c.hash != targets.get(path)]
        newest_first = sorted(stopped, key=lambda c: -c.created)
        kept_hashes: list[str] = []
        for c in newest_first:
            if c.hash not in kept_hashes and len(kept_hashes) < keep:
                kept_hashes.append(c.hash)
        out += [c.id for c in stopped if c.hash not in kept_hashes]
    return out


@dataclass(frozen=True)
class Kept:
    """A container that ran before an attempt (journaled), to run again when it is undone."""

    id: str
    service: str
    replica: int
    healthcheck: bool


def restore_plan(system: str, env: str, live: Live, before: Sequence[Kept],
                 published: Mapping[str, bool]) -> Plan:
    """Back to exactly the containers that ran before an attempt (where no verified revision
    exists to return to): stopped ones start again, drained ones rejoin their aliases, and only
    then does every other running container of the system stop. `published`: container id ->
    whether it is reachable by name now."""
    wanted = {k.id: k for k in before}
    now = {c.id: c for c in live.containers}
    up: dict[str, list[Phase]] = {}
    for k in before:
        c = now.get(k.id)
        if c is None:
            continue  # gone: verification says so
        gate = GateSpec(k.healthcheck, 0.0, 60.0)
        if not c.running:
            up.setdefault(k.service, []).extend(
                [(Op("start", replica=k.replica, container=k.id),), (Op("gate", replica=k.replica, gate=gate),)])
        elif not published.get(k.id, True):
            up.setdefault(k.service, []).append((Op("publish", replica=k.replica, container=k.id),))
    extra: dict[str, list[str]] = {}
    for c in live.containers:
        if c.running and c.id not in wanted:
            extra.setdefault(c.service, []).append(c.id)
    steps = []
    for path in sorted(set(up) | set(extra)):
        phases = list(up.get(path, []))
        if extra.get(path):
            phases.append(tuple(Op("stop", container=cid, seconds=10.0) for cid in extra[path]))
        change = ServiceChange(path, "start" if path in up else "remove", "restore what ran before", "",
                               len(extra.get(path, [])), 0, retire=tuple(extra.get(path, [])))
        steps.append(Step(path, change, rollout=tuple(phases)))
    return Plan(system, env, None, tuple(s.change for s in steps), tuple(steps))
