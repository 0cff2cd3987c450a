"""Core commands: init, validate, import, plan, deploy, status, down."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from gitdeploy import pipeline
from gitdeploy.cli.app import command, console, err_console, print_json
from gitdeploy.deploy import freeze
from gitdeploy.deploy.lock import holder
from gitdeploy.deploy.result import Event, Result
from gitdeploy.errors import (
    EXIT_CHANGES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    GitdeployError,
    SpecInvalid,
)
from gitdeploy.live.engine import Cancel
from gitdeploy.pipeline import Context
from gitdeploy.plan.model import Plan
from gitdeploy.render.plan import plan_json, plan_markdown, plan_text
from gitdeploy.render.result import result_text, result_to_dict
from gitdeploy.spec.engines import ENGINES
from gitdeploy.spec.source import open_source

if TYPE_CHECKING:  # the live display (rich.progress) is imported only when a plan has changes to show
    from gitdeploy.cli.progress import DeployProgress

REV = click.option("--rev", default="HEAD", show_default=True, help="The commit of the spec to use.")
WORKTREE = click.option("--worktree", is_flag=True, help="Read uncommitted files (local experiments only).")


@command("init", epilog="Example: gitdeploy init shop && cd shop && gitdeploy deploy")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--system", default=None, help="System name [default: the directory's name].")
def init_cmd(ctx: Context, directory: Path, system: str | None) -> None:
    """Create a spec repository with an example system that runs offline."""
    directory = directory.resolve()
    if (directory / "gitdeploy.yaml").exists():
        raise GitdeployError(f"{directory}/gitdeploy.yaml exists already", "init creates a new spec repository")
    directory.mkdir(parents=True, exist_ok=True)
    example = resources.files("gitdeploy") / "example"
    with resources.as_file(example) as src:
        shutil.copytree(src, directory, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    name = system or _system_name(directory.name)
    spec_file = directory / "gitdeploy.yaml"
    spec_file.write_text(spec_file.read_text().replace("system: demo", f"system: {name}", 1))
    import git  # GitPython: only `init` makes a repository

    repo = git.Repo.init(directory, initial_branch="main")
    with repo.config_writer() as cw:
        if not repo.config_reader().has_option("user", "email"):
            cw.set_value("user", "email", "gitdeploy@localhost")
            cw.set_value("user", "name", "gitdeploy")
    repo.git.add(A=True)
    repo.index.commit("gitdeploy init: example system")
    try:
        ctx.engine().ensure_base_image()
        engine_note = "the offline base image gitdeploy/busybox:1 is ready"
    except GitdeployError as exc:
        engine_note = f"no engine yet ({exc.message})"
    console.print(f"[green]created[/green] {directory} (system [bold]{name}[/bold], first commit made; {engine_note})")
    console.print(f"next: cd {directory} && gitdeploy plan && gitdeploy deploy")


def _system_name(text: str) -> str:
    # no dots: gitdeploy joins names with dots (see gitdeploy.spec.names)
    out = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "_-" else "-" for ch in text.lower()).strip("-_")
    return out[:63].rstrip("-_") or "system"


@command("validate", epilog="Example: gitdeploy validate --rev HEAD~1 --json\n\n"
         "Exit codes: 0 valid, 2 invalid.")
@REV
@WORKTREE
@click.option("--json", "as_json", is_flag=True, help="Machine-readable problems.")
@click.option("--engine", type=click.Choice(ENGINES), default=None, show_default="the global --engine",
              help="The engine the spec is for: keys it cannot honour are problems.")
def validate_cmd(ctx: Context, rev: str, worktree: bool, as_json: bool, engine: str | None) -> None:
    """Check the spec: every problem at once, with file:line:column and a hint."""
    engine = engine or ctx.engine_kind  # `gitdeploy --engine swarm validate` or GITDEPLOY_ENGINE; a local value wins
    try:
        # validate reads the spec itself: every problem, never a cache
        from gitdeploy.spec.load import load_spec

        source = open_source(ctx.repo, rev, worktree)
        spec = load_spec(source, ctx.secrets(), engine)
    except SpecInvalid as exc:
        if as_json:
            print_json({"valid": False, "engine": engine, "problems": [p.__dict__ for p in exc.problems]})
        else:
            for p in exc.problems:
                # escaped: a message quotes the spec, which may look like rich markup ("[/x]")
                err_console.print(f"[red]{escape(p.location())}[/red]: {escape(p.message)}"
                                  + (f"\n    [yellow]hint:[/yellow] {escape(p.hint)}" if p.hint else ""))
            err_console.print(f"[bold red]{len(exc.problems)} problem(s)[/bold red]; nothing was deployed")
        sys.exit(EXIT_INVALID)
    if as_json:
        print_json({"valid": True, "engine": engine, "system": spec.system, "services": len(spec.services),
                    "commit": spec.commit})
    else:
        console.print(f"[green]valid[/green] for the {engine} engine: system {spec.system}, "
                      f"{len(spec.services)} service(s), {len(spec.groups)} group(s) ({source.label})")


@command("import", epilog="Example: gitdeploy import docker-compose.yml -o gitdeploy.yaml")
@click.argument("compose_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
@click.option("--system", default=None, help="System name [default: the compose file's folder].")
def import_cmd(ctx: Context, compose_file: Path, output: Path | None, system: str | None) -> None:
    """Turn a Docker Compose file into a gitdeploy spec (what cannot map is reported)."""
    from gitdeploy.spec.compose_import import import_compose

    text, warnings = import_compose(compose_file.read_text(), system or _system_name(compose_file.resolve().parent.name))
    for w in warnings:
        err_console.print(f"[yellow]warning:[/yellow] {w}")
    if output:
        if output.exists():
            raise GitdeployError(f"{output} exists", "choose another --output or remove it")
        output.write_text(text)
        console.print(f"[green]wrote[/green] {output}")
    else:
        click.echo(text, nl=False)


@command("plan", epilog="Example: gitdeploy plan --rev feature --format markdown\n\n"
         "Exit codes: 0 ok (3 with --exit-code when there are changes), 2 invalid spec.")
@REV
@WORKTREE
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--exit-code", is_flag=True, help="Exit 3 when the plan has changes.")
@click.option("--all", "show_all", is_flag=True, help="List unchanged services too.")
def plan_cmd(ctx: Context, rev: str, worktree: bool, fmt: str, exit_code: bool, show_all: bool) -> None:
    """Diff a commit of the spec against the live engine: what deploying it would change."""
    prepared = pipeline.prepare(ctx, rev, worktree)
    plan = prepared.plan
    if fmt == "json":
        click.echo(plan_json(plan))
    elif fmt == "markdown":
        click.echo(plan_markdown(plan))
    else:
        console.print(plan_text(plan, show_unchanged=show_all))
    if exit_code and plan.has_changes:
        sys.exit(EXIT_CHANGES)


@command("deploy", epilog="Example: gitdeploy --env staging deploy --rev v1.4.2\n\n"
         "Exit codes: 0 deployed and verified, 1 failed (rolled back), 2 invalid spec,\n"
         "130 interrupted (Ctrl-C: rolled back to the last verified revision).")
@REV
@WORKTREE
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def deploy_cmd(ctx: Context, rev: str, worktree: bool, as_json: bool) -> None:
    """Deploy a commit: plan, execute health-gated, verify, roll back on failure."""
    result = deploy_with_progress(ctx, rev, worktree, quiet=as_json)
    if as_json:
        print_json(result_to_dict(result))
    if not result.ok:
        sys.exit(EXIT_FAILED)


def deploy_with_progress(ctx: Context, rev: str, worktree: bool, quiet: bool = False,
                         trigger: str = "cli") -> Result:
    """pipeline.deploy with a live display; Ctrl-C (or SIGTERM) rolls back, a second one within
    5 s exits at once and leaves the journal for the next run to recover."""
    progress: DeployProgress | None = None
    planned = False

    def show_plan(plan: Plan) -> None:
        nonlocal progress, planned
        planned = True
        if not quiet:
            console.print(plan_text(plan))
        if plan.has_changes and not quiet:
            from gitdeploy.cli.progress import DeployProgress

            progress = DeployProgress(console, plan).__enter__()

    def on_event(ev: Event) -> None:
        if progress:
            progress.on_event(ev)
        elif not planned and not quiet and ev.kind in ("recovery", "lock-recovered", "rollback-error", "verify"):
            err_console.print(f"[yellow]{ev.message}[/yellow]", markup=True, highlight=False)

    cancel = Cancel()
    with interruptible(cancel):
        try:
            result = pipeline.deploy(ctx, rev, worktree=worktree, trigger=trigger, on_event=on_event,
                                     on_plan=show_plan, cancel=cancel)
        finally:
            if progress:
                progress.__exit__(None, None, None)
    if not quiet:
        console.print(result_text(result))
    if result.interrupted:
        err_console.print("interrupted: " + ("the last verified revision runs again (verified)"
                                             if result.rollback_verified else
                                             "the rollback is NOT verified; `gitdeploy check` shows the state"))
        sys.exit(EXIT_INTERRUPTED)
    return result


@contextmanager
def interruptible(cancel: Cancel, grace: float = 5.0) -> Iterator[None]:
    """SIGINT/SIGTERM fire `cancel` (stop, roll back, record); a second one within `grace` seconds
    exits at once with 130, leaving the journal for recovery."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: list[float] = []

    def handler(signum: int, _frame: object) -> None:
        now = time.monotonic()
        if first and now - first[0] <= grace:
            err_console.print("interrupted again: exiting now. The deploy journal is kept; the next "
                              "`gitdeploy deploy`, `fix` or server start recovers the environment first.")
            os._exit(EXIT_INTERRUPTED)
        first[:] = [now]
        err_console.print(f"{signal.Signals(signum).name}: starting nothing new, rolling back to the last "
                          f"verified revision (again within {grace:g}s to exit at once)")
        cancel.fire()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@command("status", epilog="Example: gitdeploy status --json")
@click.option("--json", "as_json", is_flag=True)
@REV
def status_cmd(ctx: Context, as_json: bool, rev: str) -> None:
    """What runs now: per service, replicas, commit, health."""
    # Imported here: `plan` and `deploy` need neither drift detection nor tables.
    from rich.table import Table

    from gitdeploy.heal.status import drift_status
    from gitdeploy.render.status import service_rows

    _, spec = pipeline.load(ctx, rev)
    live = ctx.engine().analyze(spec.system, ctx.env)
    wanted = {s.path: s.replicas for s in spec.services}
    rows = service_rows(live, wanted, containers=True)
    lock, frozen = holder(ctx.data_dir, ctx.env), freeze.frozen(ctx.data_dir, ctx.env)
    engine_lock = ctx.engine().lock_holder(spec.system, ctx.env)  # a deploy from any data dir
    halted = freeze.halted(ctx.data_dir, ctx.env, spec.system)
    drift = drift_status(ctx)
    if as_json:
        print_json({"system": spec.system, "env": ctx.env, "services": rows,
                    "lock": lock.__dict__ if lock else None, "frozen": frozen.__dict__ if frozen else None,
                    "halted": halted.__dict__ if halted else None, "drift": drift,
                    "engine_lock": engine_lock.holder.__dict__ if engine_lock and engine_lock.holder else None})
        return
    for label, brake in (("deploying", lock), ("frozen", frozen), ("halted", halted)):
        if brake:
            console.print(f"[yellow]{label}[/yellow]: {brake.describe()}")
    if engine_lock and not (lock and engine_lock.holder and engine_lock.holder.pid == lock.pid):
        console.print(f"[yellow]deploying[/yellow]: {engine_lock.describe()} (engine lock)", markup=True)
    table = Table(title=f"{spec.system} ({ctx.env})")
    on_cluster = any("nodes" in r for r in rows)
    for col in ("service", "replicas", "commit", "health", "kept") + (("nodes",) if on_cluster else ()):
        table.add_column(col)
    for r in rows:
        ok = r["running"] == r["wanted"]
        reps = f"[{'green' if ok else 'red'}]{r['running']}/{r['wanted']}[/]"
        cells = [r["service"], reps, ", ".join(r["commits"]) or "-", ", ".join(r["health"]) or "-", str(r["kept"])]
        if on_cluster:
            cells.append(", ".join(r.get("nodes", ())) or "-")
        table.add_row(*cells)
    console.print(table)
    console.print(drift["line"], markup=False)


@command("down", epilog="Example: gitdeploy down --volumes")
@click.option("--volumes", is_flag=True, help="Also remove the system's named volumes (data!).")
@click.option("--system", default=None, help="System name [default: from the spec at HEAD].")
def down_cmd(ctx: Context, volumes: bool, system: str | None) -> None:
    """Remove every container (and the network) of the system in this environment."""
    out = pipeline.down(ctx, system, volumes=volumes)
    extra = f", {out.volumes} volume(s)" if out.volumes is not None else " (volumes kept; --volumes removes them)"
    console.print(f"removed {out.containers} container(s) of {out.system} ({ctx.env}){extra}; marked halted "
                  "(the healer leaves it down; the next deploy brings it back)")
