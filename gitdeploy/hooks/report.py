"""A deploy told as plain text lines, for a pusher's terminal (`remote:` lines) or a job's log.

The same lines reach the pusher whether the hook deploys itself or follows a server job, so
both paths share `deploy_told`.
"""

from __future__ import annotations

from collections.abc import Callable

from gitdeploy import pipeline
from gitdeploy.deploy.result import Event, Result
from gitdeploy.plan.model import Plan
from gitdeploy.render.lines import event_line, plain
from gitdeploy.render.plan import plan_text
from gitdeploy.render.result import result_text

Emit = Callable[[str], None]
_QUIET = {"created", "started"}  # the gate that follows says more


def deploy_told(ctx: pipeline.Context, rev: str, who: str, emit: Emit, trigger: str = "hook") -> Result:
    """pipeline.deploy, emitting the plan, each progress event and the outcome as lines."""

    def on_plan(plan: Plan) -> None:
        for line in plain(plan_text(plan)).splitlines():
            emit(line)

    def on_event(ev: Event) -> None:
        if ev.kind not in _QUIET:
            emit(event_line(ev))

    result = pipeline.deploy(ctx, rev, trigger=trigger, who=who, on_event=on_event, on_plan=on_plan)
    for line in plain(result_text(result)).splitlines():
        emit(line)
    return result
