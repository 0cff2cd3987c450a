"""What runs now, per service: the rows of `gitdeploy status` and of the dashboard (one builder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitdeploy.live.model import Live


def service_rows(live: Live, wanted: Mapping[str, int], containers: bool = False) -> list[dict[str, Any]]:
    """One row per declared service (spec order), then per undeclared one found live (by name).

    `running`/`wanted` replicas, the commits and health states of the running ones, how many are
    kept stopped (for rollback); with `containers`, every container of the service as well.
    """
    rows = []
    for path in list(wanted) + sorted(set(live.by_service) - set(wanted)):
        cs = live.of(path)
        running = [c for c in cs if c.running]
        row: dict[str, Any] = {
            "service": path, "running": len(running), "wanted": wanted.get(path, 0),
            "commits": sorted({c.commit[:7] or "worktree" for c in running}),
            "health": sorted({c.health for c in running}), "kept": len(cs) - len(running),
        }
        if any(c.node for c in cs):  # a cluster: where its running instances are
            row["nodes"] = sorted({c.node for c in running})
        if containers:
            row["containers"] = [{"name": c.name, "state": c.state, "health": c.health, "commit": c.commit,
                                  "hash": c.hash[:12]} for c in cs]
        rows.append(row)
    return rows
