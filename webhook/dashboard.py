"""The dashboard: one self-contained page (no CDN) and the JSON it polls.

    GET /              the page (webhook/dashboard.html: inline CSS and JS, refreshes every 2 s)
    GET /api/state     webhook.overview for the server's data directory
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import docker
from flask import Blueprint, Response, jsonify

from gitdeploy.server.config import ServerConfig
from gitdeploy.server.queue import JobQueue
from webhook.overview import overview

log = logging.getLogger(__name__)


def dashboard_blueprint(config: ServerConfig, queue: JobQueue) -> Blueprint:
    bp = Blueprint("dashboard", __name__)
    page = (Path(__file__).parent / "dashboard.html").read_text()
    engine: dict[str, docker.DockerClient | None] = {}
    engine_lock = threading.Lock()

    def client() -> docker.DockerClient | None:
        with engine_lock:
            if engine.get("client") is None:
                try:
                    engine["client"] = docker.from_env(timeout=10)
                except docker.errors.DockerException as exc:
                    log.warning("dashboard: no Docker Engine (%s)", exc)
                    return None
            return engine["client"]

    @bp.get("/")
    def index() -> Response:
        return Response(page, mimetype="text/html")

    @bp.get("/api/state")
    def state():
        return jsonify(overview(config.data_dir, client(), queue))

    return bp
