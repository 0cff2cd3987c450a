"""The health gate as a pure decision over what the engine reported.

`decide` reads the events of one container since it was started (die, restart, oom,
health_status) and, once the window is over, its final state; it says whether the gate is
passed, failed, or still open. The executor feeds it from the engine's event stream; tests feed
it lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitdeploy.live.model import EngineEvent, FinalState
from gitdeploy.plan.model import GateSpec


@dataclass(frozen=True)
class Verdict:
    done: bool
    ok: bool = False
    detail: str = ""


OPEN = Verdict(False)


def decide(gate: GateSpec, events: Sequence[EngineEvent], started: float, final: FinalState | None = None
           ) -> Verdict:
    """The gate's verdict from the events since `started` and, once the window is over, `final`.

    Fails at once on an exit, a restart or an OOM kill; passes at once on a healthy report (with a
    health check). Without `final` an undecided gate stays open.
    """
    if gate.window <= 0 and not gate.healthcheck:
        return Verdict(True, True, "started")  # nothing to watch; verification sees whether it runs
    for ev in events:
        if ev.time < started - 0.05:
            continue  # from before this start (e.g. the stop that preceded it)
        if ev.action == "die":
            return Verdict(True, False, f"exited with code {ev.exit_code or '?'}")
        if ev.action in ("restart", "oom"):
            return Verdict(True, False, f"{ev.action} while starting")
        if gate.healthcheck and ev.action.startswith("health_status") and ev.action.endswith(": healthy"):
            return Verdict(True, True, "healthy")
    if final is None:
        return OPEN
    if not final.running or final.restarting:
        return Verdict(True, False, f"{final.status or 'not running'} (exit code {final.exit_code})")
    if gate.healthcheck:
        if final.health == "healthy":
            return Verdict(True, True, "healthy")
        return Verdict(True, False, f"not healthy after {gate.deadline:g}s (health: {final.health})")
    return Verdict(True, True, f"running for {gate.monitor:g}s")
