"""A live progress display for deploys: a bar of containers brought up, events above it."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from gitdeploy.deploy.result import Event
from gitdeploy.plan.model import Plan

_STYLE = {"gate-failed": "red", "step-failed": "red", "skipped": "yellow", "rollback-start": "bold red",
          "rollback-done": "bold yellow", "rollback-error": "red", "gate-ok": "green", "step-done": "green",
          "verify": "bold"}
_QUIET = {"created", "started"}  # shown on the bar, not as lines


class DeployProgress:
    def __init__(self, console: Console, plan: Plan, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled and plan.has_changes
        self.total = sum(len(s.change.start) + len(s.change.create) for s in plan.steps) or 1
        self.progress = Progress(
            TextColumn("[bold]deploying[/bold]"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} up"), TimeElapsedColumn(),
            console=console, transient=True,
        )
        self.task = self.progress.add_task("deploy", total=self.total)

    def __enter__(self) -> DeployProgress:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()

    def on_event(self, ev: Event) -> None:
        if not self.enabled:
            return
        if ev.kind == "gate-ok":
            self.progress.advance(self.task)
        if ev.kind in _QUIET:
            return
        style = _STYLE.get(ev.kind, "")
        stamp = time.strftime("%H:%M:%S", time.localtime(ev.time))
        where = f"{ev.path}: " if ev.path else ""
        msg = ev.message.replace("[", "\\[")
        self.progress.console.print(f"[dim]{stamp}[/dim] [{style}]{where}{msg}[/{style}]" if style
                                    else f"[dim]{stamp}[/dim] {where}{msg}")
