"""Render a deploy result as text (for terminals), Markdown (for pull requests) or JSON.

Pure functions from values to strings; golden files pin their output. A result holds its plan,
and plans only ever hold secret fingerprints, so no secret value can appear.
"""

from __future__ import annotations

from typing import Any

from gitdeploy.deploy.result import Result
from gitdeploy.render.plan import escape_markup, md_cell, plan_to_dict

RESULT_SCHEMA = "gitdeploy.result/v1"


def result_to_dict(result: Result) -> dict[str, Any]:
    v = result.verification
    return {
        "schema": RESULT_SCHEMA,
        "ok": result.ok,
        "headline": result.headline,
        "commit": result.plan.commit,
        "system": result.plan.system,
        "env": result.plan.env,
        "duration": round(result.duration, 3),
        "failure": result.failure,
        "rolled_back": result.rolled_back,
        "rollback_verified": result.rollback_verified,
        "paused": result.paused,
        "interrupted": result.interrupted,
        "verification": None if v is None else {
            "ok": v.ok, "expected": v.expected, "at_target": v.at_target, "problems": list(v.problems)},
        "steps": [{"path": o.path, "ok": o.ok, "skipped": o.skipped, "detail": o.detail} for o in result.outcomes],
        "plan": plan_to_dict(result.plan),
    }


def result_text(result: Result) -> str:
    style = "green" if result.ok else "red"
    lines = [f"[bold {style}]{escape_markup(result.headline)}[/bold {style}]"]
    for o in result.outcomes:
        mark = "[green]ok[/green]" if o.ok else ("[yellow]skipped[/yellow]" if o.skipped else "[red]FAILED[/red]")
        lines.append(f"  {mark} {o.path}: {escape_markup(o.detail)}")
    if result.failure:
        lines.append(f"  [red]what failed:[/red] {escape_markup(result.failure)}")
    if result.verification and result.verification.problems and result.ok is False:
        for p in result.verification.problems:
            lines.append(f"    - {escape_markup(p)}")
    return "\n".join(lines)


def result_markdown(result: Result) -> str:
    icon = "✅" if result.ok else ("↩️" if result.rolled_back else "❌")
    lines = [f"{icon} **{result.headline}**"]
    if result.outcomes:
        lines += ["", "| Service | Result | Detail |", "|---|---|---|"]
        for o in result.outcomes:
            state = "ok" if o.ok else ("skipped" if o.skipped else "**failed**")
            lines.append(f"| `{o.path}` | {state} | {md_cell(o.detail)} |")
    if result.failure:
        lines += ["", f"**What failed:** {md_cell(result.failure)}"]
    return "\n".join(lines)
