"""The drift line of `gitdeploy status`."""

from __future__ import annotations

from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.heal.check import check
from gitdeploy.heal.state import StateStore, state_path
from gitdeploy.pipeline import Context


def drift_status(ctx: Context) -> dict[str, Any]:
    """{"items", "counts", "given_up", "commit", "line"} for status; never raises for a failed check."""
    given_up = StateStore(state_path(ctx.data_dir, ctx.env)).load().given_up()
    try:
        report = check(ctx)
    except GitdeployError as exc:
        return {"items": None, "counts": {}, "given_up": given_up, "commit": None,
                "line": f"drift: unknown ({exc.message})"}
    counts = {k: n for k, n in report.counts.items() if n}
    if report.halted or report.deploying:
        line = "drift: not judged (" + ("halted" if report.halted else "a deploy is in progress") + ")"
    elif report.clean:
        line = f"drift: none (against {report.commit[:7]})"
    else:
        line = (f"drift: {len(report.drifts)} item(s) against {report.commit[:7]} ("
                + ", ".join(f"{n} {k}" for k, n in counts.items()) + "); `gitdeploy check` explains")
    if given_up:
        line += f"; healer GAVE UP on {', '.join(given_up)}"
    return {"items": len(report.drifts), "counts": counts, "given_up": given_up, "commit": report.commit,
            "line": line}
