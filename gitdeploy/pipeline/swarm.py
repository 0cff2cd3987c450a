"""The pipeline on a Swarm cluster: the same spec -> live -> diff -> plan -> execute -> record, with a
service as the unit (see gitdeploy.deploy.swarm).

- The plan is the diff of the services' tasks (definition hash per task, as on one engine), plus
  a field diff of each live ServiceSpec against the spec gitdeploy would send: a hand edit, a
  changed placement or endpoint mode replaces the service even when no definition changed. A
  labeled service the spec no longer has is removed. The plan names the nodes each service
  runs on today.
- Executing is a transaction over the whole stack: on any failure every service the deploy
  touched gets back the spec it had when the plan was made, verified in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import replace
from typing import Any

from gitdeploy.deploy.execute import Fault, Target, describe_error
from gitdeploy.deploy.journal import Journal
from gitdeploy.deploy.result import EventSink, Result, StepOutcome
from gitdeploy.deploy.swarm import SwarmRunner, restore, verify
from gitdeploy.deploy.transact import Moves, transact
from gitdeploy.deploy.verify import Verification
from gitdeploy.live.engine import Cancel, aliases_for
from gitdeploy.live.model import Live
from gitdeploy.live.swarm.compare import HALTED
from gitdeploy.live.swarm.engine import ServiceState, SwarmEngine
from gitdeploy.live.swarm.servicespec import parallelism
from gitdeploy.live.swarm.tasks import Progress
from gitdeploy.pipeline.context import Context, Prepared
from gitdeploy.plan.diff import diff
from gitdeploy.plan.model import FieldChange, ServiceChange
from gitdeploy.plan.planner import make_plan
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec
from gitdeploy.spec.source import SpecSource

# Fields of a ServiceSpec that are not part of a service's definition (hash): a change of one
# of these alone is seen by the field diff only.
_OUTSIDE_DEFINITION = ("Mode", "EndpointSpec", "UpdateConfig", "RollbackConfig", "TaskTemplate.Placement",
                       "TaskTemplate.Resources")


def prepare(ctx: Context, engine: SwarmEngine, source: SpecSource, spec: Spec, desired: tuple[Desired, ...],
            scope: frozenset[str] | None, tainted: Mapping[str, str]) -> Prepared:
    """The plan against the cluster (see the module docstring)."""
    look = engine.look(spec.system, ctx.env)
    aliases = aliases_for(spec)
    # drift inside a task's container (the healer names the container): that task is replaced
    tainted = {look.tasks_by_container.get(k, k): why for k, why in tainted.items()}
    by_path = {d.path: d for d in desired}
    changes = [_global(c, by_path[c.path], look.live) if c.path in by_path and by_path[c.path].service.mode == "global"
               else c for c in diff(desired, look.live, tainted)]
    out: list[ServiceChange] = []
    for c in changes:
        st = look.services.get(c.path)
        d = by_path.get(c.path)
        if c.action == "create" and st is not None and HALTED in (st.spec.get("Labels") or {}):
            c = replace(c, action="start", reason="halted: the service is given back its tasks")  # nothing is created
        if st is None or d is None or "@sha256:" not in d.image_id:  # a fork's placeholder: no spec to compare
            out.append(c)
            continue
        drift = engine.spec_drift(engine.planned_spec(d, spec, ctx.env, st.commit, aliases.get(d.path, ())),
                                  st.spec)
        if c.action == "unchanged" and drift:
            n = len(drift)
            c = replace(c, action="replace", reason=f"the live service spec differs ({n} field{'s' if n != 1 else ''})",
                        fields=tuple(FieldChange(f, live, sent) for f, sent, live in drift))
        elif c.action == "replace":
            extra = tuple(FieldChange(f, live, sent) for f, sent, live in drift if f.startswith(_OUTSIDE_DEFINITION))
            c = replace(c, fields=c.fields + extra)
        out.append(c)
    planned = {c.path for c in out}
    for path, st in sorted(look.services.items()):
        if path not in planned:  # e.g. scaled to 0 by a halt: no task, still a service to remove
            out.append(ServiceChange(path, "remove", "no longer in the spec", "", st.progress.ready, 0))
    plan = make_plan(spec.system, ctx.env, spec.commit, desired, out, look.live, keep=spec.keep)
    # Swarm's update config rolls out (servicespec.update_config): no canary, its own parallelism
    steps = tuple(replace(s, rollout=(), canary=0, parallelism=parallelism(by_path[s.path].service) if s.path in by_path
                          else 0) for s in plan.steps)
    plan = replace(plan, steps=steps, prune=(), engine="swarm",
                   nodes=tuple((p, st.nodes) for p, st in sorted(look.services.items())),
                   images=tuple((d.path, d.image_id) for d in desired), unusable=look.unusable)
    return Prepared(source, spec, desired, look.live, plan, scope, dict(look.services))


def _global(c: ServiceChange, d: Desired, live: Live) -> ServiceChange:
    """A global service runs one task per usable node, not a count of replicas: it changes when a
    running task is at another definition (or none runs); how many is Swarm's to say."""
    running = [x for x in live.of(d.path) if x.running]
    n = len(running)
    if not running:
        return replace(c, action="create", reason="not running yet", replicas_before=0, replicas_after=0, fields=())
    if any(x.hash != d.hash for x in running):
        return replace(c, action="replace", replicas_before=n, replicas_after=n,
                       fields=tuple(f for f in c.fields if f.field != "replicas"))
    return replace(c, action="unchanged", reason="up to date", replicas_before=n, replicas_after=n, fields=(),
                   create=(), retire=(), start=(), discard=())


def target_of(ctx: Context, prepared: Prepared) -> Target:
    return Target(prepared.spec.system, ctx.env, prepared.spec.commit or "", aliases_for(prepared.spec),
                  {d.path: d for d in prepared.desired}, prepared.spec)


def check(ctx: Context, prepared: Prepared, emit: Callable[[str, str, str], None] | None = None) -> Verification:
    """The eight-server check on the cluster; each service's line is emitted."""
    engine = ctx.engine(prepared.only)
    assert isinstance(engine, SwarmEngine)
    # a plan without changes was made from a look under this deploy's lock, specs compared: that is the check
    same = not prepared.plan.has_changes
    found = verify(engine, prepared.desired, prepared.spec, ctx.env, aliases_for(prepared.spec),
                   found=prepared.services if same else None, drift_seen=not same,
                   unusable=prepared.plan.unusable if same else None)
    if emit:
        for path, line in found.lines:
            emit(path, "verify", line)
    return found.verification


def run(ctx: Context, prepared: Prepared, emit: Callable[[str, str, str], None], journal: Journal | None,
        stage: str, **kw: Any) -> list[StepOutcome]:
    """Run the plan's steps (no rollback of its own); the outcome of each."""
    engine = ctx.engine(prepared.only)
    assert isinstance(engine, SwarmEngine)
    runner = SwarmRunner(engine, target_of(ctx, prepared), prepared.services,
                         on_event=lambda ev: emit(ev.path, ev.kind, ev.message), journal=journal, stage=stage, **kw)
    return runner.run(prepared.plan)


def execute(
    ctx: Context, prepared: Prepared, on_event: EventSink | None = None, *, cancel: Cancel | None = None,
    fault: Fault | None = None, journal: Journal | None = None, guard: Callable[[], None] | None = None,
) -> Result:
    """Execute the plan as a transaction over the whole stack (see the module docstring). Never
    raises for what happens on the cluster: every failure is in the Result."""
    engine = ctx.engine(prepared.only)
    assert isinstance(engine, SwarmEngine)
    cancel = cancel if cancel is not None else Cancel()
    runner = SwarmRunner(engine, target_of(ctx, prepared), prepared.services, on_event=on_event, journal=journal,
                         cancel=cancel, fault=fault, guard=guard)

    return transact(prepared.plan, Moves(
        runner=runner,
        verify=lambda: check(ctx, prepared, runner.emit),
        prune=lambda: _prune(engine, prepared, runner.emit),
        rollback=lambda _outcomes: rollback(ctx, prepared, runner.touched, runner.emit, journal),
        told=lambda: f"restored: {', '.join(runner.touched) or 'nothing had changed'}",
        pauses=lambda path: _pauses(prepared, path),
        restored="every service's previous spec",
        rolling_back="rolling back every service of this deploy",
    ), cancel, journal)


def rollback(ctx: Context, prepared: Prepared, touched: list[str], emit: Callable[[str, str, str], None],
             journal: Journal | None) -> tuple[bool, str]:
    """Every touched service back to its spec as planned against, verified. Never raises."""
    try:
        if journal:
            journal.tolerant = True
            journal.note(phase="rollback", to="before")
        engine = ctx.engine(prepared.only)
        assert isinstance(engine, SwarmEngine)
        v = restore(engine, prepared.spec.system, ctx.env, prepared.services, touched, emit)
        if journal:
            journal.note(phase="rolled-back", ok=v.ok)
        for p in v.problems:
            emit("", "rollback-error", p)
        if v.ok:
            return True, (f"every service of this deploy ({len(touched)}) is back at its previous spec and "
                          f"verified: {v.headline(None).replace(' at the working tree', '')}")
        return False, "rollback NOT verified: " + "; ".join(v.problems[:5])
    except Exception as exc:  # noqa: BLE001 - said, and the journal stays for the next run to finish
        emit("", "rollback-error", describe_error(exc))
        return False, f"rollback could not complete ({describe_error(exc)}); the next deploy, fix or server " \
                      f"start recovers it"


def restore_journaled(ctx: Context, system: str, intent: Mapping[str, Any], emit: Callable[[str, str, str], None],
                      only: frozenset[str] | None) -> Verification:
    """Recovery without a verified revision: the services an interrupted deploy planned to
    change, back to the specs its journal recorded."""
    engine = ctx.engine(only)
    assert isinstance(engine, SwarmEngine)
    before = {path: ServiceState(v["id"], v["name"], path, int(v["version"]), v["spec"], _NO_PROGRESS)
              for path, v in (intent.get("services") or {}).items()}
    touched = [str(s["path"]) for s in intent.get("steps") or []]
    return restore(engine, system, ctx.env, before, touched, emit)


_NO_PROGRESS = Progress("", "", 0, 0, (), 0, "", "", ())


def journal_services(prepared: Prepared) -> dict[str, Any]:
    """What the journal's intent keeps of the services as planned against (for a recovery)."""
    return {path: {"id": st.id, "name": st.name, "version": st.version, "spec": st.spec}
            for path, st in prepared.services.items()}


def _prune(engine: SwarmEngine, prepared: Prepared, emit: Callable[[str, str, str], None]) -> None:
    """After a verified deploy: remove configs and secrets no service's current or previous spec
    names (a rollback needs the previous ones). Failures are only said. A plan without changes
    made nothing new, so there is nothing new to prune."""
    if not prepared.plan.has_changes:
        return
    try:
        keep: set[str] = set()
        for current, previous in engine.service_specs(prepared.spec.system, prepared.plan.env):
            for spec in (current, previous):
                container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
                keep |= {c.get("ConfigName", "") for c in container.get("Configs") or []}
                keep |= {x.get("SecretName", "") for x in container.get("Secrets") or []}
        gone = engine.prune_objects(prepared.spec.system, prepared.plan.env, keep)
        if gone:
            emit("", "pruned", f"{len(gone)} config(s)/secret(s) no kept revision uses removed")
    except Exception as exc:  # noqa: BLE001 - tidying
        emit("", "prune-failed", describe_error(exc))


def _pauses(prepared: Prepared, path: str) -> bool:
    d = next((d for d in prepared.desired if d.path == path), None)
    return bool(d and d.service.rollout.on_failure == "pause")


def tainted_map(tainted: Mapping[str, str] | Set[str]) -> dict[str, str]:
    return dict(tainted) if isinstance(tainted, Mapping) else dict.fromkeys(tainted, "drift")
