"""plan(Changes) -> Plan: dependency-ordered steps, independent ones free to run in parallel.

A step waits for the steps of every service it (transitively) depends on - dependencies are
ready before dependents. Removals run the other way round: a removed service goes only after
the removal of every removed service that depended on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitdeploy.live.model import Live
from gitdeploy.plan.model import GateSpec, Plan, ServiceChange, Step
from gitdeploy.plan.rollout import awaits_for, prunable, rollout
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Service


def make_plan(
    system: str, env: str, commit: str | None, desired: Sequence[Desired], changes: Sequence[ServiceChange],
    live: Live, keep: int = 2,
) -> Plan:
    """The plan for `changes`: steps for changed services only, in a dependency order, each with
    its rollout (see gitdeploy.plan.rollout), and what to prune once the target is verified."""
    services = {d.path: d.service for d in desired}
    targets = {d.path: d.hash for d in desired}
    stepped = {c.path for c in changes if c.changed}
    steps: list[Step] = []
    memo: dict[str, frozenset[str]] = {}

    def stepped_deps(path: str) -> frozenset[str]:
        # The nearest stepped services among path's transitive dependencies: a depth-first
        # walk with its own stack (chains of any length; cycles are rejected by validation and
        # never loop here - a service on the stack counts as having none).
        if path in memo:
            return memo[path]
        stack: list[tuple[str, int]] = [(path, 0)]
        on_stack = {path}
        while stack:
            node, i = stack[-1]
            deps = services[node].depends_on
            if i < len(deps):
                stack[-1] = (node, i + 1)
                nxt = deps[i].service
                if nxt in services and nxt not in stepped and nxt not in memo and nxt not in on_stack:
                    stack.append((nxt, 0))
                    on_stack.add(nxt)
                continue
            out: set[str] = set()
            for dep in deps:
                if dep.service in stepped:
                    out.add(dep.service)
                elif dep.service in memo:
                    out |= memo[dep.service]
            memo[node] = frozenset(out)
            stack.pop()
            on_stack.discard(node)
        return memo[path]

    # Removals: who depended on each removed service (from the labels of its containers).
    removed = {c.path for c in changes if c.action == "remove"}
    dependents_of_removed: dict[str, set[str]] = {p: set() for p in removed}
    for c in live.containers:
        if c.service in removed:
            for dep in c.depends:
                if dep in removed:
                    dependents_of_removed[dep].add(c.service)

    for c in changes:
        if not c.changed:
            continue
        if c.action == "remove":
            after = tuple(sorted(dependents_of_removed[c.path] - {c.path}))
            steps.append(Step(path=c.path, change=c, after=after, order="stop-first",
                              rollout=rollout(c, "stop-first", 1)))
            continue
        svc = services[c.path]
        healthy = tuple(
            sorted(d.service for d in svc.depends_on if d.condition == "service_healthy")
        )
        deadlines = {p: services[p].rollout.deadline for p in healthy if p in services}
        awaits = awaits_for([p for p in healthy if p not in stepped], targets, live, deadlines)
        n = len(c.start) + len(c.create)
        canary = min(svc.rollout.canary, n) if c.action == "replace" and n > 1 else 0
        parallelism = svc.rollout.parallelism or max(1, n - canary)
        steps.append(
            Step(
                path=c.path,
                change=c,
                after=tuple(sorted(stepped_deps(c.path))),
                order=svc.effective_order,
                parallelism=parallelism,
                canary=canary,
                wait_healthy=healthy,
                rollout=rollout(c, svc.effective_order, parallelism, gate_of(svc), awaits,
                                drain=svc.rollout.drain, grace=svc.stop_grace_period, canary=canary),
            )
        )
    retired = [cid for c in changes for cid in c.retire]
    prune = [cid for c in changes for cid in c.discard] + prunable(live.containers, retired, targets, keep)
    return Plan(system=system, env=env, commit=commit, changes=tuple(changes), steps=tuple(topological(steps)),
                prune=tuple(dict.fromkeys(prune)), keep=keep)


def gate_of(svc: Service) -> GateSpec:
    """What a new replica of `svc` must show to pass its gate."""
    hc = svc.healthcheck is not None and svc.healthcheck.test[:1] != ("NONE",)
    return GateSpec(hc, svc.rollout.monitor, svc.rollout.deadline)


def topological(steps: Sequence[Step]) -> list[Step]:
    """Steps sorted so every step comes after those it waits for (stable otherwise).

    A depth-first walk with its own stack, so a chain of any length sorts (no recursion limit).
    """
    by_path = {s.path: s for s in steps}
    done: set[str] = set()
    out: list[Step] = []
    for first in steps:
        if first.path in done:
            continue
        stack: list[tuple[Step, int]] = [(first, 0)]
        on_stack = {first.path}
        while stack:
            s, i = stack[-1]
            if i < len(s.after):
                stack[-1] = (s, i + 1)
                p = s.after[i]
                if p in by_path and p not in done and p not in on_stack:
                    stack.append((by_path[p], 0))
                    on_stack.add(p)
                continue
            stack.pop()
            on_stack.discard(s.path)
            done.add(s.path)
            out.append(s)
    return out


def waves(plan: Plan) -> list[list[str]]:
    """The steps grouped by depth: each wave can run in parallel once the previous ones are done."""
    depth: dict[str, int] = {}
    for s in plan.steps:  # topological order: every `after` is already placed
        depth[s.path] = 1 + max((depth[p] for p in s.after if p in depth), default=-1)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for path, d in depth.items():
        out[d].append(path)
    return out
