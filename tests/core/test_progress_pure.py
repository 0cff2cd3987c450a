"""The deploy's progress display (gitdeploy.cli.progress): a bar redrawn on a terminal, only the
event lines elsewhere (a pipe, a CI log, the bot) - no redraw thread then, which took a sixth of a
Swarm deploy's CPU while it waited for the engines."""

from __future__ import annotations

import io
import re
import threading

import pytest
from rich.console import Console

from gitdeploy.cli.progress import DeployProgress
from gitdeploy.deploy.result import Event
from gitdeploy.live.model import Live
from gitdeploy.plan.diff import diff
from gitdeploy.plan.planner import make_plan
from tests.core.test_plan_pure import desired, live_of


def a_plan():
    old, new = desired("web", replicas=2, env={"V": "1"}), desired("web", replicas=2, env={"V": "2"})
    live = Live("s", "e", tuple(live_of(old, r) for r in (1, 2)))
    return make_plan("s", "e", None, [new], diff([new], live), live)


def redraws() -> list[str]:
    return [t.name for t in threading.enumerate() if type(t).__name__ == "_RefreshThread"]


@pytest.mark.parametrize("terminal", [True, False])
def test_a_bar_on_a_terminal_only_and_the_event_lines_everywhere(terminal):
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100)
    plan = a_plan()
    assert plan.has_changes
    with DeployProgress(console, plan) as progress:
        assert bool(redraws()) is terminal
        progress.on_event(Event(0.0, "web", "gate-ok", "replica 1 stayed up for 5s"))
        progress.on_event(Event(0.0, "web", "started", "replica 2 started"))  # on the bar only
    for t in threading.enumerate():  # told to stop, it ends at its next tick
        if type(t).__name__ == "_RefreshThread":
            t.join(5)
    assert redraws() == []
    said = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # without the terminal's codes
    assert "replica 1 stayed up for 5s" in said and "replica 2 started" not in said
    assert ("deploying" in said) is terminal  # the bar's own text
