"""What `gitdeploy serve` runs: the bot's handlers, the hooks' deploy jobs and drift metrics."""

from __future__ import annotations

from prometheus_client import generate_latest

from gitdeploy.github.bot import handlers_for
from gitdeploy.hooks.jobs import KIND as HOOK_DEPLOY
from gitdeploy.server.config import load_config
from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import JobQueue


def test_serve_registry_runs_hook_deploys_and_exports_drift(tmp_path):
    cfg = tmp_path / "server.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path / 'data'}\nwebhook_secret: s3cret\nrepositories: [acme/shop]\n"
        "environments: {production: {branch: main}}\ngithub: {token: t, pace: false}\n"
    )
    config = load_config(cfg)
    handlers = handlers_for(config)
    assert {"plan", "command", "deploy", "release", HOOK_DEPLOY} <= set(handlers)
    metrics = Metrics()
    queue = JobQueue(tmp_path / "q.sqlite3")
    try:
        handlers.bind(queue, metrics)
        text = generate_latest(metrics.registry).decode()
    finally:
        queue.close()
    assert "# HELP gitdeploy_drift Drift items by environment and kind" in text
    assert "gitdeploy_heal_given_up" in text
