"""rollout(change) -> the engine actions that carry out one service's change, phase by phase.

Pure decisions, made once by the planner and shown in the plan; the executor runs them and
decides nothing (see gitdeploy.deploy.execute):

- batches (replacements): the first `canary` replicas alone (the canary: a bad revision fails
  there, before any other replica is touched), then the rest in batches of `parallelism` (None:
  all of them at once) - about two gate windows in all, not one per replica;
- start-first replacement (the default): per batch, the new ones are
  created held back (on the network, without the service's aliases), started and gated, then
  published; only then are as many old ones drained (out of DNS, still serving what they serve)
  and stopped, their aliases restored while stopped so a rollback can start them straight back.
  The engine work of consecutive batches overlaps with the waits: the next batch is created
  during a gate and started as soon as that gate passed; the old ones are drained, then stopped,
  during the next gate;
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


def batch_sizes(n: int, canary: int, parallelism: int | None) -> list[int]:
    """How `n` replacements are cut into batches: [canary, parallelism, parallelism, ..., rest]."""
    first = min(n, max(0, canary))
    rest = n - first
    step = max(1, parallelism) if parallelism else max(1, rest)
    return ([first] if first else []) + [min(step, rest - i) for i in range(0, rest, step)]


def rollout(
    change: ServiceChange, order: str, parallelism: int | None, gate: GateSpec | None = None,
    awaits: Sequence[Op] = (), drain: float = 0.0, grace: float = 10.0, canary: int = 0,
) -> tuple[Phase, ...]:
    """The phases of `change` (see the module docstring); `awaits` come first."""
    phases: list[Phase] = [tuple(awaits)] if awaits else []
    if change.action == "remove":
        return tuple(phases + [tuple(Op("stop", container=cid, seconds=grace) for cid in change.retire)])
    todo: list[Item] = [(cid, r) for cid, r in change.start] + [("", r) for r in change.create]
    old = list(change.retire)
    replace = change.action == "replace"
    stop_first = replace and order == "stop-first"
    sizes = batch_sizes(len(todo), canary, parallelism) if replace else [len(todo)]
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    ups: list[list[Phase]] = []
    downs: list[list[str]] = []
    for i, size in zip(starts, sizes, strict=True):
        chunk = todo[i : i + size]
        going, old = old[: len(chunk)] if replace else [], old[len(chunk) :] if replace else old
        ups.append(_bring_up(chunk, replace and not stop_first, gate or GateSpec(False, 0, 0)))
        downs.append(going)
    if stop_first or not replace:
        for up, going in zip(ups, downs, strict=True):
            phases.append(tuple(Op("stop", container=cid, seconds=grace) for cid in going))
            phases += up
    else:
        phases += _overlapped(ups, downs, drain, grace)
    if old:  # surplus (scale down), or more old replicas than new ones
        phases.append(tuple(Op("stop", container=cid, seconds=grace) for cid in old))
    return tuple(p for p in phases if p)


def _overlapped(ups: Sequence[Sequence[Phase]], downs: Sequence[Sequence[str]], drain: float, grace: float
                ) -> list[Phase]:
    """Start-first batches, each one's engine work done while another one waits: the next batch
    is created (not started) during this one's gate and started as this one is published (its
    gate then runs from there); the old replicas this one replaces are drained, then stopped,
    during the next batch's gate. Nothing of a batch starts before the previous batch passed its
    gate, and no old replica leaves DNS before the batch replacing it was published.

    A drain and the stop of the same container in one phase run in that order (see
    gitdeploy.deploy.execute), so a phase never ends with an old replica drained but running."""
    out: list[Phase] = []
    carry: Phase = ()  # the previous batch's retirements (drain, then stop), run alongside this batch's gate
    for k, (up, going) in enumerate(zip(ups, downs, strict=True)):
        create, start, gate, publish = up
        nxt = ups[k + 1] if k + 1 < len(ups) else None
        if k == 0:
            out += [create, start]
        out.append(gate + carry + (nxt[0] if nxt else ()))
        out.append(publish + (nxt[1] if nxt else ()))
        carry = _retire(going, drain, grace)
    out.append(carry)
    return out


def _retire(going: Sequence[str], drain: float, grace: float) -> Phase:
    """Each of `going`: out of DNS and drained, then stopped with its aliases kept for rollback."""
    return tuple(op for cid in going for op in (Op("drain", container=cid, seconds=drain),
                                                Op("stop", container=cid, rejoin=True, seconds=grace)))


def batches(phases: Sequence[Phase]) -> list[list[int]]:
    """The replicas gated together, batch by batch (the canary first): [[1], [2, 3, 4]]."""
    return [[op.replica for op in phase if op.kind == "gate"] for phase in phases if phase and phase[0].kind == "gate"]


def describe_batches(phases: Sequence[Phase], canary: int) -> str:
    """How a replacement's replicas come up, batch by batch ('' for a single batch):
    'replica 1 alone (canary), then 2-4 together', 'replicas 1, 2, then 3, 4 together'."""
    groups = batches(phases)
    if len(groups) < 2:
        return ""
    words = [_span(g) + (" together" if len(g) > 1 else "") for g in groups]
    if canary:
        first = f"replica {words[0]} alone (canary)" if len(groups[0]) == 1 else f"replicas {words[0]} (canary)"
    else:
        first = f"replica {words[0]}" if len(groups[0]) == 1 else f"replicas {words[0]}"
    return ", then ".join([first, *words[1:]])


def _span(replicas: Sequence[int]) -> str:
    r = sorted(replicas)
    if len(r) > 2 and r == list(range(r[0], r[-1] + 1)):
        return f"{r[0]}-{r[-1]}"
    return ", ".join(map(str, r))


def _bring_up(chunk: Sequence[Item], hold_back: bool, gate: GateSpec) -> list[Phase]:
    """[create, start, gate, publish] of one batch (a phase may be empty)."""
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
