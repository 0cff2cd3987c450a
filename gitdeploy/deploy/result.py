"""What executing a plan produced: events as they happened and the final outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gitdeploy.deploy.verify import Verification
from gitdeploy.plan.model import Plan


@dataclass(frozen=True)
class Event:
    time: float
    path: str  # service path ("" for the whole deployment)
    kind: str  # step-start, created, started, gate-ok, gate-failed, retired, step-done, step-failed,
    #            skipped, verify, rollback-start, rollback-done, pruned
    message: str


EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class StepOutcome:
    path: str
    ok: bool
    detail: str  # "2 created, 2 retired" or what failed
    skipped: bool = False  # never started because a dependency failed


@dataclass(frozen=True)
class Result:
    plan: Plan
    ok: bool
    outcomes: tuple[StepOutcome, ...]
    verification: Verification | None  # of the target (None if execution failed before verifying)
    failure: str = ""  # what failed, in one paragraph
    rolled_back: bool = False  # the previous revision was put back
    rollback_verified: bool = False  # ... and checked to run again
    paused: bool = False  # on_failure: pause - the state was left as it is, described in `failure`
    interrupted: bool = False  # cancelled (Ctrl-C, SIGTERM): rolled back and recorded as interrupted
    duration: float = 0.0
    events: tuple[Event, ...] = field(default=())
    removed: tuple[str, ...] = ()  # after a verified deploy: the tainted containers it replaced, removed
    restored: str = ""  # what a rollback put back ("" : the last verified revision)

    @property
    def headline(self) -> str:
        """One line for people: what happened."""
        at = self.plan.commit[:7] if self.plan.commit else "the working tree"
        if self.ok and self.verification:
            return f"deployed {at}: {self.verification.headline(self.plan.commit)} ({self.duration:.1f}s)"
        if self.rolled_back:
            back = self.restored or "last verified revision"
            state = f"{back} restored and verified" if self.rollback_verified else (
                "rollback NOT verified: see the failure; the next deploy, fix or server start recovers")
            what = "INTERRUPTED" if self.interrupted else "FAILED"
            return f"deploy of {at} {what}, rolled back ({state})"
        if self.paused:
            return f"deploy of {at} FAILED and was paused (on_failure: pause): the system is left as described"
        return f"deploy of {at} FAILED"
