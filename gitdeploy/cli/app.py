"""The `gitdeploy` command group, its shared options and the one place errors meet users.

Every command module registers itself on `cli`; each command gets the shared `Context`.
Users see a message and a hint for a GitdeployError, and a one-line pointer to a log file for
anything else - never a traceback.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from gitdeploy import __version__
from gitdeploy.errors import EXIT_FAILED, EXIT_INVALID, GitdeployError
from gitdeploy.fsutil import is_storage_error, storage_error
from gitdeploy.live.engine import check_env_name
from gitdeploy.pipeline import DEFAULT_ENV, Context, default_data_dir
from gitdeploy.render.lines import crash_markup, error_markup
from gitdeploy.spec.engines import DEFAULT_ENGINE, ENGINES

# Never break a message or a file:line:col; piped output (hooks, CI logs) gets room for tables.
# No emoji codes: a commit message or a value saying ":x:" is printed as it is (and the emoji
# table is not loaded at every start).
console = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False,
                      width=None if sys.stderr.isatty() else 160)


# Which module defines each command: imported only when that command runs, so `gitdeploy plan`
# does not pay for Flask, PyGithub and the server (start-up time is part of every hook and CI step).
COMMAND_MODULES = {
    **dict.fromkeys(("init", "validate", "import", "plan", "deploy", "status", "down"), "core"),
    **dict.fromkeys(("check", "fix", "watch"), "heal"),
    **dict.fromkeys(("freeze", "unfreeze", "halt", "history", "rollback"), "safety"),
    **dict.fromkeys(("demo", "hook", "hooks", "completion"), "gitops"),
    "serve": "serve",
    "secrets": "secrets",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(f"gitdeploy.cli.{COMMAND_MODULES[name]}")
        return super().get_command(ctx, name)

    def load_all(self) -> None:
        for module in sorted(set(COMMAND_MODULES.values())):
            importlib.import_module(f"gitdeploy.cli.{module}")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gitdeploy")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True,
              envvar="GITDEPLOY_REPO", help="The spec repository.")
@click.option("--env", "env", default=DEFAULT_ENV, show_default=True, envvar="GITDEPLOY_ENV",
              callback=lambda _c, _p, v: _env_name(v), help="The environment to act on.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="GITDEPLOY_HOME", help="Where gitdeploy keeps state [default: ~/.local/share/gitdeploy].")
@click.option("--docker-host", default=None, envvar="DOCKER_HOST",
              help="Docker Engine endpoint (with --engine swarm: a manager of the cluster).")
@click.option("--engine", "engine_kind", type=click.Choice(ENGINES), default=DEFAULT_ENGINE, show_default=True,
              envvar="GITDEPLOY_ENGINE", help="docker: one Docker Engine; swarm: the Swarm cluster it manages.")
@click.option("--registry", default=None, envvar="GITDEPLOY_REGISTRY", metavar="HOST[:PORT][/PREFIX]",
              callback=lambda _c, _p, v: _registry(v),
              help="Where built images are pushed so that every node can pull them (swarm).")
@click.option("--secrets-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="GITDEPLOY_SECRETS_DIR", help="Folder of secret files [default: DATA_DIR/secrets.d].")
@click.pass_context
def cli(ctx: click.Context, repo: Path, env: str, data_dir: Path | None, docker_host: str | None,
        engine_kind: str, registry: str | None, secrets_dir: Path | None) -> None:
    """gitdeploy: the desired system lives in git; every change is planned against the live
    engine, deployed health-gated, verified and rolled back by revert.

    \b
    Examples:
      gitdeploy init shop && cd shop   # a spec repository with an example system
      gitdeploy validate               # every problem at once, with file:line:column
      gitdeploy plan                   # what deploying HEAD would change, field by field
      gitdeploy deploy                 # execute, verify, roll back on failure
      gitdeploy status                 # what runs, at which commit
      gitdeploy --engine swarm --docker-host ssh://manager --registry reg:5000 deploy   # a cluster
    """
    ctx.obj = Context(
        repo=repo.resolve(), env=env, data_dir=(data_dir or default_data_dir()).resolve(),
        docker_host=docker_host, secrets_dir=secrets_dir.resolve() if secrets_dir else None,
        engine_kind=engine_kind, registry=registry,
    )


def _env_name(env: str) -> str:
    try:
        return check_env_name(env)
    except GitdeployError as exc:
        raise click.BadParameter(f"{exc.message}; {exc.hint}") from None


def _registry(value: str | None) -> str | None:
    """The --registry value, checked (a bad one is a usage error, exit 2); None or "" when unset."""
    if not value:
        return None
    from gitdeploy.live.swarm.registry import Registry  # only with --registry (a cluster)

    try:
        return str(Registry.parse(value))
    except GitdeployError as exc:
        raise click.BadParameter(f"{exc.message}; {exc.hint}") from None


def command(*args: Any, **kwargs: Any) -> Callable:
    """`cli.command` whose body gets the Context and whose errors are reported properly."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            ctx = click.get_current_context().obj
            return run_reported(ctx, fn, ctx, *a, **kw)

        return cli.command(*args, **kwargs)(wrapper)

    return deco


def run_reported(ctx: Context, fn: Callable, *a: Any, **kw: Any) -> Any:
    try:
        return fn(*a, **kw)
    except GitdeployError as exc:
        for line in error_markup(exc.message, exc.hint):
            err_console.print(line)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit:
        raise
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/red]")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug: log it, tell the user where, no traceback
        if is_storage_error(exc):  # a full or failing disk is what it is, not a gitdeploy bug
            return run_reported(ctx, _raise, storage_error(exc))
        log = _crash_log(ctx, exc)
        for line in crash_markup(type(exc).__name__, str(exc), str(log)):
            err_console.print(line)
        sys.exit(EXIT_FAILED)


def _raise(exc: Exception) -> None:
    raise exc


def _crash_log(ctx: Context, exc: Exception) -> Path:
    """Write the traceback under the data directory in use (`ctx.data_dir`: the configured one)."""
    folder = ctx.data_dir / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
        path.write_text("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return Path("(could not write a log)")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def fail(message: str, hint: str = "", code: int = EXIT_INVALID) -> None:
    raise GitdeployError(message, hint, exit_code=code)
