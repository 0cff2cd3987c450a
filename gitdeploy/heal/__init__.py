"""Homeostasis: drift that explains itself, `check` and `fix`, and a self-healing loop.

    deployed commit ──load/resolve──> Desired
    engine.observe ─────────────────> Observation (one list, one inspect + one diff per container)
    detect(Desired, Observation) ───> Drift values (pure; see detect.py and compare.py)
    fix: pipeline.deploy(deployed commit, trigger="heal", tainted=..., only=...)
    Watcher: Docker events + an interval -> check -> (heal mode) fix, with backoff and give-up

The server runs one `Watcher` per environment and exports `DriftCollector` for /metrics.
"""

from gitdeploy.heal.check import CheckReport, FixOutcome, check, fix
from gitdeploy.heal.loop import DriftNotice, Policy, Watcher, WatchEvent
from gitdeploy.heal.model import Drift

__all__ = ["CheckReport", "Drift", "DriftNotice", "FixOutcome", "Policy", "WatchEvent", "Watcher", "check", "fix"]
