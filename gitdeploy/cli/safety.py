"""Safety commands: freeze, unfreeze, halt (kill switch), history, rollback."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from gitdeploy import pipeline
from gitdeploy.cli.app import command, console, err_console, print_json
from gitdeploy.cli.core import deploy_with_progress
from gitdeploy.deploy import freeze
from gitdeploy.errors import EXIT_FAILED
from gitdeploy.history.notes import attempts, deployed_commit, open_repo, subject
from gitdeploy.history.revert import make_rollback_commit
from gitdeploy.pipeline import Context
from gitdeploy.render.history import COLUMNS, attempt_row, attempt_to_dict, history_title
from gitdeploy.render.result import result_to_dict


@command("freeze", epilog='Example: gitdeploy freeze --reason "incident 42: payments down"')
@click.option("--reason", required=True, help="Why: shown to everyone whose deploy is refused.")
def freeze_cmd(ctx: Context, reason: str) -> None:
    """Stop all deploys and repairs of this environment until `unfreeze`."""
    brake = freeze.freeze(ctx.data_dir, ctx.env, reason)
    console.print(f"[yellow]frozen[/yellow] {ctx.env}: {brake.describe()}")


@command("unfreeze", epilog="Example: gitdeploy --env staging unfreeze")
def unfreeze_cmd(ctx: Context) -> None:
    """Allow deploys and repairs of this environment again."""
    lifted = freeze.unfreeze(ctx.data_dir, ctx.env)
    if lifted:
        console.print(f"[green]unfrozen[/green] {ctx.env} (was frozen by {lifted.describe()})")
    else:
        console.print(f"{ctx.env} was not frozen")


@command("halt", epilog="Example: gitdeploy halt --reason \"bad release\"\n\n"
         "A later `gitdeploy deploy` brings the system back (the stopped containers are started).")
@click.option("--reason", default="", help="Why: recorded in the history.")
@click.option("--system", default=None, help="System name [default: from the spec at HEAD].")
def halt_cmd(ctx: Context, reason: str, system: str | None) -> None:
    """Kill switch: stop every container of the system at once."""
    out = pipeline.halt(ctx, reason, system=system)
    console.print(f"[bold red]halted[/bold red] {out.system} ({ctx.env}): {out.stopped} container(s) stopped")
    if out.deploy_in_progress:
        console.print(f"[yellow]warning:[/yellow] a deploy by {out.deploy_in_progress} is in progress and may "
                      "start containers again; `gitdeploy freeze` stops further deploys")


@command("history", epilog="Example: gitdeploy history --limit 10 --json")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=20, show_default=True, help="Newest attempts to show (0: all).")
def history_cmd(ctx: Context, as_json: bool, limit: int) -> None:
    """Every deployment attempt in this environment, newest first (from git notes)."""
    repo = open_repo(ctx.repo)
    rows = attempts(repo, ctx.env)
    skipped = rows.skipped  # note lines that are no attempt (bad JSON, wrong types)
    rows = rows[:limit] if limit > 0 else rows
    deployed = deployed_commit(repo, ctx.env)
    if as_json:
        print_json({"env": ctx.env, "deployed": deployed, "skipped": skipped,
                    "attempts": [attempt_to_dict(a, subject(repo, a.commit)) for a in rows]})
        return
    if skipped:
        err_console.print(f"[yellow]warning:[/yellow] {skipped} unreadable line(s) in the history notes "
                          "(refs/notes/gitdeploy) were skipped")
    if not rows:
        console.print(f"no deployments recorded in {ctx.env}")
        return
    table = Table(title=history_title(ctx.env, deployed))
    for col in COLUMNS:
        table.add_column(col, overflow="fold")
    for a in rows:
        table.add_row(*attempt_row(a, subject(repo, a.commit)))
    console.print(table)


@command("rollback", epilog="Example: gitdeploy rollback   # back to the revision deployed before the current one")
@click.option("--to", "to", default=None, help="The revision to restore [default: the previous verified one].")
@click.option("--branch", default=None, help="The environment's branch [default: the checked-out branch].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def rollback_cmd(ctx: Context, to: str | None, branch: str | None, as_json: bool) -> None:
    """Commit the tree of an earlier revision on the branch and deploy it (trigger: rollback)."""
    freeze.check_not_frozen(ctx.data_dir, ctx.env)
    rc = make_rollback_commit(open_repo(ctx.repo), ctx.env, to, branch)
    if not as_json:
        what = "committed" if rc.created else "branch already has that tree:"
        console.print(f"rolling back {ctx.env} from {rc.rolled_back[:7]} to {rc.target[:7]}: "
                      f"{what} {rc.commit[:7]} on {rc.branch}")
    result = deploy_with_progress(ctx, rc.commit, False, quiet=as_json, trigger="rollback")
    if as_json:
        print_json({"rollback": {"commit": rc.commit, "branch": rc.branch, "target": rc.target,
                                 "rolled_back": rc.rolled_back, "created": rc.created},
                    "result": result_to_dict(result)})
    if not result.ok:
        sys.exit(EXIT_FAILED)
