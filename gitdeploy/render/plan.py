"""Render a plan as text (for terminals), Markdown (for pull requests) or JSON.

Pure functions from values to strings; golden files pin their output. Secret values cannot
appear: plans only ever hold fingerprints, and those are shown as "(secret changed)".
"""

from __future__ import annotations

import json
import re
from typing import Any

from gitdeploy.plan.model import Op, Plan, ServiceChange, Step
from gitdeploy.plan.planner import waves
from gitdeploy.plan.rollout import describe_batches

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
             "parallelism": s.parallelism, "canary": s.canary, "rollout": [[_op_dict(op) for op in phase] for phase in s.rollout]}
            for s in plan.steps
        ],
        "waves": waves(plan),
        "prune": list(plan.prune),
        "keep": plan.keep,
        **_cluster_dict(plan),
    }


def _cluster_dict(plan: Plan) -> dict[str, Any]:
    """What a plan against a cluster adds: the nodes each service runs on today, the pinned images."""
    if plan.engine != "swarm":
        return {}
    return {"engine": plan.engine, "nodes": {p: list(n) for p, n in plan.nodes},
            "images": dict(plan.images), "unusable_nodes": list(plan.unusable)}


def _cluster_facts(plan: Plan, path: str) -> list[str]:
    """For a plan against a cluster: where `path` runs today and the image it will run."""
    if plan.engine != "swarm":
        return []
    nodes = dict(plan.nodes).get(path, ())
    out = [f"runs on: {', '.join(nodes) if nodes else 'no node yet'}"]
    if image := dict(plan.images).get(path):
        out.append(f"image: {image}")
    return out


def _swarm_rollout(s: Step) -> str:
    """How Swarm rolls out a step's service (its update config), followed task by task."""
    if s.change.action == "remove":
        return "service removed"
    every = "all at once" if s.parallelism <= 0 or s.parallelism >= s.change.replicas_after else \
        f"{s.parallelism} at a time"
    return f"Swarm update, {s.order}, {every}; every task followed until it runs at the new spec"


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
    if plan.engine == "swarm" and plan.unusable:
        lines.append(f"  [yellow]nodes taking no task: {escape_markup('; '.join(plan.unusable))}[/yellow]")
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
        lines += [f"      {escape_markup(x)}" for x in _cluster_facts(plan, c.path)]
    for s in plan.steps:
        how = _swarm_rollout(s) if plan.engine == "swarm" else describe_batches(s.rollout, s.canary)
        if how:
            lines.append(f"  rollout of {s.path}: {how}")
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
            why = md_cell(c.reason)
            if plan.engine == "swarm":
                why += "<br>" + "<br>".join(md_cell(x) for x in _cluster_facts(plan, c.path))
            rows.append(f"| {SYMBOL[c.action]} | `{c.path}` | **{c.action}** | {reps} | {why} |")
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
