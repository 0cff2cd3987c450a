"""The dashboard: one self-contained page (no CDN) and the JSON it polls.

    GET /              the page (webhook/dashboard.html: inline CSS and JS, refreshes every 2 s)
    GET /api/state     webhook.overview for the server's data directory

Each environment is shown as it runs on its own engine: the server config's `docker_host`,
`engine` and `registry` of that environment (DOCKER_HOST or the local socket, one Docker Engine,
for one it does not name), where the spec repository's git config (`gitdeploy.env.<name>.*`,
gitdeploy.hooks.repoconfig) does not say otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify

from gitdeploy.errors import GitdeployError
from gitdeploy.hooks import repoconfig
from gitdeploy.live.factory import connect
from gitdeploy.pipeline import Context
from gitdeploy.server.config import ServerConfig
from gitdeploy.server.queue import JobQueue
from gitdeploy.spec.scheduling import DEFAULT_ENGINE
from webhook.overview import overview

log = logging.getLogger(__name__)

RETRY = 10.0  # seconds before an engine that did not answer is asked again


def dashboard_blueprint(config: ServerConfig, queue: JobQueue) -> Blueprint:
    bp = Blueprint("dashboard", __name__)
    page = (Path(__file__).parent / "dashboard.html").read_text()
    connections: dict[str | None, Any] = {}  # one per docker_host, made on first use
    failed: dict[str | None, tuple[float, GitdeployError]] = {}  # not asked again for RETRY seconds
    guard = threading.Lock()

    def context_for(repo: Path, env: str) -> Context:
        """The context of `env` on its configured engine; raises GitdeployError naming the engine
        when it cannot be reached (the page then says so for that environment only)."""
        configured = config.environment(env)
        ctx = Context(repo=repo, env=env, data_dir=config.data_dir,
                      docker_host=configured.docker_host if configured else None,
                      engine_kind=configured.engine if configured else DEFAULT_ENGINE,
                      registry=configured.registry if configured else None)
        ctx = repoconfig.environment_context(ctx, env)
        host = ctx.docker_host
        with guard:
            if host not in connections:
                last = failed.get(host)
                if last and time.monotonic() - last[0] < RETRY:
                    raise last[1]  # an engine that does not answer must not slow every poll
                try:
                    connections[host] = connect(host, timeout=10)
                except GitdeployError as exc:
                    failed[host] = (time.monotonic(), exc)
                    raise
            conn = connections[host]
        ctx.client = conn
        return ctx

    @bp.get("/")
    def index() -> Response:
        return Response(page, mimetype="text/html")

    @bp.get("/api/state")
    def state():
        return jsonify(overview(config.data_dir, context_for, queue))

    return bp
