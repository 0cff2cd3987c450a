"""A live progress display for deploys: a bar of containers brought up, events above it."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from gitdeploy.deploy.result import Event
from gitdeploy.plan.model import Plan
from gitdeploy.render.lines import event_markup

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
        self.progress.console.print(event_markup(ev))
