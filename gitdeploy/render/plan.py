"""Render a plan or a deploy result as text (for terminals), Markdown (for pull requests) or JSON.

Pure functions from values to strings; golden files pin their output. Secret values cannot
appear: plans only ever hold fingerprints, and those are shown as "(secret changed)".
"""

from __future__ import annotations

import json
from typing import Any

from gitdeploy.deploy.result import Result
from gitdeploy.plan.model import Op, Plan, ServiceChange
from gitdeploy.plan.planner import waves

PLAN_SCHEMA = "gitdeploy.plan/v1"
RESULT_SCHEMA = "gitdeploy.result/v1"
SYMBOL = {"create": "+", "replace": "~", "scale": "^", "start": ">", "remove": "-", "unchanged": "="}
STYLE = {"create": "green", "replace": "yellow", "scale": "cyan", "start": "cyan", "remove": "red",
         "unchanged": "dim"}


def _at(plan: Plan) -> str:
    return plan.commit[:7] if plan.commit else "working tree"


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The stable JSON form of a plan (schema `gitdeploy.plan/v1`, documented in the README)."""
    return {
        "schema": PLAN_SCHEMA,
        "system": plan.system,
        "env": plan.env,
        "commit": plan.commit,
        "has_changes": plan.has_changes,
        "summary": plan.summary(),
        "counts": plan.counts(),
        "services": [_change_dict(c) for c in plan.changes],
        "steps": [
            {"path": s.path, "action": s.change.action, "after": list(s.after), "order": s.order,
             "parallelism": s.parallelism, "rollout": [[_op_dict(op) for op in phase] for phase in s.rollout]}
            for s in plan.steps
        ],
        "waves": waves(plan),
        "prune": list(plan.prune),
        "keep": plan.keep,
    }


def _op_dict(op: Op) -> dict[str, Any]:
    """One rollout op: only the fields that mean something for its kind."""
    out: dict[str, Any] = {"op": op.kind}
    if op.replica:
        out["replica"] = op.replica
    if op.container:
        out["container"] = op.container[:12]
    if op.service:
        out["service"] = op.service
    if op.kind == "create":
        out["hold_back"] = op.hold_back
    if op.kind == "stop":
        out["keep_aliases"] = op.rejoin
        out["grace"] = op.seconds
    if op.kind == "drain":
        out["seconds"] = op.seconds
    if op.gate is not None:
        out["gate"] = op.gate.describe()
    return out


def _change_dict(c: ServiceChange) -> dict[str, Any]:
    return {
        "path": c.path,
        "action": c.action,
        "reason": c.reason,
        "hash": c.hash,
        "old_hashes": list(c.old_hashes),
        "replicas": {"before": c.replicas_before, "after": c.replicas_after},
        "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields],
    }


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, sort_keys=False)


def plan_text(plan: Plan, show_unchanged: bool = False) -> str:
    """Rich-markup text: one line per service, then its changed fields."""
    lines = [f"[bold]Plan for {plan.system} ({plan.env}) at {_at(plan)}[/bold]: {plan.summary()}"]
    for c in plan.changes:
        if not c.changed and not show_unchanged:
            continue
        st = STYLE[c.action]
        reps = f"{c.replicas_before}->{c.replicas_after}" if c.replicas_before != c.replicas_after else str(
            c.replicas_after)
        lines.append(f"  [{st}]{SYMBOL[c.action]} {c.path:<28} {c.action:<9}[/{st}] replicas {reps:<6} {c.reason}")
        for f in c.fields:
            lines.append(f"      {_esc(f.field)}: [red]{_esc(f.old)}[/red] -> [green]{_esc(f.new)}[/green]")
    if plan.steps:
        order = " | ".join(", ".join(w) for w in waves(plan))
        lines.append(f"  order: {order}")
    return "\n".join(lines)


def _esc(s: str) -> str:
    return s.replace("[", "\\[")


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def plan_markdown(plan: Plan) -> str:
    """Markdown for a pull request: summary line, a table, collapsible field diffs per service."""
    head = f"**gitdeploy plan** for `{plan.system}` → `{plan.env}` at `{_at(plan)}`: {plan.summary()}"
    if not plan.has_changes:
        return head + "\n\nThe live system already matches this commit."
    rows = ["| | Service | Action | Replicas | Why |", "|---|---|---|---|---|"]
    for c in plan.changes:
        if c.changed:
            reps = f"{c.replicas_before} → {c.replicas_after}"
            rows.append(f"| {SYMBOL[c.action]} | `{c.path}` | **{c.action}** | {reps} | {_md(c.reason)} |")
    parts = [head, "", *rows]
    for c in plan.changes:
        if c.fields:
            body = "\n".join(f"  {f.field}:\n-   {f.old}\n+   {f.new}" for f in c.fields)
            parts += ["", f"<details><summary><code>{c.path}</code>: {len(c.fields)} field change(s)</summary>",
                      "", "```diff", body, "```", "</details>"]
    unchanged = [c.path for c in plan.changes if not c.changed]
    if unchanged:
        parts += ["", f"<details><summary>{len(unchanged)} unchanged</summary>", "",
                  ", ".join(f"`{p}`" for p in unchanged), "</details>"]
    order = " → ".join("{" + ", ".join(w) + "}" for w in waves(plan))
    parts += ["", f"Order (each group in parallel): {order}"]
    return "\n".join(parts)


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
        "verification": None if v is None else {
            "ok": v.ok, "expected": v.expected, "at_target": v.at_target, "problems": list(v.problems)},
        "steps": [{"path": o.path, "ok": o.ok, "skipped": o.skipped, "detail": o.detail} for o in result.outcomes],
        "plan": plan_to_dict(result.plan),
    }


def result_text(result: Result) -> str:
    style = "green" if result.ok else "red"
    lines = [f"[bold {style}]{_esc(result.headline)}[/bold {style}]"]
    for o in result.outcomes:
        mark = "[green]ok[/green]" if o.ok else ("[yellow]skipped[/yellow]" if o.skipped else "[red]FAILED[/red]")
        lines.append(f"  {mark} {o.path}: {_esc(o.detail)}")
    if result.failure:
        lines.append(f"  [red]what failed:[/red] {_esc(result.failure)}")
    if result.verification and result.verification.problems and result.ok is False:
        for p in result.verification.problems:
            lines.append(f"    - {_esc(p)}")
    return "\n".join(lines)


def result_markdown(result: Result) -> str:
    icon = "✅" if result.ok else ("↩️" if result.rolled_back else "❌")
    lines = [f"{icon} **{result.headline}**"]
    if result.outcomes:
        lines += ["", "| Service | Result | Detail |", "|---|---|---|"]
        for o in result.outcomes:
            state = "ok" if o.ok else ("skipped" if o.skipped else "**failed**")
            lines.append(f"| `{o.path}` | {state} | {_md(o.detail)} |")
    if result.failure:
        lines += ["", f"**What failed:** {_md(result.failure)}"]
    return "\n".join(lines)
