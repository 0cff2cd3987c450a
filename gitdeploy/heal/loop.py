"""The self-healing loop of one environment: Docker events and an interval drive `check`;
in heal mode drift is repaired through `fix` (so through pipeline.deploy).

Flapping is contained per service: repairs back off exponentially (`Policy.backoff`), and
after `Policy.max_attempts` failed repairs within `Policy.window` the watcher stops repairing
that service and reports it loudly until the deployed commit changes or the service stays clean
for a whole window. A repair that worked never counts towards giving up. Drift and that state
survive a restart (state.py). A freeze or another deploy's lock pauses repairs (by the error's
type: `Frozen`, `Locked`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gitdeploy.errors import Frozen, GitdeployError, Locked
from gitdeploy.heal import guards
from gitdeploy.heal.check import CheckReport, FixOutcome, Target, TargetMoved, check, fix, load_target
from gitdeploy.heal.model import Drift
from gitdeploy.heal.state import HealState, StateStore, state_path
from gitdeploy.live.interface import EventStream
from gitdeploy.pipeline import Context

log = logging.getLogger("gitdeploy.heal")

# Engine events that can mean drift; anything else is caught by the interval.
EVENTS = ("die", "oom", "destroy", "kill", "health_status", "pause", "update")


@dataclass(frozen=True)
class Policy:
    backoff: float = 2.0  # seconds before the 2nd repair of a service in a window; doubles each time
    backoff_max: float = 300.0
    max_attempts: int = 5  # failed repairs of one service within `window` before giving up on it
    window: float = 600.0
    debounce: float = 0.05  # gather a burst of events into one check
    settle: float = 1.0  # check again this long after the last event
    resolve_ttl: float = 30.0  # re-resolve the deployed spec (images, secrets) at least this often


@dataclass(frozen=True)
class WatchEvent:
    time: float
    kind: str  # check-failed, drift, clean, repair, repaired, repair-failed, backoff, gave-up, frozen, skipped
    service: str
    message: str
    loud: bool = False  # needs a person (gave up, cannot repair)


@dataclass(frozen=True)
class DriftNotice:
    """What a notifier is told whenever the drift or the given-up services change."""

    env: str
    system: str
    commit: str
    drifts: tuple[Drift, ...]
    given_up: tuple[str, ...]
    first_seen: dict[str, float]

    @property
    def resolved(self) -> bool:
        return not self.drifts and not self.given_up


Notifier = Callable[[DriftNotice], None]


class Watcher:
    """Watches one environment. `start()` runs it in the background (the server, one per
    environment); `run()` in the foreground (the CLI); `run_once()` is one reconcile step.
    """

    def __init__(
        self, ctx: Context, *, mode: str = "report", interval: float = 30.0, policy: Policy | None = None,
        notify: Notifier | None = None, on_event: Callable[[WatchEvent], None] | None = None,
        clock: Callable[[], float] = time.time, store: StateStore | None = None,
    ) -> None:
        if mode not in ("report", "heal"):
            raise ValueError(f"mode must be report or heal, not {mode!r}")
        self.ctx = ctx
        self.mode = mode
        self.interval = interval
        self.policy = policy or Policy()
        self.notify = notify
        self.on_event = on_event
        self.clock = clock
        self.store = store or StateStore(state_path(ctx.data_dir, ctx.env))
        self.state: HealState = self.store.load()
        self.last_report: CheckReport | None = None
        self._target: Target | None = None
        self._wake = threading.Event()
        self.listening = threading.Event()  # set while the engine's event stream is open
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stream: EventStream | None = None
        self._step = threading.Lock()
        self._said_frozen = ""
        self._said_unsaved = ""
        if self.store.warning:
            self._emit("state-reset", "", self.store.warning, loud=True)

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the engine's events and reconcile in background threads (see stop)."""
        self._stop.clear()
        for name, fn in (("events", self._listen), ("reconcile", self._reconcile)):
            t = threading.Thread(target=fn, name=f"gd-heal-{self.ctx.env}-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def run(self) -> None:
        """Run in the foreground until stop() (or KeyboardInterrupt)."""
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()

    def poke(self) -> None:
        """Check now (e.g. after a deploy or from a webhook)."""
        self._wake.set()

    def _reconcile(self) -> None:
        due, settle = 0.0, float("inf")
        while not self._stop.is_set():
            now = time.monotonic()
            timeout = 0.0 if not due else max(0.0, min(due - now, settle - now, self._until_backoff_ends()))
            woken = self._wake.wait(timeout)
            self._wake.clear()  # events arriving from here on wake the next round
            if self._stop.is_set():
                break
            if woken:
                time.sleep(self.policy.debounce)
                # the engine reports some events before it has settled: look once more shortly after
                settle = time.monotonic() + self.policy.settle
            elif settle <= time.monotonic():
                settle = float("inf")
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bug in one round; it is logged
                log.exception("heal round failed")
                self._emit("check-failed", "", f"internal error: {type(exc).__name__}: {exc}", loud=True)
            due = time.monotonic() + self.interval

    def _until_backoff_ends(self) -> float:
        now = self.clock()
        waits = [s.next_attempt - now for s in self.state.services.values()
                 if s.next_attempt > now and not s.given_up]
        return min(waits, default=float("inf"))

    def _listen(self) -> None:
        """Wake the reconcile loop on the engine's events for this system's containers."""
        while not self._stop.is_set():
            system = self.state.system or (self._target.spec.system if self._target else "")
            if not system:
                self._stop.wait(0.2)
                continue
            try:
                self._stream = self.ctx.engine().events(system, self.ctx.env, EVENTS)
                self.listening.set()
                self._wake.set()  # whatever happened before the stream opened is seen by this check
                for ev in self._stream:
                    if self._stop.is_set():
                        break
                    log.debug("event %s %s", ev.action, ev.container_id[:12])
                    self._wake.set()
                    if self.state.system and self.state.system != system:
                        break  # the deployed spec renamed the system: filter on the new name
            except Exception as exc:  # noqa: BLE001 - engine restarts, broken streams: reconnect
                if not self._stop.is_set():
                    log.warning("event stream broke (%s); reconnecting", exc)
                    self._wake.set()  # something may have happened meanwhile
                    self._stop.wait(1.0)
            finally:
                self.listening.clear()
                stream, self._stream = self._stream, None
                if stream is not None:
                    stream.close()

    # -- one round ----------------------------------------------------------------------------

    def run_once(self) -> CheckReport | None:
        """Check, remember, notify and (heal mode) repair once. Returns the latest report."""
        with self._step:
            try:
                target = self._load_target()
                report = check(self.ctx, target)
            except GitdeployError as exc:
                self.state.error = exc.message
                self._save()
                self._emit("check-failed", "", exc.message, loud=True)
                return None
            log.debug("check: %d drift, deploying=%r halted=%r", len(report.drifts), report.deploying, report.halted)
            if report.deploying:
                self._emit("skipped", "", f"a deploy is in progress ({report.deploying}); checking afterwards")
                return report
            self._remember(report)
            if self.mode == "heal" and not report.halted:
                report = self._heal(report, target)
            self._maybe_notify()
            self._save()
            return report

    def _load_target(self) -> Target:
        commit = guards.deployed_commit(self.ctx)
        t = self._target
        if t is None or t.commit != commit or time.time() - t.resolved_at > self.policy.resolve_ttl:
            self._target = t = load_target(self.ctx, commit)
        return t

    def _remember(self, report: CheckReport) -> None:
        st, now = self.state, self.clock()
        if st.commit and st.commit != report.commit:  # a new deploy: every service gets a fresh start
            st.services.clear()
        before = {d.key for d in st.drift}
        st.env, st.system, st.commit, st.checked_at, st.error = (
            report.env, report.system, report.commit, report.checked_at, "")
        st.drift = list(report.drifts)
        keys = {"|".join(d.key) for d in report.drifts}
        st.first_seen = {k: st.first_seen.get(k, now) for k in keys}
        drifted = report.services
        for path, s in list(st.services.items()):
            recent = [t for t in s.attempts if t > now - self.policy.window]
            if path not in drifted and not recent:
                if s.given_up:
                    self._emit("recovered", path, f"{path} is clean again: repairs resume if it drifts")
                del st.services[path]
        for d in report.drifts:
            if d.key not in before:
                self._emit("drift", d.service, f"{d.kind}: {d.explanation}", loud=not d.repairable)
        if not report.drifts and before:
            self._emit("clean", "", "no drift")
        self.last_report = report

    def _heal(self, report: CheckReport, target: Target) -> CheckReport:
        st, now = self.state, self.clock()
        if report.frozen:
            if self._said_frozen != report.frozen:
                self._emit("frozen", "", f"repairs paused: the environment is frozen ({report.frozen})", loud=True)
                self._said_frozen = report.frozen
            return report
        self._said_frozen = ""
        todo = []
        for path in sorted({d.service for d in report.repairs()}):
            s = st.service(path)
            if s.given_up or s.next_attempt > now:
                continue
            s.attempts = [t for t in s.attempts if t > now - self.policy.window]
            s.failures = [t for t in s.failures if t > now - self.policy.window]
            if len(s.failures) >= self.policy.max_attempts:
                self._give_up(path, s.last_error or "its repairs keep failing")
                continue
            todo.append(path)
        if not todo:
            return report
        kinds = sorted({d.kind for d in report.drifts if d.service in todo})
        self._emit("repair", ",".join(todo), f"repairing {', '.join(todo)} ({', '.join(kinds)})")
        started = time.monotonic()
        for path in todo:
            s = st.service(path)
            s.attempts.append(now)
            k = len(s.attempts)
            s.next_attempt = now + min(self.policy.backoff * 2 ** (k - 1), self.policy.backoff_max)
        error = ""
        try:
            out = fix(self.ctx, only=set(todo), before=report, target=target, who="gitdeploy-heal")
        except GitdeployError as exc:
            if isinstance(exc, TargetMoved | Locked | Frozen):
                for path in todo:  # not the service's fault: try again at the next round
                    st.service(path).attempts.pop()
                    st.service(path).next_attempt = 0.0
                self._emit("skipped", "", exc.message)
                if isinstance(exc, TargetMoved):  # check the new revision now
                    self._target = None
                    self._wake.set()
                return report
            out = None
            error = exc.message
        if out is not None and out.skipped:
            return out.after
        after = out.after if out else report
        if out is not None:
            self._remember(after)
        culprits = _culprits(out, todo)
        for path in todo:
            s = st.service(path)
            if out is not None and out.result is not None and out.result.ok and path not in after.services:
                s.repaired += 1
                s.last_error = ""
                self._emit("repaired", path, f"{path} repaired in {time.monotonic() - started:.1f}s")
            elif path in culprits or not culprits:
                s.last_error = culprits.get(path) or error or "still drifting after the repair"
                s.failures.append(now)
                self._emit("repair-failed", path, f"{path}: {s.last_error}")
                if len(s.failures) >= self.policy.max_attempts:
                    self._give_up(path, s.last_error)
                else:
                    self._emit("backoff", path, f"{path}: next repair in {s.next_attempt - now:.1f}s at the earliest")
            else:  # failed with another service's failure: not its fault, retry without it
                s.attempts.pop()
                s.next_attempt = 0.0
                self._wake.set()
        return after

    def _save(self) -> None:
        """Save the state; a full or failing disk is said once (loudly), and the round goes on."""
        try:
            self.store.save(self.state)
        except GitdeployError as exc:
            if self._said_unsaved != exc.message:
                self._emit("state-not-saved", "", f"{exc.message}: the heal state is kept in memory only", loud=True)
                self._said_unsaved = exc.message
            return
        self._said_unsaved = ""

    def _give_up(self, path: str, why: str) -> None:
        s = self.state.service(path)
        if s.given_up:
            return
        s.given_up = self.clock()
        self._emit("gave-up", path,
                   f"GAVE UP repairing {path} after {len(s.failures)} failed repairs in {self.policy.window:g}s: {why}. "
                   "It stays reported; a new deploy, `gitdeploy fix` or a clean window resumes repairs.", loud=True)

    def _maybe_notify(self) -> None:
        st = self.state
        given_up = tuple(st.given_up())
        sig = repr((sorted(d.key for d in st.drift), given_up))
        if sig == st.notified:
            return
        if self.notify is not None:
            notice = DriftNotice(st.env, st.system, st.commit, tuple(st.drift), given_up, dict(st.first_seen))
            try:
                self.notify(notice)
            except Exception as exc:  # noqa: BLE001 - a notifier failure must not stop healing; retried next round
                self._emit("notify-failed", "", f"{type(exc).__name__}: {exc}")
                return
        st.notified = sig

    def _emit(self, kind: str, service: str, message: str, loud: bool = False) -> None:
        ev = WatchEvent(self.clock(), kind, service, message, loud)
        log.log(logging.ERROR if loud else logging.INFO, "[%s] %s", self.ctx.env, message)
        if self.on_event:
            self.on_event(ev)

    # -- for the server and `status` ----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Drift items by kind from the latest check (every kind, zeros included)."""
        return self.state.counts()

    def given_up(self) -> list[str]:
        return self.state.given_up()


def _culprits(out: FixOutcome | None, todo: Sequence[str]) -> dict[str, str]:
    """The services whose own step failed in the repair (not skipped), with what failed."""
    if out is None or out.result is None or out.result.ok:
        return {}
    return {o.path: o.detail for o in out.result.outcomes if not o.ok and not o.skipped and o.path in todo}
