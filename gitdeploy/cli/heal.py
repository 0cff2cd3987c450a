"""Homeostasis commands: check, fix, watch."""

from __future__ import annotations

import sys

import click

from gitdeploy.cli.app import command, console, err_console, print_json
from gitdeploy.deploy.result import Event
from gitdeploy.errors import EXIT_CHANGES, EXIT_FAILED
from gitdeploy.heal import check, fix
from gitdeploy.heal.loop import Policy, Watcher, WatchEvent
from gitdeploy.heal.state import StateStore, state_path
from gitdeploy.pipeline import Context
from gitdeploy.render.drift import report_text
from gitdeploy.render.lines import repair_line, watch_line
from gitdeploy.render.result import result_to_dict
from gitdeploy.spec.durations import parse_duration


def _node_hosts(_c: click.Context, _p: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        node, sep, host = v.partition("=")
        if not sep or not node.strip() or not host.strip():
            raise click.BadParameter(f"{v!r} is not NODE=HOST (e.g. node2=tcp://10.0.0.2:2376)",
                                     param_hint="--node-host")
        out[node.strip()] = host.strip()
    return out


node_hosts_option = click.option(
    "--node-host", "node_hosts", multiple=True, metavar="NODE=HOST", envvar="GITDEPLOY_NODE_HOSTS",
    callback=_node_hosts,
    help="Swarm: the Docker Engine of node NODE (its hostname), where files inside its tasks' containers "
         "are checked; repeatable. Nodes without one are reported as not checked (the manager's own needs none).")


@command("check", epilog="Example: gitdeploy check --json\n\nExit codes: 0 no drift, 3 drift found, 1 engine or spec error.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable drift.")
@node_hosts_option
def check_cmd(ctx: Context, as_json: bool, node_hosts: dict[str, str]) -> None:
    """Compare the live system with the commit last deployed to the environment."""
    ctx.node_hosts = node_hosts
    report = check(ctx)
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(report_text(report), markup=False)
    if not report.clean:
        sys.exit(EXIT_CHANGES)


@command("fix", epilog="Example: gitdeploy fix\n\n"
         "Exit codes: 0 no drift left, 3 drift left (e.g. unmanaged containers), 1 repair failed.")
@click.option("--json", "as_json", is_flag=True)
@node_hosts_option
def fix_cmd(ctx: Context, as_json: bool, node_hosts: dict[str, str]) -> None:
    """Repair only what drifted, by deploying the deployed commit again (health-gated, recorded)."""
    ctx.node_hosts = node_hosts

    def on_event(ev: Event) -> None:
        if not as_json:
            console.print(repair_line(ev), markup=False)

    out = fix(ctx, on_event=on_event)
    store = StateStore(state_path(ctx.data_dir, ctx.env))
    state = store.load()
    if state.services:  # a person repaired: the watcher may try again on what is clean now
        for path in set(state.services) - out.after.services:
            del state.services[path]
        store.save(state)
    if as_json:
        print_json({"before": out.before.to_dict(), "after": out.after.to_dict(), "skipped": out.skipped or None,
                    "services": out.services, "removed": out.removed,
                    "result": result_to_dict(out.result) if out.result else None})
    else:
        if out.skipped:
            console.print(f"nothing run: {out.skipped}", markup=False)
        if out.result is not None:
            console.print(out.result.headline, markup=False)
        console.print(report_text(out.after), markup=False)
    if out.result is not None and not out.result.ok:
        sys.exit(EXIT_FAILED)
    if not out.after.clean:
        sys.exit(EXIT_CHANGES)


@command("watch", epilog="Example: gitdeploy watch --mode heal --interval 30s")
@click.option("--mode", type=click.Choice(["report", "heal"]), default="report", show_default=True,
              help="report: say what drifted; heal: also repair it.")
@click.option("--interval", default="30s", show_default=True, help="Reconcile at least this often.")
@node_hosts_option
def watch_cmd(ctx: Context, mode: str, interval: str, node_hosts: dict[str, str]) -> None:
    """Watch the engine's events (and reconcile on an interval); in heal mode repair drift."""
    ctx.node_hosts = node_hosts
    try:
        seconds = parse_duration(interval)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--interval") from None

    def show(ev: WatchEvent) -> None:
        (err_console if ev.loud else console).print(watch_line(ev.time, ev.kind, ev.message), markup=False)

    console.print(f"watching {ctx.env} ({mode} mode, every {interval} and on engine events); Ctrl-C stops",
                  markup=False)
    Watcher(ctx, mode=mode, interval=seconds, policy=Policy(), on_event=show).run()
