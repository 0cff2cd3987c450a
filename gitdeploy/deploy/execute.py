"""execute(Plan) -> Result: run the steps against the engine as one transaction.

- Steps run as soon as the steps they wait for have succeeded, on a bounded pool (no polling:
  the scheduler wakes on completions). A failed step skips its dependents.
- Replacements are health-gated, start-first (new up and healthy, then published on the
  service's aliases, then the old one drained and stopped) or stop-first, `parallelism`
  replicas at a time.
- Old containers are stopped, never removed, until the target is verified. If anything fails,
  every action is undone in reverse (new containers removed, old ones started again) and the
  previous revision is verified - unless a failed service says `on_failure: pause`.
- After a verified deploy, stopped revisions beyond `keep` are pruned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from gitdeploy.deploy.result import Event, EventSink, Result, StepOutcome
from gitdeploy.deploy.verify import Verification, verify
from gitdeploy.errors import GitdeployError
from gitdeploy.live.engine import Engine, aliases_for
from gitdeploy.live.model import Live
from gitdeploy.plan.model import Plan, Step
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec


class StepFailed(Exception):
    pass


@dataclass
class Journal:
    """Every engine action that changed the system, to undo in reverse on failure."""

    actions: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, container id, path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, cid: str, path: str) -> None:
        with self.lock:
            self.actions.append((kind, cid, path))


class Executor:
    def __init__(
        self, engine: Engine, spec: Spec, desired: Sequence[Desired], env: str,
        on_event: EventSink | None = None, workers: int = 32,
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.desired = {d.path: d for d in desired}
        self.desired_list = list(desired)
        self.env = env
        self.commit = spec.commit or ""
        self.aliases = aliases_for(spec)
        self.workers = workers
        self._events: list[Event] = []
        self._sink = on_event
        self._elock = threading.Lock()
        self._stepped: set[str] = set()  # services the running plan changes
        self._ops = ThreadPoolExecutor(max_workers=max(4, workers * 2), thread_name_prefix="gd-op")

    def emit(self, path: str, kind: str, message: str) -> None:
        ev = Event(time.time(), path, kind, message)
        with self._elock:
            self._events.append(ev)
        if self._sink:
            self._sink(ev)

    # -- the transaction -------------------------------------------------------------------

    def run(self, plan: Plan, before: Live) -> Result:
        started = time.time()
        journal = Journal()
        self._stepped = {s.path for s in plan.steps}
        try:
            outcomes = self._run_steps(plan, journal)
            failed = [o for o in outcomes if not o.ok and not o.skipped]
            verification: Verification | None = None
            failure = ""
            if failed:
                failure = "; ".join(f"{o.path}: {o.detail}" for o in failed)
            else:
                verification = verify(self.desired_list, self.engine.analyze(self.spec.system, self.env))
                self.emit("", "verify", verification.headline(plan.commit))
                if not verification.ok:
                    failure = "verification failed: " + "; ".join(verification.problems)
        finally:
            self._ops.shutdown(wait=True)
        if not failure:
            self._tidy(plan)
            return self._result(plan, True, outcomes, verification, "", started)
        pause = [o.path for o in outcomes if not o.ok and not o.skipped and self._pauses(o.path)]
        if pause:
            self.emit("", "paused", f"on_failure: pause ({', '.join(pause)}): left as it is")
            return self._result(plan, False, outcomes, verification, failure, started, paused=True)
        self.emit("", "rollback-start", f"rolling back: {failure}")
        restored = self._undo(journal, before)
        self.emit("", "rollback-done", "previous revision running again" if restored else "rollback incomplete")
        return self._result(
            plan, False, outcomes, verification, failure, started, rolled_back=True, rollback_verified=restored
        )

    def _result(self, plan, ok, outcomes, verification, failure, started, **kw) -> Result:
        with self._elock:
            events = tuple(self._events)
        return Result(plan=plan, ok=ok, outcomes=tuple(outcomes), verification=verification, failure=failure,
                      duration=time.time() - started, events=events, **kw)

    def _pauses(self, path: str) -> bool:
        d = self.desired.get(path)
        return bool(d and d.service.rollout.on_failure == "pause")

    def _run_steps(self, plan: Plan, journal: Journal) -> list[StepOutcome]:
        steps = {s.path: s for s in plan.steps}
        waiting = {s.path: set(p for p in s.after if p in steps) for s in plan.steps}
        outcomes: dict[str, StepOutcome] = {}
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gd-step") as pool:
            def launch_ready() -> None:
                for path in [p for p, w in waiting.items() if not w]:
                    del waiting[path]
                    running[pool.submit(self._step, steps[path], journal)] = path

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
                        for skipped in self._dependents(path, waiting):
                            del waiting[skipped]
                            outcomes[skipped] = StepOutcome(skipped, False, f"not started: {path} failed", True)
                            self.emit(skipped, "skipped", f"not started: {path} failed")
                launch_ready()
        return [outcomes[s.path] for s in plan.steps if s.path in outcomes]

    def _dependents(self, path: str, waiting: dict[str, set[str]]) -> list[str]:
        out: list[str] = []
        frontier = [path]
        while frontier:
            p = frontier.pop()
            for q, w in waiting.items():
                if p in w and q not in out:
                    out.append(q)
                    frontier.append(q)
        return out

    # -- one step ----------------------------------------------------------------------------

    def _step(self, step: Step, journal: Journal) -> StepOutcome:
        c = step.change
        self.emit(step.path, "step-start", f"{c.action}: {c.reason}")
        try:
            if c.action == "remove":
                self._retire_all(step, list(c.retire), journal)
                detail = f"{len(c.retire)} stopped"
            else:
                self._await_healthy_dependencies(step)
                detail = self._converge(step, journal)
        except (StepFailed, GitdeployError) as exc:
            self.emit(step.path, "step-failed", str(exc))
            return StepOutcome(step.path, False, str(exc))
        self.emit(step.path, "step-done", detail)
        return StepOutcome(step.path, True, detail)

    def _await_healthy_dependencies(self, step: Step) -> None:
        """`condition: service_healthy` on a dependency this plan does not touch: wait until its
        replicas are healthy (a dependency that is part of the plan passed its health gate)."""
        pending = [p for p in step.wait_healthy if p not in self._stepped and p in self.desired]
        if not pending:
            return
        live = self.engine.analyze(self.spec.system, self.env)
        for path in pending:
            dep = self.desired[path]
            for c in live.of(path):
                if c.running and c.hash == dep.hash and c.health != "healthy":
                    self.emit(step.path, "waiting", f"waiting for {path} ({c.name}) to be healthy")
                    gate = self.engine.gate(c.id, True, 0, dep.service.rollout.deadline, time.time())
                    if not gate.ok:
                        raise StepFailed(f"dependency {path} is not healthy: {gate.detail}")

    def _converge(self, step: Step, journal: Journal) -> str:
        c = step.change
        d = self.desired[step.path]
        # New replicas to bring up: stopped ones at the target first (fast), then created ones.
        todo: list[tuple[str | None, int]] = [(cid, r) for cid, r in c.start] + [(None, r) for r in c.create]
        old = list(c.retire)
        batch = max(1, step.parallelism) if c.action == "replace" else max(1, len(todo))
        stop_first = c.action == "replace" and step.order == "stop-first"
        # Start-first: new containers take traffic only once healthy, then the old ones leave.
        hold_back = c.action == "replace" and not stop_first
        brought = 0
        for i in range(0, len(todo), batch):
            chunk = todo[i : i + batch]
            if stop_first:
                self._retire_all(step, old[: len(chunk)], journal)
                old = old[len(chunk) :]
            list(self._ops.map(lambda item: self._bring_up(step, d, item, journal, hold_back), chunk))
            brought += len(chunk)
            if not stop_first and c.action == "replace":
                self._retire_all(step, old[: len(chunk)], journal, drain=True)
                old = old[len(chunk) :]
        self._retire_all(step, old, journal)  # surplus (scale down) or more old than new
        parts = [f"{brought} up"] if brought else []
        if c.retire:
            parts.append(f"{len(c.retire)} retired")
        return ", ".join(parts) or "nothing to do"

    def _bring_up(
        self, step: Step, d: Desired, item: tuple[str | None, int], journal: Journal, hold_back: bool = False,
    ) -> str:
        """Start one replica and pass its gate. `hold_back`: a new container joins the service's
        aliases only after its gate (no request reaches a replica that is still starting)."""
        cid, replica = item
        svc = d.service
        aliases = self.aliases.get(svc.path, (svc.path.replace("/", "-"),))
        fresh = cid is None
        hold_back = hold_back and fresh
        if cid is None:
            cid = self.engine.create(d, self.spec, self.env, replica, self.commit, aliases, publish=not hold_back)
            journal.add("created", cid, svc.path)
            self.emit(svc.path, "created", f"replica {replica} created ({cid[:12]})")
        else:
            journal.add("started", cid, svc.path)
        since = time.time()
        self.engine.start(cid, self.spec.system, self.env, aliases, fresh=fresh)
        self.emit(svc.path, "started", f"replica {replica} started ({cid[:12]})")
        hc = svc.healthcheck is not None and svc.healthcheck.test[:1] != ("NONE",)
        gate = self.engine.gate(cid, hc, svc.rollout.monitor, svc.rollout.deadline, since)
        if not gate.ok:
            logs = self.engine.logs_tail(cid)
            self.emit(svc.path, "gate-failed", f"replica {replica}: {gate.detail}")
            tail = f"; last output: {logs.splitlines()[-1][:200]}" if logs else ""
            raise StepFailed(f"replica {replica} failed its health gate: {gate.detail}{tail}")
        if hold_back:
            self.engine.publish(cid, self.spec.system, self.env, aliases)
        self.emit(svc.path, "gate-ok", f"replica {replica} {gate.detail}")
        return cid

    def _retire_all(self, step: Step, cids: list[str], journal: Journal, drain: bool = False) -> None:
        """Stop containers (kept for rollback). `drain`: first out of DNS, then a moment to finish."""
        svc = self.desired[step.path].service if step.path in self.desired else None
        grace = svc.stop_grace_period if svc else 10.0
        drain_for = svc.rollout.drain if svc else 0.0

        def retire(cid: str) -> None:
            if drain:
                self.engine.drain(cid, self.spec.system, self.env)
                time.sleep(drain_for)  # what resolved it a moment ago still gets an answer
            self.engine.stop(cid, grace)
            if drain:  # kept for rollback: ready to start straight into its aliases again
                self.engine.rejoin(cid, self.spec.system, self.env, self._aliases_of(step.path))
            journal.add("retired", cid, step.path)
            self.emit(step.path, "retired", f"{cid[:12]} stopped (kept for rollback)")

        list(self._ops.map(retire, cids))

    # -- undo and tidy -------------------------------------------------------------------------

    def _undo(self, journal: Journal, before: Live) -> bool:
        """Undo every journaled action in reverse; True when the previous state runs again."""
        errors = []
        for kind, cid, path in reversed(journal.actions):
            try:
                if kind == "created":
                    self.engine.remove(cid)
                elif kind == "started":
                    self.engine.stop(cid, 5)
                elif kind == "retired":
                    self.engine.start(cid, self.spec.system, self.env, self._aliases_of(path))
            except GitdeployError as exc:
                errors.append(str(exc))
        for msg in errors:
            self.emit("", "rollback-error", msg)
        after = self.engine.analyze(self.spec.system, self.env)
        was_running = {c.id for c in before.containers if c.running}
        now_running = {c.id for c in after.containers if c.running}
        missing = was_running - now_running
        extra = now_running - was_running
        for cid in missing:
            self.emit("", "rollback-error", f"{cid[:12]} did not come back")
        for cid in extra:
            self.emit("", "rollback-error", f"{cid[:12]} of the failed revision still runs")
        return not errors and not missing and not extra

    def _aliases_of(self, path: str) -> tuple[str, ...]:
        return self.aliases.get(path, (path.replace("/", "-"),))

    def _tidy(self, plan: Plan) -> None:
        """After a verified deploy: remove surplus stopped containers and revisions beyond keep."""
        live = self.engine.analyze(self.spec.system, self.env)
        doomed = [cid for ch in plan.changes for cid in ch.discard]
        doomed += prunable(live, {d.path: d.hash for d in self.desired_list}, self.spec.keep)
        for cid in doomed:
            self.engine.remove(cid)
        if doomed:
            self.emit("", "pruned", f"{len(doomed)} old container(s) removed (keep: {self.spec.keep})")


def prunable(live: Live, targets: dict[str, str], keep: int) -> list[str]:
    """Stopped containers of revisions older than the newest `keep` per service (never the target)."""
    out: list[str] = []
    for path, containers in live.by_service.items():
        stopped = [c for c in containers if not c.running and c.hash != targets.get(path)]
        newest_first = sorted(stopped, key=lambda c: -c.created)
        kept_hashes: list[str] = []
        for c in newest_first:
            if c.hash in kept_hashes:
                continue
            if len(kept_hashes) < keep:
                kept_hashes.append(c.hash)
        out += [c.id for c in stopped if c.hash not in kept_hashes]
    return out
