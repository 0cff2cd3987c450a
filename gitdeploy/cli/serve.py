"""`gitdeploy serve --config FILE`: the GitHub bot (webhooks, job queue, handlers) and drift watchers."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from gitdeploy.cli.app import command
from gitdeploy.errors import GitdeployError
from gitdeploy.github.bot import Bot, BotHandlers
from gitdeploy.pipeline import Context
from gitdeploy.server.config import ServerConfig, load_config
from gitdeploy.server.recovery import recover_environments
from webhook.serve import serve

log = logging.getLogger("gitdeploy.serve")


@command("serve", epilog="Example: gitdeploy serve --config /etc/gitdeploy/server.yaml")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The server's YAML configuration (see gitdeploy.server.config).")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Run the drift watcher of every environment (its `heal:` mode: report or heal).")
@click.option("--log-level", default="INFO", show_default=True, help="DEBUG, INFO or WARNING.")
def serve_cmd(ctx: Context, config_path: Path, watch: bool, log_level: str) -> None:
    """Serve GitHub webhooks: plan pull requests, run PR-comment commands, deploy pushes."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(config_path)
    ctx.data_dir = config.data_dir  # the configured data dir: crash logs go there too
    handlers = BotHandlers(Bot(config))
    recover_environments(config, handlers.bot.context)
    handlers.watchers = start_watchers(config, handlers.bot) if watch else {}
    try:
        serve(config, handlers)
    finally:
        for w in handlers.watchers.values():
            w.stop()


def start_watchers(config: ServerConfig, bot: Bot) -> dict:
    """One drift watcher per environment (gitdeploy.heal.loop.Watcher), reporting drift as a GitHub issue.

    The watcher compares the engine with the commit last deployed from the spec repository's
    mirror, so it runs for the first configured repository; with several repositories deploying
    to one environment only that one is watched (logged).
    """
    from gitdeploy.github.notify import github_issue_notifier
    from gitdeploy.heal.loop import Watcher

    repo = config.repositories[0]
    if len(config.repositories) > 1:
        log.warning("drift watchers follow %s only (%d repositories configured)", repo, len(config.repositories))
    watchers = {}
    for env in config.environments:
        try:
            ctx = bot.context(repo, env)
        except GitdeployError as exc:
            log.error("no drift watcher for %s: %s", env.name, exc.message)
            continue
        w = Watcher(ctx, mode=env.heal, notify=github_issue_notifier(bot.issue_forge(repo)))
        w.start()
        watchers[env.name] = w
        log.info("drift watcher for %s started (%s mode)", env.name, env.heal)
    return watchers
