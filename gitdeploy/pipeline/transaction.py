"""A deploy as a transaction: prepare (plan against the live engine), execute the plan's steps,
verify, and on failure roll back to the last verified revision (or restore what ran before)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Set
from dataclasses import replace

from gitdeploy.deploy.execute import Fault, Runner, Target, describe_error, failures
from gitdeploy.deploy.journal import Journal
from gitdeploy.deploy.result import Event, EventSink, Result
from gitdeploy.deploy.transact import Moves, transact
from gitdeploy.deploy.verify import Verification, unfit_containers, verify, verify_restored
from gitdeploy.errors import GitdeployError
from gitdeploy.live.engine import Cancel, aliases_for, network_name
from gitdeploy.live.factory import as_swarm
from gitdeploy.live.interface import EngineAPI
from gitdeploy.live.model import Live
from gitdeploy.pipeline.context import Context, Prepared, load
from gitdeploy.plan.diff import diff
from gitdeploy.plan.model import Plan
from gitdeploy.plan.planner import make_plan
from gitdeploy.plan.rollout import Kept, restore_plan
from gitdeploy.spec.model import Spec
from gitdeploy.spec.resolve import resolve
from gitdeploy.spec.source import SpecSource


def prepare(
    ctx: Context, rev: str = "HEAD", worktree: bool = False, tainted: Mapping[str, str] | Set[str] = frozenset(),
    only: Set[str] | None = None, loaded: tuple[SpecSource, Spec] | None = None,
) -> Prepared:
    """spec -> resolve -> live -> diff -> plan. `tainted` containers are replaced (see diff), and
    so is every running container at its target that is unhealthy or not reachable by name: no
    container is kept that verification would not pass.

    `only` limits the plan to those service paths (a heal repairing some services leaves the
    others, e.g. one it gave up on, as they are). `loaded`: the spec at `rev`, when read already.
    """
    source, spec = loaded or load(ctx, rev, worktree)
    engine = ctx.engine()
    scope = None if only is None else frozenset(only)
    foreign = engine.foreign_envs(spec.system, ctx.env)
    if foreign:
        raise GitdeployError(
            f"system '{spec.system}' on this engine belongs to environment(s) {', '.join(sorted(foreign))}, "
            f"not '{ctx.env}'",
            "use a different `system:` name per environment on a shared engine, or the right --env",
        )
    cluster = as_swarm(engine)
    if cluster is not None:
        cluster.remember_images(spec.system, ctx.env)  # a tag that ran before: the digest it ran with
    desired = tuple(resolve(spec, source, engine.images(), ctx.secrets()))
    if scope is not None:
        desired = tuple(d for d in desired if d.path in scope)
        engine = engine.scoped(scope)
    cluster = as_swarm(engine)
    if cluster is not None:
        from gitdeploy.pipeline import swarm

        return swarm.prepare(ctx, cluster, source, spec, desired, scope, swarm.tainted_map(tainted))
    live = engine.analyze(spec.system, ctx.env)
    unfit = unfit_containers(desired, live, network_name(spec.system, ctx.env), aliases_for(spec))
    taint = dict(unfit) | (dict(tainted) if isinstance(tainted, Mapping) else dict.fromkeys(tainted, "drift"))
    changes = diff(desired, live, taint)
    plan = make_plan(spec.system, ctx.env, spec.commit, desired, changes, live, keep=spec.keep)
    return Prepared(source, spec, desired, live, plan, scope)



def target_of(ctx: Context, prepared: Prepared) -> Target:
    return Target(prepared.spec.system, ctx.env, prepared.spec.commit or "", aliases_for(prepared.spec),
                  {d.path: d for d in prepared.desired}, prepared.spec)



def verify_target(ctx: Context, prepared: Prepared, live: Live | None = None) -> Verification:
    """Every replica at the target, healthy and reachable by name; nothing else running (on a
    cluster: every task of every service at its spec and digest, see gitdeploy.deploy.swarm)."""
    if prepared.plan.engine == "swarm":
        from gitdeploy.pipeline import swarm

        return swarm.check(ctx, prepared)
    system = prepared.spec.system
    live = live or ctx.engine(prepared.only).analyze(system, ctx.env)
    return verify(prepared.desired, live, network_name(system, ctx.env), aliases_for(prepared.spec))



def check_verified(ctx: Context, prepared: Prepared) -> Verification:
    """Verify the live system against the prepared target without changing anything."""
    return verify_target(ctx, prepared)



def execute(
    ctx: Context, prepared: Prepared, on_event: EventSink | None = None, *, cancel: Cancel | None = None,
    fault: Fault | None = None, journal: Journal | None = None, verified_before: str | None = None,
    guard: Callable[[], None] | None = None,
) -> Result:
    """Execute the plan as a transaction: run its steps, verify the target; on any failure (or a
    cancel) return to the last verified revision - `verified_before` - and verify that.

    Never raises for what happens on the engine: every failure is in the Result.
    """
    if prepared.plan.engine == "swarm":  # the whole stack back to the specs planned against
        from gitdeploy.pipeline import swarm

        return swarm.execute(ctx, prepared, on_event, cancel=cancel, fault=fault, journal=journal, guard=guard)
    plan = prepared.plan
    engine = ctx.engine(prepared.only)
    cancel = cancel if cancel is not None else Cancel()
    runner = Runner(engine, target_of(ctx, prepared), on_event=on_event, journal=journal, cancel=cancel,
                    fault=fault, guard=guard)

    def after_rollback(restored: bool) -> None:
        if restored:
            discard(engine, runner.created, runner.emit)

    return transact(plan, Moves(
        runner=runner,
        verify=lambda: verify_target(ctx, prepared),
        prune=lambda: _prune(engine, plan, runner),
        rollback=lambda _outcomes: rollback(ctx, prepared, verified_before, runner.emit, journal),
        after_rollback=after_rollback,
        pauses=lambda path: _pauses(prepared, path),
    ), cancel, journal)



def rollback(ctx: Context, prepared: Prepared, verified: str | None, emit: Callable[[str, str, str], None],
             journal: Journal | None = None, before: tuple[Kept, ...] | None = None) -> tuple[bool, str]:
    """Return the system to `verified` (the last verified revision) and verify it; where there is
    none (or it is the commit that failed), to exactly the containers that ran before.
    Returns (verified, what was done). Never raises."""
    try:
        if journal:
            journal.tolerant = True  # a full disk must not stop the rollback itself
            journal.note(phase="rollback", to=verified or "before")
        if verified and verified != prepared.spec.commit:
            restored = converge(ctx, verified, prepared.only, emit, journal)
            where = f"last verified revision {verified[:7]}"
        else:
            restored = restore(ctx, prepared.spec.system, before if before is not None else kept(prepared.live),
                               aliases_for(prepared.spec), emit, journal, only=prepared.only)
            where = "the containers that ran before"
        ok = restored.ok
        if journal:
            journal.note(phase="rolled-back", ok=ok)
        for p in restored.problems:
            emit("", "rollback-error", p)
        return ok, f"{where} restored and verified ({restored.at_target}/{restored.expected})" if ok else (
            f"{where}: rollback NOT verified: " + "; ".join(restored.problems[:5]))
    except Exception as exc:  # noqa: BLE001 - said, and the journal stays for the next run to finish
        emit("", "rollback-error", describe_error(exc))
        return False, f"rollback could not complete ({describe_error(exc)}); the next deploy, fix or server " \
                      f"start recovers it"



def converge(ctx: Context, rev: str, only: frozenset[str] | None, emit: Callable[[str, str, str], None],
             journal: Journal | None, stage: str = "rollback", rounds: int = 3) -> Verification:
    """Bring the system to commit `rev` (no rollback of its own) and verify it.

    Plans again, up to `rounds` times, while verification fails: engine requests a killed
    process had sent may still land after the first look (a container it was starting)."""
    for round_ in range(1, rounds + 1):
        prepared = prepare(ctx, rev, only=only)
        runner: Runner | None = None  # one engine's: what a verified run prunes
        if prepared.plan.engine == "swarm":
            from gitdeploy.pipeline import swarm

            outcomes = swarm.run(ctx, prepared, emit, journal, stage)
        else:
            runner = Runner(ctx.engine(only), target_of(ctx, prepared), on_event=_sink(emit), journal=journal,
                            stage=stage)
            outcomes = runner.run(prepared.plan)
        verification = verify_target(ctx, prepared)
        emit("", "verify", verification.headline(prepared.spec.commit) + f" ({stage})")
        failed = failures(outcomes)
        if failed and verification.ok:  # cannot happen, but never hide a failed step
            verification = replace(verification, ok=False, problems=(failed,))
        if verification.ok:
            if runner is not None:
                _prune(ctx.engine(only), prepared.plan, runner)
            return verification
        if round_ < rounds:
            emit("", "rollback-error", "not verified yet, planning again: " + "; ".join(verification.problems[:3]))
    return verification



def restore(ctx: Context, system: str, before: tuple[Kept, ...], aliases: dict[str, tuple[str, ...]],
            emit: Callable[[str, str, str], None], journal: Journal | None, rounds: int = 3,
            only: frozenset[str] | None = None) -> Verification:
    """Back to exactly the containers in `before` (see plan.rollout.restore_plan) and verify
    (again, up to `rounds` times, as `converge`). `only`: the services the attempt touched; the
    others are left as they are (a repair of one service never stops another)."""
    engine = ctx.engine(only)
    net = network_name(system, ctx.env)
    for round_ in range(1, rounds + 1):
        live = engine.analyze(system, ctx.env)
        published = {c.id: bool(c.published(net, aliases.get(c.service, (c.service.replace("/", "-"),))))
                     for c in live.containers if c.running}
        plan = restore_plan(system, ctx.env, live, before, published)
        target = Target(system, ctx.env, "", aliases, {})
        Runner(engine, target, on_event=_sink(emit), journal=journal, stage="rollback").run(plan)
        verification = verify_restored(before, engine.analyze(system, ctx.env), net, aliases)
        if verification.ok or round_ == rounds:
            return verification
        emit("", "rollback-error", "not restored yet, planning again: " + "; ".join(verification.problems[:3]))
    raise AssertionError("unreachable")



def kept(live: Live) -> tuple[Kept, ...]:
    """The running containers of `live`, as what a rollback without a verified revision restores."""
    return tuple(Kept(c.id, c.service, c.replica, c.health != "none") for c in live.containers if c.running)



def discard(engine: EngineAPI, created: list[str], emit: Callable[[str, str, str], None]) -> None:
    """Remove the containers a failed attempt created: a revision that never passed is no
    rollback target. Only stopped ones (a rollback stopped them); failures are only said."""
    if not created:
        return
    try:
        stopped = {c.id for c in engine.analyze_ids(created) if not c.running}
        for cid in created:
            if cid in stopped:
                engine.remove(cid)
        emit("", "discarded", f"{len(stopped)} container(s) of the failed revision removed")
    except Exception as exc:  # noqa: BLE001 - tidying; pruning catches them later
        emit("", "prune-failed", describe_error(exc))



def _discard_tainted(ctx: Context, prepared: Prepared, tainted: frozenset[str], result: Result,
                     on_event: EventSink | None) -> Result:
    """After a verified deploy, still under its locks: remove the tainted containers it replaced
    (drift inside them: a tampered container is no rollback target). Failures are only said."""
    if prepared.plan.engine == "swarm":
        return result  # Swarm replaced the tasks; their containers are its to remove
    engine = ctx.engine(prepared.only)
    removed: list[str] = []
    events: list[Event] = []
    try:
        for c in engine.analyze(prepared.spec.system, ctx.env, inspect=False).containers:
            if c.id in tainted and not c.running:
                engine.remove(c.id)
                removed.append(c.id)
        if removed:
            events.append(Event(time.time(), "", "discarded",
                                f"{len(removed)} replaced container(s) with drift inside removed"))
    except GitdeployError as exc:
        events.append(Event(time.time(), "", "prune-failed", f"replaced containers not removed: {exc.message}"))
    for ev in events:
        if on_event:
            on_event(ev)
    return replace(result, events=result.events + tuple(events), removed=tuple(removed))



def _sink(emit: Callable[[str, str, str], None]) -> EventSink:
    return lambda ev: emit(ev.path, ev.kind, ev.message)



def _prune(engine: EngineAPI, plan: Plan, runner: Runner) -> None:
    """After a verified deploy: remove what the plan said to prune (failures are only said)."""
    removed = 0
    for cid in plan.prune:
        try:
            engine.remove(cid)
            removed += 1
        except Exception as exc:  # noqa: BLE001 - pruning is tidying; the deploy stands
            runner.emit("", "prune-failed", describe_error(exc))
    if removed:
        runner.emit("", "pruned", f"{removed} old container(s) removed (keep: {plan.keep})")



def _pauses(prepared: Prepared, path: str) -> bool:
    d = next((d for d in prepared.desired if d.path == path), None)
    return bool(d and d.service.rollout.on_failure == "pause")
