"""Executing a plan on a Swarm cluster: one service spec per step, followed task by task; the
whole-stack rollback; the eight-server check; halt.

- A step sends its service's whole spec (create, or replace the spec read when planning - a spec
  someone changed since is refused, never overwritten) and follows the tasks until every one
  runs, healthy, at the new spec; Swarm's update config is the rollout (order, parallelism,
  monitor), and a failure pauses it. A new task that ends, a paused update or the deadline
  fails the step. A new service without a health check must then keep running for `monitor`.
- Steps run in dependency order, independent ones in parallel (gitdeploy.deploy.execute.Runner).
- On any failure every service the deploy touched gets back the exact spec it had when the
  plan was made (a created one is removed, a removed one created again) and is followed in turn
  (`restore`): the stack-level transaction `docker stack deploy` does not have.
- `verify` counts, per service, the tasks running at its spec and digest and the nodes they run
  on: `N/N tasks at <commit> on K nodes`; anything else (a service missing, at another
  definition, hand-edited, with tasks not running, or not in the spec) is a problem.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from gitdeploy.deploy import failpoint
from gitdeploy.deploy.execute import Runner, StepFailed, Target, describe_error
from gitdeploy.deploy.freeze import HaltResult, mark_halted
from gitdeploy.deploy.lock import holder
from gitdeploy.deploy.result import StepOutcome
from gitdeploy.deploy.verify import Verification
from gitdeploy.errors import GitdeployError
from gitdeploy.live.engine import Cancel
from gitdeploy.live.swarm import services
from gitdeploy.live.swarm.compare import HALTED
from gitdeploy.live.swarm.engine import ServiceState, SwarmEngine
from gitdeploy.live.swarm.servicespec import parallelism
from gitdeploy.live.swarm.tasks import Progress
from gitdeploy.plan.model import Op, Step
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec

FOLLOW_SLACK = 30.0  # seconds on top of a service's own deadline and monitor windows (pulls, scheduling)
RESTORE_DEADLINE = 180.0
RESUMES = 2  # times a way back that Swarm paused is resumed before the rollback counts as failed


def step_deadline(d: Desired) -> float:
    """How long a service's tasks may take to converge: its deadline (or monitor) per batch."""
    s = d.service
    r = s.rollout
    batch = max(1, parallelism(s) or s.replicas or 1)
    batches = math.ceil(max(1, s.replicas) / batch)
    return FOLLOW_SLACK + batches * (max(r.deadline, r.monitor) + r.monitor)


class _Stopped(Exception):
    """A step left off because another service of the deploy failed (the whole stack goes back)."""


class _Fire:
    """Closing it fires a Cancel: how a user's cancel reaches the runner's own stop."""

    def __init__(self, target: Cancel) -> None:
        self.target = target

    def close(self) -> None:
        self.target.fire()


class SwarmRunner(Runner):
    """The Runner's scheduling (dependency order, parallel, cancel, skips), with a service as the
    unit of a step. `before`: the services as planned against (what a rollback gives back).

    The first failed step stops the others: a service still being followed is left off at once and
    no further step starts, since every service of the deploy is going back anyway (those are
    `skipped`, not failures of their own)."""

    def __init__(self, engine: SwarmEngine, target: Target, before: Mapping[str, ServiceState], **kw) -> None:
        super().__init__(engine, target, **kw)
        self.swarm = engine
        self.before = before
        self.touched: list[str] = []  # services this run sent a change to (or was about to)
        self._tlock = threading.Lock()
        self.progress: dict[str, Progress] = {}
        self.stop = Cancel()  # fired by the first failure, or by the user's cancel
        if not self.cancel.watch(_Fire(self.stop)):
            self.stop.fire()

    def _step(self, step: Step, ops: object) -> StepOutcome:
        c = step.change
        if self.stop and not self.cancel:
            self.emit(step.path, "skipped", "not started: another service of this deploy failed")
            return StepOutcome(step.path, False, "not started: another service of this deploy failed", True)
        self.emit(step.path, "step-start", f"{c.action}: {c.reason}")
        try:
            if self.cancel:
                raise StepFailed("interrupted")
            if self.guard:
                self.guard()
            detail = self._remove(step) if c.action == "remove" else self._apply(step)
        except _Stopped as exc:
            self.emit(step.path, "skipped", str(exc))
            return StepOutcome(step.path, False, str(exc), True)
        except Exception as exc:  # noqa: BLE001 - every failure is the step's outcome, never a crash
            detail = describe_error(exc)
            self.emit(step.path, "step-failed", detail)
            self.stop.fire()
            return StepOutcome(step.path, False, detail)
        self.emit(step.path, "step-done", detail)
        return StepOutcome(step.path, True, detail)

    def _left_off(self) -> None:
        if self.cancel:
            raise StepFailed("interrupted")
        if self.stop:
            raise _Stopped("left off: another service of this deploy failed")

    def _touch(self, path: str) -> None:
        with self._tlock:
            if path not in self.touched:
                self.touched.append(path)

    def _note(self, path: str, op: str, service_id: str) -> None:
        if self.journal:
            self.journal.note(stage=self.stage, step=path, op=op, replica=0, cid=service_id[:12])

    def _remove(self, step: Step) -> str:
        st = self.before.get(step.path)
        if self.fault:
            self.fault(step, Op("stop"))
        if st is None:
            return "already gone"
        self._touch(step.path)
        self.swarm.remove_service(st.id)
        self._note(step.path, "remove", st.id)
        self.emit(step.path, "retired", f"service {st.name} removed")
        return "service removed"

    def _apply(self, step: Step) -> str:
        t, path = self.t, step.path
        d = t.desired[path]
        assert t.spec is not None
        existing = self.before.get(path)
        known = self.swarm.task_ids(existing.id) if existing else frozenset()
        if self.fault:
            self.fault(step, Op("create"))
        self._left_off()
        self._touch(path)  # before sending: a change cut short may still have landed
        c = step.change
        force = bool(c.old_hashes) and all(h.startswith("tainted:") for h in c.old_hashes)  # the same spec
        sid = self.swarm.apply(d, t.spec, t.env, t.commit, tuple(t.aliases.get(path, ())), existing, force=force)
        self._note(path, "apply", sid)
        self.emit(path, "updated" if existing else "created",
                  f"service {'spec replaced' if existing else 'created'} ({sid[:12]}); following its tasks")
        if self.fault:
            self.fault(step, Op("gate"))
        last: list[str] = []

        def seen(p: Progress) -> None:
            line = p.summary()
            if not last or last[-1] != line:
                last.append(line)
                self.emit(path, "progress", line)

        stale = existing.progress.update_started if existing and existing.progress else ""
        p = self.swarm.follow(sid, step_deadline(d), known=known, cancel=self.stop, on_progress=seen, stale=stale)
        self._left_off()
        if not p.done or p.crashed:
            self.emit(path, "gate-failed", p.explain())
            raise StepFailed(f"not converged: {p.explain()}")
        monitor = d.service.rollout.monitor
        if existing is None and monitor > 0 and not _has_healthcheck(d):
            # Swarm monitors the tasks of an update itself; a new service must keep running too
            p = self.swarm.follow(sid, monitor, known=known, cancel=self.stop, on_progress=seen,
                                  until=lambda _p: False)
            self._left_off()
            if not p.done or p.crashed:
                self.emit(path, "gate-failed", p.explain())
                raise StepFailed(f"did not keep running for {monitor:g}s: {p.explain()}")
        self.progress[path] = p
        self.emit(path, "gate-ok", p.summary())
        return p.summary()


def _has_healthcheck(d: Desired) -> bool:
    hc = d.service.healthcheck
    return hc is not None and hc.test[:1] != ("NONE",)


# -- verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterCheck:
    verification: Verification
    lines: tuple[tuple[str, str], ...]  # (service path, "2/2 tasks at 1a2b3c4d5e6f on 2 nodes")


def verify(engine: SwarmEngine, desired: Sequence[Desired], spec: Spec, env: str,
           aliases: Mapping[str, tuple[str, ...]], found: Mapping[str, ServiceState] | None = None,
           drift_seen: bool = True, unusable: tuple[str, ...] | None = None) -> ClusterCheck:
    """Every service at its target definition, spec and digest, every task running at it; no
    service of the system that the spec does not have (within the engine's scope). `found`: the
    services as just read (a plan that changed nothing: its own look, under the same lock), with
    `unusable`, the nodes that look found taking no task; else both are read now;
    `drift_seen=False`: their specs were compared with the target already. The nodes that take no
    task are named in the headline: a deploy during an outage says where it did not run."""
    if found is None:
        look = engine.look(spec.system, env)
        services, unusable = look.services, look.unusable
    else:
        services = found
    problems: list[str] = []
    lines: list[tuple[str, str]] = []
    expected = at = 0
    nodes: set[str] = set()
    wanted = {d.path for d in desired}
    for d in desired:
        st = services.get(d.path)
        want = d.service.replicas if getattr(d.service, "mode", "replicated") != "global" else None
        if st is None:
            expected += want or 0
            problems.append(f"{d.path}: no service on the cluster")
            continue
        p = st.progress
        want = p.want if want is None else want
        expected += want
        at += min(p.ready, want) if st.hash == d.hash else 0
        nodes |= set(st.nodes)
        lines.append((d.path, p.summary() + (f" ({', '.join(st.nodes)})" if st.nodes else "")))
        if st.hash != d.hash:
            problems.append(f"{d.path}: the service runs definition {st.hash[:12] or '?'}, not {d.hash[:12]}")
            continue
        drift = engine.spec_drift(engine.planned_spec(d, spec, env, st.commit, tuple(aliases.get(d.path, ()))),
                                  st.spec) if drift_seen else []
        if drift:
            problems.append(f"{d.path}: its spec differs from the target: " +
                            ", ".join(f"{f} is {live} (want {sent})" for f, sent, live in drift[:3]))
        if not p.done or p.want != want:
            problems.append(f"{d.path}: {p.explain()}")
    for path, st in sorted(services.items()):
        if path not in wanted and st.progress.ready:
            problems.append(f"{path}: not in the spec, {st.progress.ready} task(s) still running")
    v = Verification(not problems, expected, at, tuple(problems), unit="tasks", nodes=len(nodes),
                     unusable=tuple(unusable or ()))
    return ClusterCheck(v, tuple(lines))


# -- the whole-stack rollback ---------------------------------------------------------------------


def restore(engine: SwarmEngine, system: str, env: str, before: Mapping[str, ServiceState], touched: Sequence[str],
            emit: Callable[[str, str, str], None]) -> Verification:
    """Every service in `touched` back to exactly its spec in `before` (a service `before` does
    not have is removed), followed until its tasks run again; verified: each service at its old
    spec with every task running, the new ones gone. Raises GitdeployError when the cluster
    cannot be reached."""
    now = engine.look(system, env).services
    known: dict[str, frozenset[str]] = {}
    back: dict[str, str] = {}

    def give_back(path: str) -> None:
        st = before.get(path)
        if st is None:
            if path in now:
                engine.remove_service(now[path].id)
                emit(path, "rolled-back", f"service {now[path].name} (new in this deploy) removed")
            return
        if path in now:
            known[path] = engine.task_ids(now[path].id)  # failed before: not ours
        back[path] = engine.put_back(st)
        emit(path, "rolled-back", f"service {st.name} given back its previous spec ({st.commit[:12] or '?'})")

    def follow(path: str) -> tuple[str, Progress]:
        sid = back[path]
        p = engine.follow(sid, RESTORE_DEADLINE, known=known.get(path, frozenset()), back=True)
        for _ in range(RESUMES):
            if not resumable(p):
                break
            # A task ended early on the way back, and Swarm pauses (or has paused) it: e.g. while the
            # failed update was still settling. The service has its old spec already; sending it
            # again resumes, and Swarm replaces only the tasks not at it. An old spec that itself
            # fails is still said after RESUMES tries.
            why = p.update_message if p.update in ("paused", "rollback_paused") else f"{p.crashed} task(s) ended"
            emit(path, "rolled-back", f"Swarm paused the way back ({why or p.update}); resumed")
            seen = engine.task_ids(sid)
            engine.resume(sid, before[path].spec)
            p = engine.follow(sid, RESTORE_DEADLINE, known=seen, back=True, stale=p.update_started)
        return path, p

    problems: list[str] = []
    expected = at = 0
    nodes: set[str] = set()
    followed: dict[str, Progress] = {}
    if touched:  # every service at once: the one whose way back is slowest sets the time to restore
        with ThreadPoolExecutor(max_workers=min(16, len(touched)), thread_name_prefix="gd-restore") as pool:
            list(pool.map(give_back, touched))  # raises the first failure (the cluster cannot be reached)
            followed = dict(pool.map(follow, [p for p in touched if p in back]))
    look = engine.look(system, env)
    after = look.services
    for path in touched:
        st = before.get(path)
        if st is None:
            if path in after:
                problems.append(f"{path}: the service this deploy created is still there")
            continue
        p = followed[path]
        expected += p.want
        at += p.ready
        now_st = after.get(path)
        nodes |= set(now_st.nodes if now_st else ())
        emit(path, "verify", f"{p.summary()} (restored)")
        if now_st is None or now_st.spec != st.spec and engine.spec_drift(st.spec, now_st.spec):
            problems.append(f"{path}: not back at its previous spec")
        elif not p.done:
            problems.append(f"{path}: {p.explain()}")
    return Verification(not problems, expected, at, tuple(problems), unit="tasks", nodes=len(nodes),
                        unusable=look.unusable)


def resumable(p: Progress) -> bool:
    """Whether a way back that stopped short is worth sending again: Swarm paused it, or a task of
    the old spec ended early (a failure that is not the old spec's own shows once: resuming twice
    is the bound)."""
    return not p.done and (p.update in ("paused", "rollback_paused") or p.crashed > 0)


# -- halt --------------------------------------------------------------------------------------------


def halt(engine: SwarmEngine, data_dir, env: str, system: str, reason: str = "", who: str | None = None
         ) -> HaltResult:
    """Stop every service of the system at once and mark it halted; the next deploy gives the
    spec's replicas back. A replicated service is scaled to 0 and keeps the count it ran in a
    label; a global one (which has no count) is kept off every node by a placement constraint no
    node meets (HALT_CONSTRAINT), its label keeping how many tasks it ran. A halt cut short (killed) is finished
    by the next: a service already halted is listed with the count its label kept."""
    brake = mark_halted(data_dir, env, system, reason, who)
    states = engine.services(system, env)
    errors: list[str] = []
    scaled: list[tuple[str, int]] = []
    for st in states.values():
        kept = (st.spec.get("Labels") or {}).get(HALTED, "")
        if kept and _halted(st):  # by a halt before this one (cut short, or halted twice)
            scaled.append((st.path, int(kept) if kept.isdigit() else 0))

    def zero(st: ServiceState) -> None:
        try:
            with failpoint.step("halt"):
                if st.replicas is None:
                    _keep_off_every_node(engine, st)
                else:
                    engine.scale(st, 0, {HALTED: str(st.replicas)})
            scaled.append((st.path, st.progress.ready if st.replicas is None else int(st.replicas)))
        except GitdeployError as exc:
            errors.append(exc.message)

    todo = [st for st in states.values() if not _halted(st)]
    if todo:
        with ThreadPoolExecutor(max_workers=min(16, len(todo)), thread_name_prefix="gd-halt") as pool:
            list(pool.map(zero, todo))
    if errors:
        raise GitdeployError(f"halt: {len(errors)} service(s) were not stopped: {'; '.join(errors)}",
                             "run `gitdeploy halt` again, or scale them with docker service scale")
    deadline = time.monotonic() + 30  # until the tasks have stopped (each within its stop grace period)
    while time.monotonic() < deadline and any(c.running for c in engine.analyze(system, env).containers):
        time.sleep(0.3)
    held = holder(data_dir, env)
    deploying = held.describe() if held else ""
    if not deploying:
        try:
            lock = engine.lock_holder(system, env)
        except GitdeployError:
            lock = None
        deploying = lock.describe() if lock else ""
    stopped = sum(st.progress.ready for st in todo)
    return HaltResult(system, stopped, brake, deploying, scaled=tuple(sorted(scaled)))


HALT_CONSTRAINT = f"node.labels.{HALTED}==true"  # no node carries it: a global service runs nowhere


def _halted(st: ServiceState) -> bool:
    """Whether a halt stopped `st` (replicated: 0 replicas; global: kept off every node)."""
    if st.replicas is not None:
        return st.replicas == 0
    constraints = ((st.spec.get("TaskTemplate") or {}).get("Placement") or {}).get("Constraints") or []
    return HALT_CONSTRAINT in constraints


def _keep_off_every_node(engine: SwarmEngine, st: ServiceState) -> None:
    """A global service has no count to scale: a placement constraint no node meets stops its
    tasks; the next deploy sends the spec's own placement back."""
    body = copy.deepcopy(st.spec)
    placement = body.setdefault("TaskTemplate", {}).setdefault("Placement", {})
    placement["Constraints"] = [*(placement.get("Constraints") or []), HALT_CONSTRAINT]
    body["Labels"] = dict(body.get("Labels") or {}) | {HALTED: str(st.progress.ready)}
    services.replace(engine.api, st.id, body)
