"""Verification after executing: is every instance at the target revision, and nothing else up?

This is the check Knight Capital did not have: one server of eight on old code is a failed
deploy, not a successful one. A replica counts only when it is all three:
- at the target definition (its hash), with the right replica index;
- healthy, when it has a health check;
- published: on the system's network with every one of its service's aliases (reachable by
  name - a replica left out of DNS by an interrupted rollout is not deployed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.replicas import assign
from gitdeploy.plan.rollout import Kept
from gitdeploy.spec.identity import Desired


@dataclass(frozen=True)
class Verification:
    ok: bool
    expected: int  # containers that should run
    at_target: int  # containers running at their target hash with the right replica index
    problems: tuple[str, ...] = ()
    unit: str = "containers"  # what was counted: containers (one engine) or tasks (a cluster)
    nodes: int | None = None  # a cluster: how many nodes the counted tasks run on
    unusable: tuple[str, ...] = ()  # a cluster: its nodes that take no task ("node2 (10.0.0.2) is down")

    def headline(self, commit: str | None) -> str:
        """'8/8 containers at 1a2b3c4' (or 'working tree'); on a cluster '8/8 tasks at 1a2b3c4 on 2 nodes',
        and the nodes that take no task: '... on 1 node, while node2 (10.0.0.2) is down'."""
        at = commit[:7] if commit else "the working tree"
        where = "" if self.nodes is None else f" on {self.nodes} node{'s' if self.nodes != 1 else ''}"
        if self.unusable:
            where += f", while {'; '.join(self.unusable)}"
        return f"{self.at_target}/{self.expected} {self.unit} at {at}{where}"


def has_healthcheck(d: Desired) -> bool:
    hc = d.service.healthcheck
    return hc is not None and hc.test[:1] != ("NONE",)


def unfit(c: LiveContainer, healthcheck: bool, network: str | None, aliases: tuple[str, ...]) -> str:
    """Why a running container at its target is not serving as it should ("" when it is)."""
    if c.state == "restarting":
        return "is restarting"
    if healthcheck and c.health != "healthy":
        return f"is not healthy (health: {c.health})"
    if network is not None:
        published = c.published(network, aliases)
        if published is None:
            return "was not inspected"
        if not published:
            on = dict(c.networks or ())
            if network not in on:
                return f"is not on the network {network}"
            return f"is not reachable by name (aliases {', '.join(aliases)} missing on {network})"
    return ""


def unfit_containers(desired: Sequence[Desired], live: Live, network: str | None,
                     aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Running containers at their target that are unhealthy or unpublished: id -> why."""
    out: dict[str, str] = {}
    by_service = live.by_service
    for d in desired:
        for c in assign(by_service.get(d.path, []), d.hash, d.service.replicas).running_at_target:
            why = unfit(c, has_healthcheck(d), network, aliases.get(d.path, ()))
            if why:
                out[c.id] = why
    return out


def verify(desired: Sequence[Desired], live: Live, network: str | None = None,
           aliases: Mapping[str, tuple[str, ...]] | None = None) -> Verification:
    """Compare the live system with the target: exact replica sets, right hashes, healthy and
    published (when `network` is given: on it with `aliases[path]`), nothing extra."""
    problems: list[str] = []
    expected = sum(d.service.replicas for d in desired)
    at_target = 0
    wanted = {d.path: d for d in desired}
    by_service = live.by_service
    for d in desired:
        a = assign(by_service.get(d.path, []), d.hash, d.service.replicas)
        fit: set[str] = set()
        for c in a.running_at_target:
            why = unfit(c, has_healthcheck(d), network, (aliases or {}).get(d.path, ()))
            if why:
                problems.append(f"{d.path}: {c.name} {why}")
            else:
                fit.add(c.id)
        at_target += sum(1 for c in a.kept.values() if c.id in fit)
        if a.unserved:
            problems.append(f"{d.path}: replica(s) {_ints(list(a.unserved))} not running at the target revision")
        if a.surplus:
            problems.append(f"{d.path}: {len(a.surplus)} surplus container(s) running")
        for c in a.old:
            problems.append(f"{d.path}: {c.name} still runs an old revision ({c.hash[:12]})")
    for path, containers in sorted(by_service.items()):
        if path not in wanted:
            for c in containers:
                if c.running:
                    problems.append(f"{path}: {c.name} runs but the service is not in the spec")
    return Verification(ok=not problems, expected=expected, at_target=at_target, problems=tuple(problems))


def _ints(xs: list[int]) -> str:
    return ", ".join(str(x) for x in xs)


def verify_restored(before: Sequence[Kept], live: Live, network: str,
                    aliases: Mapping[str, tuple[str, ...]]) -> Verification:
    """Is exactly what ran before an attempt running again, healthy and reachable by name?"""
    problems: list[str] = []
    now = {c.id: c for c in live.containers}
    good = 0
    for k in before:
        c = now.get(k.id)
        if c is None or not c.running:
            problems.append(f"{k.service}: {k.id[:12]} (replica {k.replica}) did not come back")
            continue
        why = unfit(c, k.healthcheck, network, aliases.get(k.service, (k.service.replace('/', '-'),)))
        if why:
            problems.append(f"{k.service}: {c.name} {why}")
        else:
            good += 1
    ids = {k.id for k in before}
    for c in live.containers:
        if c.running and c.id not in ids:
            problems.append(f"{c.service}: {c.name} of the failed revision still runs")
    return Verification(ok=not problems, expected=len(before), at_target=good, problems=tuple(problems))
