"""The deployment history for people and programs: `gitdeploy history` rows and JSON. Pure functions.

Times are shown in the local time zone of the process.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gitdeploy.render.plan import escape_markup

if TYPE_CHECKING:  # a model only; importing it at run time would load git
    from gitdeploy.history.notes import Attempt

COLUMNS = ("commit", "subject", "when", "who", "trigger", "result", "duration")
_COLOUR = {"ok": "green", "halted": "yellow", "paused": "yellow", "down": "yellow"}


def attempt_to_dict(a: Attempt, subject: str) -> dict[str, Any]:
    """One attempt in `history --json`; `subject` is its commit's subject line."""
    return {"commit": a.commit, "subject": subject, "system": a.system, "trigger": a.trigger,
            "who": a.who, "started": a.started, "ended": a.ended, "duration": round(a.duration, 3),
            "result": a.result, "summary": a.summary, "verified": a.verified, "failure": a.failure}


def history_title(env: str, deployed: str | None) -> str:
    return f"history of {env} (deployed: {deployed[:7] if deployed else 'nothing'})"


def attempt_row(a: Attempt, subject: str) -> tuple[str, ...]:
    """The table cells of one attempt (Rich markup, in COLUMNS order; the words people wrote escaped)."""
    result = escape_markup(a.result + (f" {a.verified}" if a.verified else ""))
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.started))
    return (a.commit[:7], escape_markup(subject[:50]), when, escape_markup(a.who), escape_markup(a.trigger),
            f"[{_COLOUR.get(a.result, 'red')}]{result}[/]", f"{a.duration:.1f}s")
