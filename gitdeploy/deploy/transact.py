"""A deploy as a transaction, whatever the engine: run the plan's steps, verify the target, and on
any failure (or a cancel) roll back and say what was restored.

The engine's part comes in as `Moves` (how to verify, prune, roll back and tidy after a rollback);
one engine's moves are in gitdeploy.pipeline.transaction, a cluster's in gitdeploy.pipeline.swarm.
Never raises for what happens on the engine: every failure is in the Result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gitdeploy.deploy.execute import Runner, describe_error, failures
from gitdeploy.deploy.journal import Journal
from gitdeploy.deploy.result import Result, StepOutcome
from gitdeploy.deploy.verify import Verification
from gitdeploy.live.engine import Cancel
from gitdeploy.plan.model import Plan


@dataclass(frozen=True)
class Moves:
    """What a transaction asks of its engine."""

    runner: Runner  # runs the plan's steps (and collects the events)
    verify: Callable[[], Verification]  # the target, after the steps
    prune: Callable[[], None]  # after a verified deploy: tidy what the plan says (failures only said)
    rollback: Callable[[Sequence[StepOutcome]], tuple[bool, str]]  # (verified, what was done); never raises
    after_rollback: Callable[[bool], None] = lambda restored: None  # e.g. remove what the failed attempt made
    pauses: Callable[[str], bool] = lambda path: False  # a failed step whose service says on_failure: pause
    restored: str = ""  # what a verified rollback puts back ("": the last verified revision)
    told: Callable[[], str] = lambda: ""  # after a verified rollback, added to the failure (e.g. which services)
    rolling_back: str = "rolling back"


def transact(plan: Plan, moves: Moves, cancel: Cancel, journal: Journal | None) -> Result:
    """Run `plan` as a transaction (see the module docstring)."""
    runner = moves.runner
    started = time.time()
    verification: Verification | None = None
    try:
        if journal:
            journal.note(phase="execute")
        outcomes = runner.run(plan)
        failure = failures(outcomes) or ("interrupted" if cancel else "")
    except Exception as exc:  # noqa: BLE001 - e.g. the journal cannot be written: undo what was done
        outcomes, failure = [], describe_error(exc)
    if not failure:
        try:
            verification = moves.verify()
            runner.emit("", "verify", verification.headline(plan.commit))
            if not verification.ok:
                failure = "verification failed: " + "; ".join(verification.problems)
            elif journal:
                journal.note(phase="verified")
        except Exception as exc:  # noqa: BLE001 - a lost engine: what ran cannot be known, roll back
            failure = f"verification could not run: {describe_error(exc)}"

    def result(ok: bool, **kw) -> Result:
        return Result(plan=plan, ok=ok, outcomes=tuple(outcomes), verification=verification, failure=failure,
                      duration=time.time() - started, events=tuple(runner.events), **kw)

    if not failure:
        moves.prune()
        return result(True)
    if cancel:
        runner.emit("", "interrupted", "interrupted: nothing new is started; rolling back")
    pause = [o.path for o in outcomes if not o.ok and not o.skipped and moves.pauses(o.path)]
    if pause and not cancel:
        runner.emit("", "paused", f"on_failure: pause ({', '.join(pause)}): left as it is")
        return result(False, paused=True)
    runner.emit("", "rollback-start", f"{moves.rolling_back}: {failure}")
    restored, detail = moves.rollback(outcomes)
    runner.emit("", "rollback-done", detail)
    moves.after_rollback(restored)
    # said in the result and the record, not only in an event
    failure += f"; {detail}" if not restored else (f"; {moves.told()}" if moves.told() else "")
    return result(False, rolled_back=True, rollback_verified=restored, interrupted=bool(cancel),
                  restored=moves.restored)
