"""Plain text lines for a pusher's terminal (`remote:` lines), a job's log and the healer's output.

Pure functions from values to strings. Times are shown in the local time zone of the process
(the server's or the pusher's hook), as `HH:MM:SS`.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence

from rich.console import Console

from gitdeploy.deploy.result import Event
from gitdeploy.errors import Problem
from gitdeploy.render.plan import escape_markup


def plain(markup: str, width: int = 100) -> str:
    """Rich markup rendered as plain text (no ANSI), for pipes and logs."""
    buf = io.StringIO()
    Console(file=buf, force_terminal=False, color_system=None, width=width, highlight=False).print(markup, soft_wrap=True)
    return buf.getvalue().rstrip("\n")


def clock(when: float) -> str:
    """`when` (epoch seconds) as local `HH:MM:SS`."""
    return time.strftime("%H:%M:%S", time.localtime(when))


def event_line(ev: Event) -> str:
    """A deploy's progress event: `12:00:01 web: gate passed`."""
    return f"{clock(ev.time)} {ev.path + ': ' if ev.path else ''}{ev.message}"


EVENT_STYLE = {"gate-failed": "red", "step-failed": "red", "skipped": "yellow", "rollback-start": "bold red",
               "rollback-done": "bold yellow", "rollback-error": "red", "gate-ok": "green", "step-done": "green",
               "verify": "bold"}


def event_markup(ev: Event) -> str:
    """`event_line` in Rich markup for a terminal: the time dimmed, the event coloured by its kind."""
    where = f"{ev.path}: " if ev.path else ""
    text = escape_markup(where + ev.message)
    style = EVENT_STYLE.get(ev.kind, "")
    return f"[dim]{clock(ev.time)}[/dim] " + (f"[{style}]{text}[/{style}]" if style else text)


def error_markup(message: str, hint: str = "") -> list[str]:
    """A user error as the command line prints it (Rich markup): `error: ...`, then its hint."""
    return [f"[bold red]error:[/bold red] {escape_markup(message)}"] + (
        [f"  [yellow]hint:[/yellow] {escape_markup(hint)}"] if hint else [])


def crash_markup(error: str, text: str, log: str) -> list[str]:
    """A bug as the command line tells it: the exception's type and text, where the traceback went."""
    return [f"[bold red]internal error:[/bold red] {escape_markup(error)}: {escape_markup(text)}",
            f"  [yellow]hint:[/yellow] this is a gitdeploy bug; details in {escape_markup(log)}"]


def repair_line(ev: Event) -> str:
    """A repair's progress event, as `gitdeploy fix` prints it: `  web: gate-ok healthy`."""
    return f"  {ev.path or '-'}: {ev.kind} {ev.message}"


def watch_line(when: float, kind: str, message: str) -> str:
    """One line of `gitdeploy watch`: `12:00:01 drift         2 drift item(s)...`."""
    return f"{clock(when)} {kind:<13} {message}"


def problem_lines(label: str, problems: Sequence[Problem]) -> list[str]:
    """Why a commit's spec is invalid: a heading, then each problem at file:line:column with its hint."""
    lines = [f"gitdeploy: {label}: the spec is invalid ({len(problems)} problem(s)):"]
    for p in problems:
        lines.append(f"  {p.location()}: {p.message}")
        if p.hint:
            lines.append(f"      hint: {p.hint}")
    return lines


def missing_spec_line(label: str, spec_file: str) -> str:
    return f"gitdeploy: {label}: no {spec_file} at the root of the commit"


def error_lines(message: str, hint: str = "", prefix: str = "gitdeploy: ") -> list[str]:
    """A user error as lines: `gitdeploy: error: ...`, then its hint (if any)."""
    return [f"{prefix}error: {message}"] + ([f"  hint: {hint}"] if hint else [])


def environment_line(env: str, verified_at: str | None, deploying: str = "") -> str:
    """The environment's last verified revision and whether a deploy runs now (`deploying`: who)."""
    verified = f"last verified at {verified_at[:7]}" if verified_at else "never verified (nothing deployed yet)"
    now = f"a deploy is running ({deploying})" if deploying else "no deploy is running"
    return f"{env} is {verified}; {now}"


# -- what the git hooks tell the pusher (each line starts with "gitdeploy: ") ---------------------


def span(seconds: float) -> str:
    """A bound as people write it: `15m`, `90s`, `2.5s`."""
    return f"{seconds / 60:g}m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g}s"


def checking_line(commits: int, branch: str, envs: Sequence[str]) -> str:
    return f"gitdeploy: checking {commits} new commit(s) on {branch} ({', '.join(envs)})"


def rejected_line() -> str:
    return "gitdeploy: push REJECTED: fix the spec and push again (nothing was deployed)"


def commit_blocked_line() -> str:
    return "gitdeploy: commit blocked; fix the spec and `git add` it (or `git commit --no-verify` to skip)"


def deploying_line(sha: str, env: str, who: str) -> str:
    return f"gitdeploy: deploying {sha[:7]} to {env} (pushed by {who})"


def queued_line(job: int, follow: float) -> str:
    """The push became a server job, which the hook follows for at most `follow` seconds."""
    return (f"gitdeploy: queued as job {job} on the gitdeploy server; following it for up to {span(follow)} "
            "(GITDEPLOY_HOOK_FOLLOW)")


def server_stopped_line(job: int, state: str, sha: str, branch: str) -> str:
    return (f"gitdeploy: the server stopped while job {job} was {state}; when it starts again the job runs "
            f"only if {sha[:7]} is still the head of {branch}")


def left_job_line(job: int, follow: float, state: str) -> str:
    return (f"gitdeploy: stopped following job {job} after {span(follow)}; it is still {state} and goes on "
            "without you (see the dashboard)")


def job_ended_line(job: int, state: str, result: str) -> str:
    return f"gitdeploy: job {job} {state}: {result}"


def unclaimed_line(job: int) -> str:
    return f"gitdeploy: no server worker took job {job}; deploying directly"


def not_deployed_line() -> str:
    return "gitdeploy: the push is in git but NOT deployed; `git revert` and push to go back for good"


def retry_line(attempt: int) -> str:
    """A job's log, when the server restarted during an earlier attempt."""
    return f"(attempt {attempt}: the server restarted during the first one)"
