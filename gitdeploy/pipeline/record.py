"""Recording attempts in git: the history note first told, then the ref (see gitdeploy.history)."""

from __future__ import annotations

import time

from gitdeploy.deploy.execute import describe_error
from gitdeploy.deploy.result import Event, EventSink, Result
from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import Attempt, deployed_commit, open_repo, record
from gitdeploy.pipeline.context import Context, Prepared


def _deployed_or_none(ctx: Context) -> str | None:
    try:
        return deployed_commit(open_repo(ctx.repo), ctx.env)
    except GitdeployError:
        return None



def _attempt(ctx: Context, prepared: Prepared, result: Result, trigger: str, who: str, started: float) -> Attempt:
    v = result.verification
    outcome = "ok" if result.ok else "interrupted" if result.interrupted else "paused" if result.paused \
        else "rolled-back" if result.rolled_back and result.rollback_verified else "failed"
    failure = result.failure
    if result.rolled_back and not result.rollback_verified:
        failure += " (rollback NOT verified)"
    return Attempt(
        commit=prepared.spec.commit or "", env=ctx.env, system=prepared.spec.system, trigger=trigger, who=who,
        started=started, ended=time.time(), result=outcome, summary=prepared.plan.summary(),
        verified=f"{v.at_target}/{v.expected}" if v else "", failure=failure,
    )



def _commit_of(ctx: Context, rev: str) -> str | None:
    try:
        return open_repo(ctx.repo).rev(rev)
    except GitdeployError:
        return None



def _record(ctx: Context, attempt: Attempt, on_event: EventSink | None) -> bool:
    """Record in git; a failure to record is reported as an event, never hides the deploy's result.
    False when it could not be recorded (see _record_told)."""
    return _record_told(ctx, attempt, on_event)[0]



def _record_told(ctx: Context, attempt: Attempt, on_event: EventSink | None) -> tuple[bool, Event | None]:
    """(recorded, the record-failed event or None). history.record moves refs/gitdeploy/<env> even
    when the note cannot be written; that counts as recorded (the verified revision is true), and
    the event says the note is missing."""
    try:
        record(open_repo(ctx.repo), attempt)
        return True, None
    except (GitdeployError, OSError) as exc:
        ev = Event(time.time(), "", "record-failed", describe_error(exc))
        if on_event:
            on_event(ev)
        done = getattr(exc, "recorded", None)  # RecordIncomplete: which part made it
        return bool(done is not None and attempt.result == "ok" and done.ref_moved), ev

