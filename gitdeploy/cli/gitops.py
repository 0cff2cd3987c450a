"""Plain-git commands: `hook` (what the installed hooks run), `hooks install`, `demo`, `completion`."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path

import click
import git

from gitdeploy import pipeline
from gitdeploy.cli import demo
from gitdeploy.cli.app import cli, command, console, run_reported
from gitdeploy.cli.core import deploy_with_progress
from gitdeploy.errors import EXIT_FAILED, GitdeployError
from gitdeploy.history.notes import deployed_commit
from gitdeploy.hooks import hooks as gitops_hooks
from gitdeploy.hooks import jobs, repoconfig
from gitdeploy.hooks.install import install
from gitdeploy.hooks.jobs import stderr_emit
from gitdeploy.pipeline import Context
from gitdeploy.server.datadir import server_running

HOOK_HELP = """\b
Run by the scripts `gitdeploy hooks install` puts into a repository; you rarely call these.
Environments are branches, set in the repository's git config (default: main -> production):
  git config gitdeploy.env.production.branch main
  git config gitdeploy.env.staging.branch staging
An environment may deploy to a Swarm cluster (these win over --engine, --registry, --docker-host):
  git config gitdeploy.env.production.engine swarm
  git config gitdeploy.env.production.registry registry.internal:5000/shop
  git config gitdeploy.env.production.dockerHost ssh://deploy@manager1
"""


@cli.group("hook", help="What the installed git hooks run (they only `exec gitdeploy hook NAME`).\n\n" + HOOK_HELP,
           epilog="Example: gitdeploy hook pre-commit   # in a clone, on what is staged")
def hook_group() -> None:
    pass


def _hook_ctx() -> Context:
    """The Context of a server-side hook: git runs it inside the bare repository."""
    ctx: Context = click.get_current_context().obj
    repo = git.Repo(ctx.repo)
    ctx.data_dir = repoconfig.hook_data_dir(repo, ctx.data_dir)  # in place: crash logs go there too
    return ctx


@hook_group.command("pre-receive", epilog="""\b
Example (inside a bare repository, as git runs it):
  echo "$OLD $NEW refs/heads/main" | gitdeploy hook pre-receive
Exit 1 rejects the push; the pusher sees the problems as `remote:` lines.""")
def pre_receive_cmd() -> None:
    """Validate every new commit on an environment branch (stdin: `old new ref` lines)."""
    ctx = click.get_current_context().obj
    sys.exit(run_reported(ctx, lambda: gitops_hooks.pre_receive(_hook_ctx(), sys.stdin.read(), stderr_emit)))


@hook_group.command("post-receive", epilog="""\b
Example (inside a bare repository, as git runs it):
  echo "$OLD $NEW refs/heads/main" | GITDEPLOY_PUSHER=alice gitdeploy hook post-receive
Deploys through the server's queue when a server runs on the data dir, directly otherwise.""")
def post_receive_cmd() -> None:
    """Deploy the new head of every updated environment branch, streaming plan and outcome."""
    ctx = click.get_current_context().obj
    sys.exit(run_reported(ctx, lambda: gitops_hooks.post_receive(_hook_ctx(), sys.stdin.read(), stderr_emit)))


@hook_group.command("pre-commit", epilog="Example: git add gitdeploy.yaml && gitdeploy hook pre-commit\n\n"
                    "Skip once with `git commit --no-verify`.")
def pre_commit_cmd() -> None:
    """Validate the staged gitdeploy.yaml (the index) before the commit exists."""
    ctx = click.get_current_context().obj
    sys.exit(run_reported(ctx, lambda: gitops_hooks.pre_commit(Path.cwd(), stderr_emit, ctx.engine_kind)))


@cli.group("hooks", help="Install gitdeploy's git hooks into a repository.",
           epilog="Example: gitdeploy hooks install /srv/git/shop.git")
def hooks_group() -> None:
    pass


@hooks_group.command("install", epilog="""\b
Examples:
  git init --bare /srv/git/shop.git && gitdeploy hooks install /srv/git/shop.git
  gitdeploy hooks install --client .     # pre-commit in a clone
""")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--client", is_flag=True, help="Install pre-commit into a clone instead of the server hooks.")
@click.option("--force", is_flag=True, help="Replace hooks that are not gitdeploy's (a copy is kept).")
def hooks_install_cmd(path: Path, client: bool, force: bool) -> None:
    """Install pre-receive + post-receive into a bare repository (idempotent)."""
    ctx: Context = click.get_current_context().obj
    run_reported(ctx, _install, ctx, path, client, force)


def _install(ctx: Context, path: Path, client: bool, force: bool) -> None:
    done = install(path.resolve(), client=client, force=force)
    if not client:
        repo = git.Repo(done.repo)
        if repoconfig.configured_data_dir(repo) is None:
            repo.git.config("gitdeploy.dataDir", str(ctx.data_dir))
        repoconfig.register(repoconfig.hook_data_dir(repo, ctx.data_dir), done.repo)
    what = ", ".join(done.written) or "nothing"
    same = f" ({', '.join(done.unchanged)} already installed)" if done.unchanged else ""
    console.print(f"[green]installed[/green] {what} in {done.hooks_dir}{same}", soft_wrap=True)
    if not client:
        envs = repoconfig.environments(git.Repo(done.repo))
        console.print("environments: " + ", ".join(f"{b} -> {e}" for e, b in sorted(envs.items()))
                      + "  (git config gitdeploy.env.<name>.branch <branch>)", soft_wrap=True, markup=False)
        engines = ", ".join(_engine_of(ctx, git.Repo(done.repo), e) for e in sorted(envs))
        console.print(f"engines: {engines}  (git config gitdeploy.env.<name>.engine docker|swarm, "
                      ".registry HOST[:PORT][/PREFIX], .dockerHost URL)", soft_wrap=True, markup=False)


def _engine_of(ctx: Context, repo: git.Repo, env: str) -> str:
    """"production -> swarm at ssh://m (registry r:5000)": where the hooks deploy `env`."""
    try:
        env_ctx = repoconfig.environment_context(replace(ctx, repo=Path(repo.git_dir)), env)
    except GitdeployError as exc:
        return f"{env} -> ({exc.message})"
    at = f" at {env_ctx.docker_host}" if env_ctx.docker_host else ""
    registry = f" (registry {env_ctx.registry})" if env_ctx.registry else ""
    return f"{env} -> {env_ctx.engine_kind}{at}{registry}"


@command("demo", epilog="""\b
Examples:
  gitdeploy demo                      # set up (or reuse) everything, then serve until Ctrl-C
  gitdeploy demo --no-serve           # set up and deploy, then exit
  gitdeploy demo --port 9000 --web-port 9080
""")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the bare spec repository lives [default: DATA_DIR/demo].")
@click.option("--port", default=8470, show_default=True, help="The server's (dashboard's) port on 127.0.0.1.")
@click.option("--web-port", default=8080, show_default=True, help="The web service's port (used when seeding).")
@click.option("--system", default="demo", show_default=True, help="System name (used when seeding).")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the dashboard afterwards.")
def demo_cmd(ctx: Context, directory: Path | None, port: int, web_port: int, system: str, serve: bool) -> None:
    """The whole loop on one machine: a bare spec repo with hooks, deployed, plus the dashboard."""
    bare = (directory.resolve() if directory else ctx.data_dir / "demo") / "shop.git"
    created = demo.seed(bare, system, web_port)
    console.print(f"[bold]1. spec repository[/bold] {bare} "
                  + ("(created with the example system)" if created else "(reused)"))
    _install(ctx, bare, client=False, force=False)
    ctx.engine().ensure_base_image()
    console.print(f"[bold]2. deploy[/bold] main -> {ctx.env}")
    hook_ctx = repoconfig.environment_context(
        replace(ctx, repo=bare, data_dir=repoconfig.hook_data_dir(git.Repo(bare), ctx.data_dir)), ctx.env)
    repo = git.Repo(bare)
    head = repo.commit("main").hexsha
    if deployed_commit(repo, ctx.env) == head and not pipeline.prepare(hook_ctx, head).plan.has_changes:
        console.print(f"   already deployed and running: {head[:7]} {repo.commit(head).summary}")
    elif not deploy_with_progress(hook_ctx, head, False, trigger="demo").ok:
        raise GitdeployError("the demo system did not deploy", "see the failure above; `gitdeploy demo` again retries",
                             exit_code=EXIT_FAILED)
    web = f"http://127.0.0.1:{demo.web_port_of(bare) or web_port}/"
    body = demo.fetch(web)
    console.print(f"[bold]3. web service[/bold] {web} "
                  + ("[green]answers[/green]" if body is not None else "[red]does not answer (yet)[/red]"))
    dashboard = f"http://127.0.0.1:{port}/"
    running = server_running(hook_ctx.data_dir)
    console.print(f"""
[bold]Next[/bold]
  git clone {bare} shop && cd shop
  edit web/index.html or gitdeploy.yaml, then:  git commit -am "..." && git push
    (validated, planned and deployed; plan and outcome come back as `remote:` lines)
  roll back:  git revert --no-edit HEAD && git push
  dashboard:  {dashboard}
  web:        {web}
  state:      {hook_ctx.data_dir} (git + SQLite; no external database)""", soft_wrap=True)
    if not serve:
        return
    if running:
        console.print(f"[yellow]a gitdeploy server already runs on {hook_ctx.data_dir}[/yellow]; not starting another")
        return
    from webhook.serve import serve as serve_forever

    config = demo.server_config(hook_ctx.data_dir, bare, port)
    console.print(f"\n[bold]serving[/bold] the dashboard on {dashboard} (webhook secret: "
                  f"{hook_ctx.data_dir / demo.SECRET_FILE}); Ctrl-C stops it", soft_wrap=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve_forever(config, jobs.handlers(hook_ctx.data_dir))


@cli.command("completion", epilog="""\b
Examples:
  eval "$(gitdeploy completion bash)"                  # in ~/.bashrc
  gitdeploy completion zsh > "${fpath[1]}/_gitdeploy"
  gitdeploy completion fish > ~/.config/fish/completions/gitdeploy.fish
""")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell: str) -> None:
    """Print the shell completion script for gitdeploy."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    click.echo(cls(cli, {}, "gitdeploy", "_GITDEPLOY_COMPLETE").source())
