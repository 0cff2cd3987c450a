"""Render a plan as text (for terminals), Markdown (for pull requests) or JSON.

Pure functions from values to strings; golden files pin their output. Secret values cannot
appear: plans only ever hold fingerprints, and those are shown as "(secret changed)".
"""

from __future__ import annotations

import json
import re
from typing import Any

from gitdeploy.plan.model import Op, Plan, ServiceChange
from gitdeploy.plan.planner import waves

PLAN_SCHEMA = "gitdeploy.plan/v1"
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
            old, new = escape_markup(_one_line(f.old)), escape_markup(_one_line(f.new))
            lines.append(f"      {escape_markup(f.field)}: [red]{old}[/red] -> [green]{new}[/green]")
    if plan.steps:
        order = " | ".join(", ".join(w) for w in waves(plan))
        lines.append(f"  order: {order}")
    return "\n".join(lines)


def _one_line(s: str) -> str:
    """A value that spans lines, kept on its field's line (its line breaks shown as `\\n`)."""
    return s.replace("\r\n", "\n").replace("\n", "\\n")


def _diff_lines(sign: str, value: str) -> str:
    """`value` under `sign` in a diff block, every one of its lines marked."""
    return "\n".join(f"{sign}   {line}" for line in value.replace("\r\n", "\n").split("\n"))


def _fence(body: str) -> str:
    """A backtick fence longer than any backtick run in `body`, so no value can close the block."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    return "`" * max(3, longest + 1)


def escape_markup(s: str) -> str:
    """`s` with Rich markup brackets escaped (it is printed through a markup console)."""
    return s.replace("[", "\\[")


def md_cell(s: str) -> str:
    """`s` fit for one Markdown table cell (no pipe, no line break)."""
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
            rows.append(f"| {SYMBOL[c.action]} | `{c.path}` | **{c.action}** | {reps} | {md_cell(c.reason)} |")
    parts = [head, "", *rows]
    for c in plan.changes:
        if c.fields:
            body = "\n".join(f"  {f.field}:\n{_diff_lines('-', f.old)}\n{_diff_lines('+', f.new)}"
                             for f in c.fields)
            fence = _fence(body)
            parts += ["", f"<details><summary><code>{c.path}</code>: {len(c.fields)} field change(s)</summary>",
                      "", f"{fence}diff", body, fence, "</details>"]
    unchanged = [c.path for c in plan.changes if not c.changed]
    if unchanged:
        parts += ["", f"<details><summary>{len(unchanged)} unchanged</summary>", "",
                  ", ".join(f"`{p}`" for p in unchanged), "</details>"]
    order = " → ".join("{" + ", ".join(w) + "}" for w in waves(plan))
    parts += ["", f"Order (each group in parallel): {order}"]
    return "\n".join(parts)
