"""`check`: the drift of an environment from its deployed revision; `fix`: repair exactly that.

Repairs go through `pipeline.deploy(deployed commit, trigger="heal", tainted=..., only=...)`,
so they take the environment's lock, respect a freeze, are health-gated, verified, rolled back
on failure and recorded in git like any deploy.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

from gitdeploy import pipeline
from gitdeploy.deploy.result import EventSink, Result
from gitdeploy.errors import GitdeployError
from gitdeploy.heal import guards
from gitdeploy.heal.detect import detect
from gitdeploy.heal.model import KINDS, REPLACE_KINDS, Drift
from gitdeploy.pipeline import Context
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec
from gitdeploy.spec.resolve import resolve

SWARM_REPLACE = frozenset({"tampered", "restarting"})  # on a cluster: drift inside a task (its spec is sent anyway)


@dataclass(frozen=True)
class Target:
    """The deployed revision, resolved on this host: what every container must look like."""

    commit: str
    spec: Spec
    desired: tuple[Desired, ...]
    resolved_at: float = field(default_factory=time.time)


def load_target(ctx: Context, commit: str | None = None) -> Target:
    """Load and resolve the spec at `commit` (default: the deployed commit of ctx.env)."""
    commit = commit or guards.deployed_commit(ctx)
    source, spec = pipeline.load(ctx, commit)
    desired = tuple(resolve(spec, source, ctx.engine().images(), ctx.secrets()))
    return Target(commit, spec, desired)


@dataclass(frozen=True)
class CheckReport:
    system: str
    env: str
    commit: str  # the deployed commit drift is measured against
    drifts: tuple[Drift, ...]
    halted: str = ""  # why the system is halted (then nothing is drift)
    frozen: str = ""  # why the environment is frozen (repairs wait)
    deploying: str = ""  # who deploys right now (drift is not judged mid-deploy)
    checked_at: float = 0.0
    seconds: float = 0.0
    containers: int = 0  # containers examined (running tasks on a cluster)
    engine: str = "docker"  # the engine's kind: "swarm" looks at tasks on nodes
    notes: tuple[str, ...] = ()  # what happened but is no drift (a task Swarm replaced)
    unchecked: tuple[tuple[str, str], ...] = ()  # (node, why) whose task containers' files were not checked

    @property
    def clean(self) -> bool:
        return not self.drifts

    @property
    def counts(self) -> dict[str, int]:
        """Drift items by kind (every kind present, zeros included)."""
        c = Counter(d.kind for d in self.drifts)
        return {k: c.get(k, 0) for k in KINDS}

    @property
    def services(self) -> set[str]:
        return {d.service for d in self.drifts if d.service}

    def repairs(self, only: Set[str] | None = None) -> list[Drift]:
        """The drift a repair deploy cures (of the services in `only`, default all). On a cluster
        that is a service's spec, a missing or extra service: Swarm replaces a task that ended by
        itself, and a node is the cluster's."""
        if self.engine == "swarm":
            from gitdeploy.heal import swarm  # (a cluster's drift: not imported for one Docker Engine)

            return [d for d in self.drifts if d.repairable and d.service and (only is None or d.service in only)
                    and swarm.by_deploy(d)]
        return [d for d in self.drifts if d.repairable and d.service and (only is None or d.service in only)]

    def tainted(self, only: Set[str] | None = None, kinds: Set[str] = REPLACE_KINDS) -> frozenset[str]:
        """Container IDs to replace: drift inside them that starting or keeping cannot cure."""
        return frozenset(d.container_id for d in self.drifts if d.kind in kinds and d.container_id
                         and (only is None or d.service in only))

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "env": self.env, "commit": self.commit, "clean": self.clean,
            "halted": self.halted or None, "frozen": self.frozen or None, "deploying": self.deploying or None,
            "checked_at": self.checked_at, "seconds": round(self.seconds, 3), "containers": self.containers,
            "engine": self.engine, "counts": self.counts, "drift": [d.to_dict() for d in self.drifts],
            "notes": list(self.notes), "unchecked": dict(self.unchecked),
        }


def still_running(ctx: Context, system: str) -> tuple[str, ...]:
    """What runs although the system is halted: a halt (or a `down`) cut short, or started by hand."""
    running = Counter(c.service for c in ctx.engine().analyze(system, ctx.env, inspect=False).containers if c.running)
    if not running:
        return ()
    what = ", ".join(f"{path} ({n})" for path, n in sorted(running.items()))
    return (f"halted, but still running: {what}; was the halt or down cut short? the same command again finishes it",)


def check(ctx: Context, target: Target | None = None, workers: int = 8) -> CheckReport:
    """The environment's drift from its deployed revision (nothing is changed).

    A halted system has no drift; while a deploy holds the lock the report says so and holds
    no drift (the system is between revisions). Raises GitdeployError (spec, engine).
    """
    started = time.time()
    if target is None:
        try:
            commit = guards.deployed_commit(ctx)
        except GitdeployError:
            # nothing verified yet: only a first deploy in progress (maybe from another data dir) is
            # worth saying; HEAD names the system to look for it, it is never compared with
            busy = _first_deploy(ctx)
            if busy is None:
                raise
            return CheckReport(system=busy[0], env=ctx.env, commit="", drifts=(), deploying=busy[1],
                               checked_at=started, seconds=time.time() - started)
        target = load_target(ctx, commit)
    system = target.spec.system
    base = dict(system=system, env=ctx.env, commit=target.commit, checked_at=started,
                frozen=guards.frozen(ctx) or "")
    halted = guards.halted(ctx, system)
    if halted:
        return CheckReport(drifts=(), halted=halted, seconds=time.time() - started, notes=still_running(ctx, system),
                           **base)
    deploying = guards.deploying(ctx, system)
    if deploying:
        return CheckReport(drifts=(), deploying=deploying, seconds=time.time() - started, **base)
    engine = ctx.engine()
    if engine.kind == "swarm":
        from gitdeploy.heal import swarm

        seen = engine.observe_cluster(system, ctx.env, ctx.node_hosts, workers)  # type: ignore[attr-defined]
        found = swarm.detect(target.desired, system, ctx.env, seen)
        return CheckReport(drifts=found.drifts, seconds=time.time() - started, containers=found.tasks, engine="swarm",
                           notes=found.notes, unchecked=found.unchecked, **base)
    obs = engine.observe(system, ctx.env, target.desired, workers)
    drifts = detect(target.desired, system, ctx.env, obs)
    return CheckReport(drifts=tuple(drifts), seconds=time.time() - started, containers=len(obs.inspects), **base)


def _first_deploy(ctx: Context) -> tuple[str, str] | None:
    """(system, who) of a deploy running now in an environment with no verified revision, or None."""
    try:
        _, spec = pipeline.load(ctx, "HEAD")
    except GitdeployError:
        return None
    who = guards.deploying(ctx, spec.system)
    return (spec.system, who) if who else None


class TargetMoved(GitdeployError):
    """The environment's last verified revision is no longer the one a repair was planned for."""


def still_verified(ctx: Context, commit: str) -> None:
    """Raise TargetMoved unless `commit` is still ctx.env's last verified revision.

    The healer only ever deploys that revision: never an older one (nor a newer one it did not check).
    """
    now = guards.deployed_commit(ctx)
    if now != commit:
        raise TargetMoved(
            f"the last verified revision of '{ctx.env}' moved from {commit[:7]} to {now[:7]} since the check; "
            "nothing was repaired", f"the next check measures against {now[:7]}")


@dataclass(frozen=True)
class FixOutcome:
    before: CheckReport
    after: CheckReport
    result: Result | None = None  # the heal deploy (None when nothing was run)
    skipped: str = ""  # why nothing was run
    services: tuple[str, ...] = ()  # the services repaired
    removed: tuple[str, ...] = ()  # replaced (tainted) containers removed afterwards

    @property
    def ok(self) -> bool:
        return self.after.clean


def fix(
    ctx: Context, *, only: Set[str] | None = None, before: CheckReport | None = None, target: Target | None = None,
    on_event: EventSink | None = None, who: str | None = None,
) -> FixOutcome:
    """Repair what drifted (of the services in `only`, default all), then check again.

    Tainted containers are replaced, missing ones started or created, extras retired; the
    pipeline removes the replaced ones after a verified repair (a tampered container is no
    rollback target). Unmanaged containers are only reported. Raises GitdeployError when the deploy
    cannot start (frozen, locked, spec or engine error).
    """
    target = target or load_target(ctx)
    before = before or check(ctx, target)
    if before.halted:
        return FixOutcome(before, before, skipped=f"the system is halted ({before.halted})")
    if before.deploying:
        return FixOutcome(before, before, skipped=f"a deploy is in progress ({before.deploying})")
    if before.frozen:
        return FixOutcome(before, before, skipped=f"the environment is frozen ({before.frozen})")
    todo = before.repairs(only)
    if not todo:
        if before.clean:
            why = "no drift"
        elif before.engine == "swarm":
            from gitdeploy.heal import swarm

            why = swarm.left_alone(before.drifts)
        else:
            why = "nothing gitdeploy can repair (see the unmanaged containers)"
        return FixOutcome(before, before, skipped=why)
    services = frozenset(d.service for d in todo)
    # on a cluster a deploy repairs by sending the spec again, and replaces the tasks of a service
    # with drift inside a task (tampered, failing) by forcing an update
    tainted = before.tainted(services, kinds=SWARM_REPLACE) if before.engine == "swarm" else before.tainted(services)
    still_verified(ctx, target.commit)
    # ... and once more under the environment's lock, right before anything changes: a deploy that
    # finished meanwhile moved the verified revision, and repairing to the old one would undo it.
    result = pipeline.deploy(ctx, target.commit, trigger="heal", who=who, on_event=on_event, tainted=tainted,
                             only=services, on_plan=lambda _plan: still_verified(ctx, target.commit))
    after = check(ctx, target)
    return FixOutcome(before, after, result, services=tuple(sorted(services)), removed=result.removed)

