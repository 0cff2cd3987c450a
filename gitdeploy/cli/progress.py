"""A live progress display for deploys: a bar of containers brought up, events above it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitdeploy.deploy.result import Event
from gitdeploy.plan.model import Plan
from gitdeploy.render.lines import event_markup

if TYPE_CHECKING:
    from rich.console import Console

_QUIET = {"created", "started"}  # shown on the bar, not as lines


class DeployProgress:
    """Events as lines; on a terminal also a bar, redrawn a few times a second. Where the output
    is not a terminal (a pipe, a CI log, the bot) there is nothing to redraw: only the lines, and
    no redraw thread taking CPU from the engines while a deploy waits for them."""

    def __init__(self, console: Console, plan: Plan, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled and plan.has_changes
        self.progress = None
        if self.enabled and console.is_terminal:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            total = sum(len(s.change.start) + len(s.change.create) for s in plan.steps) or 1
            self.progress = Progress(
                TextColumn("[bold]deploying[/bold]"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.completed:.0f}/{task.total:.0f} up"), TimeElapsedColumn(),
                console=console, transient=True, refresh_per_second=4,
            )
            self.task = self.progress.add_task("deploy", total=total)

    def __enter__(self) -> DeployProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def on_event(self, ev: Event) -> None:
        if not self.enabled:
            return
        if ev.kind == "gate-ok" and self.progress is not None:
            self.progress.advance(self.task)
        if ev.kind in _QUIET:
            return
        self.console.print(event_markup(ev))
