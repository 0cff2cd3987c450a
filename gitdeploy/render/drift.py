"""Drift for people: plain text for the terminal, Markdown for a GitHub issue. Pure functions."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gitdeploy.heal.model import Drift

if TYPE_CHECKING:  # a value only; importing gitdeploy.heal.check at run time would load the engine's side
    from gitdeploy.heal.check import CheckReport


_INDENT = " " * 11  # under the kind column


def drift_lines(drifts: Sequence[Drift]) -> list[str]:
    """One block per drift item: what, where, expected vs found, and why it matters (values that
    span lines stay indented under their item)."""
    out = []
    for d in drifts:
        where = f"{d.service or '-'} {d.container or ''}".strip()
        text = f"{d.kind:<10} {where}\n{d.field}: expected {d.expected}, found {d.actual}\n{d.explanation}"
        first, *rest = text.splitlines()
        out.append("\n".join([first, *(_INDENT + line for line in rest)]))
    return out


def report_text(report: CheckReport) -> str:
    head = f"{report.system} ({report.env}) against {report.commit[:7]}"
    if report.halted:
        return "\n".join([f"{head}: halted ({report.halted}); a halted system is not drift",
                          *(f"note: {n}" for n in report.notes)])
    if report.deploying:
        return f"{head}: a deploy is in progress ({report.deploying}); check again afterwards"
    unit = "running tasks" if report.engine == "swarm" else "containers"
    if report.clean:
        lines = [f"{head}: no drift ({report.containers} {unit} checked in {report.seconds:.2f}s)"]
    else:
        counts = ", ".join(f"{n} {k}" for k, n in report.counts.items() if n)
        lines = [f"{head}: {len(report.drifts)} drift item(s): {counts}"]
        lines += drift_lines(report.drifts)
    lines += [f"note: {n}" for n in report.notes]
    lines += [f"files not checked on node {node}: {why}" for node, why in report.unchecked]
    if report.frozen and not report.clean:
        lines.append(f"the environment is frozen ({report.frozen}): repairs wait")
    return "\n".join(lines)


def issue_marker(env: str) -> str:
    """The hidden marker of an environment's one drift issue (found and edited in place)."""
    return f"<!-- gitdeploy:drift:{env} -->"


def resolved_comment(env: str, commit: str) -> str:
    """The comment that closes the drift issue once nothing drifts any more."""
    return f"No drift in {env} any more (deployed `{commit[:7]}`)."


def issue_markdown(env: str, system: str, commit: str, drifts: Sequence[Drift], given_up: Sequence[str],
                   first_seen: dict[str, float]) -> tuple[str, str]:
    """(title, body) of the drift issue of one environment."""
    title = f"Drift in {env}: {len(drifts)} item(s) in {system}"
    lines = [f"`{system}` in **{env}** differs from the deployed commit `{commit[:7]}`.", ""]
    if given_up:
        lines += [f"> [!WARNING]\n> gitdeploy gave up repairing: {', '.join(f'`{g}`' for g in given_up)}", ""]
    if drifts:
        lines += ["| kind | service | container | field | expected | found | since |", "|---|---|---|---|---|---|---|"]
        for d in drifts:
            since = first_seen.get("|".join(d.key))
            when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(since)) if since else ""
            cells = [d.kind, d.service, d.container, d.field, d.expected, d.actual, when]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines += ["", "Run `gitdeploy check` for the explanations, `gitdeploy fix` to repair."]
    return title, "\n".join(lines)


def _cell(text: str) -> str:
    """A table cell: short values as code (a backtick inside cannot end it), long ones cut."""
    text = text.replace("|", "\\|").replace("\n", " ")
    if not text or len(text) >= 80:
        return text[:300]
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"
