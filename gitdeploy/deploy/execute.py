"""Run a plan's steps on the engine - the steps and nothing else.

- A step runs once the steps it waits for have succeeded, on a bounded pool (no polling: the
  scheduler wakes on completions). A failed step skips its dependents.
- A step runs its rollout phase by phase (see gitdeploy.plan.rollout: await, create, start,
  gate, publish, drain, stop); the ops of a phase run at the same time, except ops on the same
  container (a drain, then its stop), which run one after the other in the plan's order. The
  runner decides nothing: batches, order, hold-back and drains are in the plan.
- Every finished op is written to the journal, and a stop or drain also before it is sent (the
  engine finishes it even if this process dies). Any exception inside an op (an engine error, a
  lost engine, a full disk, a bug) fails that step with what happened; it never escapes.
- A cancel (Ctrl-C) starts nothing new: open gates end at once and later steps are skipped.

`transact` puts the runs together: forward, verify, and on any failure the rollback plan,
verified in turn (see gitdeploy.pipeline for where the plans come from).
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from gitdeploy.deploy.health import Verdict, decide
from gitdeploy.deploy.journal import Journal
from gitdeploy.deploy.result import Event, EventSink, StepOutcome
from gitdeploy.errors import GitdeployError
from gitdeploy.live.engine import Cancel, Engine
from gitdeploy.plan.model import Op, Plan, Step
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec

Fault = Callable[[Step, Op], None]  # tests: called before every op; may raise


class StepFailed(Exception):
    pass


def describe_error(exc: BaseException) -> str:
    """What went wrong, in words for the operator (never a traceback)."""
    if isinstance(exc, GitdeployError | StepFailed):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full: {exc.strerror} ({exc.filename or 'a file in the data directory'})"
    if isinstance(exc, OSError) and exc.errno in (errno.EIO, errno.EROFS):
        return f"I/O error: {exc.strerror} ({exc.filename or '?'})"
    return f"unexpected {type(exc).__name__}: {exc}"


@dataclass
class Target:
    """What a run converges to: the services' definitions and how to reach them."""

    system: str
    env: str
    commit: str
    aliases: Mapping[str, tuple[str, ...]]
    desired: Mapping[str, Desired]
    spec: Spec | None = None  # None: a run that creates nothing (a restore of kept containers)


class Runner:
    def __init__(
        self, engine: Engine, target: Target, *, on_event: EventSink | None = None,
        journal: Journal | None = None, cancel: Cancel | None = None, fault: Fault | None = None,
        workers: int = 32, stage: str = "execute", guard: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.t = target
        self.journal = journal
        self.cancel = cancel if cancel is not None else Cancel()
        self.fault = fault
        self.workers = workers
        self.stage = stage
        self.guard = guard  # raises when the run may not go on (the engine lock was lost)
        self._sink = on_event
        self._events: list[Event] = []
        self._elock = threading.Lock()
        self._containers: dict[tuple[str, int], str] = {}  # (path, replica) -> container this run brought up
        self._since: dict[str, float] = {}  # container -> when it was started
        self._clock = threading.Lock()
        self.created: list[str] = []  # containers this run created (a failed attempt's are removed)

    @property
    def events(self) -> list[Event]:
        with self._elock:
            return list(self._events)

    def emit(self, path: str, kind: str, message: str) -> None:
        ev = Event(time.time(), path, kind, message)
        with self._elock:
            self._events.append(ev)
        if self._sink:
            try:
                self._sink(ev)
            except Exception:  # noqa: BLE001 - a broken progress display never stops a deploy
                pass

    # -- the steps ---------------------------------------------------------------------------

    def run(self, plan: Plan) -> list[StepOutcome]:
        """Run every step; the outcome of each (skipped ones included), in plan order."""
        steps = {s.path: s for s in plan.steps}
        waiting = {s.path: {p for p in s.after if p in steps} for s in plan.steps}
        outcomes: dict[str, StepOutcome] = {}
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gd-step") as steps_pool, \
                ThreadPoolExecutor(max_workers=max(4, self.workers * 2), thread_name_prefix="gd-op") as ops:

            def launch_ready() -> None:
                for path in [p for p, w in waiting.items() if not w]:
                    del waiting[path]
                    if self.cancel:
                        outcomes[path] = StepOutcome(path, False, "not started: interrupted", True)
                        continue
                    running[steps_pool.submit(self._step, steps[path], ops)] = path

            launch_ready()
            while running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    path = running.pop(fut)
                    outcomes[path] = fut.result()
                    if outcomes[path].ok:
                        for w in waiting.values():
                            w.discard(path)
                    else:
                        for skipped in _dependents(path, waiting):
                            del waiting[skipped]
                            outcomes[skipped] = StepOutcome(skipped, False, f"not started: {path} failed", True)
                            self.emit(skipped, "skipped", f"not started: {path} failed")
                launch_ready()
        return [outcomes[s.path] for s in plan.steps if s.path in outcomes]

    def _step(self, step: Step, ops: ThreadPoolExecutor) -> StepOutcome:
        c = step.change
        self.emit(step.path, "step-start", f"{c.action}: {c.reason}")
        try:
            for phase in step.rollout:
                if self.cancel:
                    raise StepFailed("interrupted")
                if self.guard:
                    self.guard()
                futures = [ops.submit(self._ops, step, chain) for chain in _chains(phase)]
                errors = [f.exception() for f in futures]
                failed = [e for e in errors if e is not None]
                if failed:
                    raise StepFailed("; ".join(dict.fromkeys(describe_error(e) for e in failed)))
        except Exception as exc:  # noqa: BLE001 - every failure is the step's outcome, never a crash
            detail = describe_error(exc)
            self.emit(step.path, "step-failed", detail)
            return StepOutcome(step.path, False, detail)
        detail = _summary(step)
        self.emit(step.path, "step-done", detail)
        return StepOutcome(step.path, True, detail)

    # -- one op --------------------------------------------------------------------------------

    def _ops(self, step: Step, chain: Sequence[Op]) -> None:
        """Ops on one container, in order: the first failure ends the chain."""
        for op in chain:
            if op is not chain[0] and self.cancel:
                raise StepFailed("interrupted")
            self._op(step, op)

    def _op(self, step: Step, op: Op) -> None:
        if self.fault:
            self.fault(step, op)
        path, t = step.path, self.t
        aliases = t.aliases.get(path, (path.replace("/", "-"),))
        cid = op.container or self._containers.get((path, op.replica), "")
        if op.kind == "create":
            d = t.desired[path]
            assert t.spec is not None, "a run without a spec creates nothing"
            cid = self.engine.create(d, t.spec, t.env, op.replica, t.commit, aliases, publish=not op.hold_back)
            with self._clock:
                self._containers[(path, op.replica)] = cid
                self.created.append(cid)
            self.emit(path, "created", f"replica {op.replica} created ({cid[:12]})")
        elif op.kind == "start":
            self._since[cid] = time.time()
            self.engine.start(cid, t.system, t.env, aliases, fresh=not op.container)
            with self._clock:
                self._containers[(path, op.replica)] = cid
            self.emit(path, "started", f"replica {op.replica} started ({cid[:12]})")
        elif op.kind in ("gate", "await"):
            verdict = self._gate(cid, op)
            if not verdict.ok:
                if op.kind == "await":
                    raise StepFailed(f"dependency {op.service} is not healthy: {verdict.detail}")
                logs = self.engine.logs_tail(cid) if verdict.detail != "interrupted" else ""
                self.emit(path, "gate-failed", f"replica {op.replica}: {verdict.detail}")
                tail = f"; last output: {logs.splitlines()[-1][:200]}" if logs else ""
                raise StepFailed(f"replica {op.replica} failed its health gate: {verdict.detail}{tail}")
            if op.kind == "gate":
                self.emit(path, "gate-ok", f"replica {op.replica} {verdict.detail}")
        elif op.kind == "publish":
            self.engine.publish(cid, t.system, t.env, aliases)
        elif op.kind == "drain":
            self._sending(step, op, cid)
            self.engine.drain(cid, t.system, t.env)
            # Out of DNS; it keeps serving until its clients are done (at most `rollout.drain`).
            self.emit(path, "drained", f"{cid[:12]} drained: {self.engine.settle(cid, op.seconds, self.cancel)}")
        elif op.kind == "stop":
            self._sending(step, op, cid)
            self.engine.stop(cid, op.seconds)
            if op.rejoin:  # kept for rollback: ready to start straight into its aliases again
                self.engine.rejoin(cid, t.system, t.env, aliases)
            self.emit(path, "retired", f"{cid[:12]} stopped (kept for rollback)")
        else:  # pragma: no cover - the plan model has no other kinds
            raise StepFailed(f"unknown op {op.kind}")
        if self.journal:
            self.journal.note(stage=self.stage, step=path, op=op.kind, replica=op.replica,
                              cid=cid if op.kind == "create" else cid[:12])

    def _sending(self, step: Step, op: Op, cid: str) -> None:
        """Journal a request that takes a running container away before it is sent: the engine
        carries it out even if this process dies (a stop waits out its grace period), so whoever
        recovers must do it again, and so wait for it, before looking (pipeline.recovery.fence)."""
        if self.journal:
            self.journal.note(stage=self.stage, step=step.path, sending=op.kind, replica=op.replica, cid=cid[:12],
                              seconds=op.seconds)

    def _gate(self, cid: str, op: Op) -> Verdict:
        gate = op.gate
        assert gate is not None
        since = self._since.get(cid, time.time()) if op.kind == "gate" else time.time()
        if gate.window <= 0 and not gate.healthcheck:
            return decide(gate, [], since)
        if op.kind == "await":
            verdict = decide(gate, [], since, self.engine.final_state(cid))
            if verdict.ok:
                return verdict
            self.emit(op.service, "waiting", f"waiting for {op.service} ({cid[:12]}) to be healthy")
        # The window runs from when the start returned (now), not from `since`: a slow start must
        # not eat into `monitor`. A death at the very end is still seen by the final inspection.
        until = max(since, time.time()) + gate.window
        events = []
        for ev in self.engine.container_events(cid, since, until, self.cancel):
            events.append(ev)
            verdict = decide(gate, events, since)
            if verdict.done:
                return verdict
        if self.cancel:
            return Verdict(True, False, "interrupted")
        return decide(gate, events, since, self.engine.final_state(cid))


def _chains(phase: Sequence[Op]) -> list[list[Op]]:
    """The ops of a phase as chains that run at the same time: ops on the same existing container
    (a drain, then its stop) run one after the other, in the plan's order."""
    chains: list[list[Op]] = []
    by_container: dict[str, list[Op]] = {}
    for op in phase:
        if op.container and op.container in by_container:
            by_container[op.container].append(op)
            continue
        chains.append([op])
        if op.container:
            by_container[op.container] = chains[-1]
    return chains


def _dependents(path: str, waiting: dict[str, set[str]]) -> list[str]:
    out: list[str] = []
    frontier = [path]
    while frontier:
        p = frontier.pop()
        for q, w in waiting.items():
            if p in w and q not in out:
                out.append(q)
                frontier.append(q)
    return out


def _summary(step: Step) -> str:
    ups = sum(1 for op in step.ops if op.kind == "start")
    stops = sum(1 for op in step.ops if op.kind == "stop")
    parts = [f"{ups} up"] if ups else []
    if stops:
        parts.append(f"{stops} retired")
    return ", ".join(parts) or "nothing to do"


def failures(outcomes: Sequence[StepOutcome]) -> str:
    """What failed, in one line ('' when nothing did)."""
    return "; ".join(f"{o.path}: {o.detail}" for o in outcomes if not o.ok and not o.skipped)
