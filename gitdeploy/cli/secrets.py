"""`gitdeploy secrets prune`: remove secret values that no container uses any more."""

from __future__ import annotations

import click

from gitdeploy.cli.app import cli, console, run_reported
from gitdeploy.live import secretfiles
from gitdeploy.pipeline import Context


@cli.group("secrets", help="The secret values gitdeploy keeps in its data dir.",
           epilog="Example: gitdeploy secrets prune --dry-run")
def secrets_group() -> None:
    pass


@secrets_group.command("prune", epilog="""\b
Examples:
  gitdeploy secrets prune --dry-run   # list what would go
  gitdeploy secrets prune             # remove it
""")
@click.option("--dry-run", is_flag=True, help="Only list the files that would be removed.")
@click.option("--grace", type=click.FloatRange(min=0), default=secretfiles.GRACE, show_default=True,
              help="Keep files used within this many seconds (a deploy may be about to mount them).")
def prune_cmd(dry_run: bool, grace: float) -> None:
    """Remove secret files (old, rotated values) that no container on the engine mounts.

    Deploys do this by themselves once the revisions that used a value are pruned (keep).
    """
    ctx: Context = click.get_current_context().obj
    run_reported(ctx, _prune, ctx, dry_run, grace)


def _prune(ctx: Context, dry_run: bool, grace: float) -> None:
    gone = ctx.engine().prune_secret_files(grace, dry_run)
    verb = "would remove" if dry_run else "removed"
    for path in gone:
        console.print(f"{verb} {path.name}", markup=False)  # a keyed fingerprint, never a value
    console.print(f"{verb} {len(gone)} unused secret file(s) from {secretfiles.secrets_folder(ctx.data_dir)}",
                  markup=False)
