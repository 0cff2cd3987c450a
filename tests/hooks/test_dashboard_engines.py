"""The dashboard reads each environment on the engine the server config names for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask

from gitdeploy import pipeline
from gitdeploy.hooks import repoconfig
from gitdeploy.server.config import Environment, ServerConfig
from gitdeploy.server.queue import JobQueue
from tests.specrepo import svc
from webhook.dashboard import dashboard_blueprint

pytestmark = pytest.mark.docker


def _socket() -> Path:
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        pytest.skip(f"the engine is not on a unix socket here ({host})")
    return Path(host.removeprefix("unix://"))


def _state(config: ServerConfig, tmp_path: Path) -> dict:
    app = Flask(__name__)
    app.register_blueprint(dashboard_blueprint(config, JobQueue(tmp_path / f"queue-{os.urandom(3).hex()}.db")))
    r = app.test_client().get("/api/state")
    assert r.status_code == 200
    (repo,) = r.get_json()["repositories"]
    return {e["name"]: e for e in repo["environments"]}


def test_each_environment_is_read_on_its_own_engine(spec_repo, system_name, tmp_path):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": svc()}}})
    with spec_repo.repo.config_writer() as cw:
        cw.set_value('gitdeploy "env.production"', "branch", "main")
        cw.set_value('gitdeploy "env.staging"', "branch", "main")
    assert pipeline.deploy(spec_repo.ctx()).ok
    repoconfig.register(spec_repo.data_dir, spec_repo.root)

    # production: the same engine through a second path to its socket; staging: no engine there
    second = tmp_path / "engine.sock"
    second.symlink_to(_socket())
    nowhere = tmp_path / "no-engine.sock"
    config = ServerConfig(data_dir=spec_repo.data_dir, repositories=(), environments=(
        Environment("production", "main", docker_host=f"unix://{second}"),
        Environment("staging", "main", docker_host=f"unix://{nowhere}"),
    ))
    envs = _state(config, tmp_path)
    prod, staging = envs["production"], envs["staging"]
    assert prod["services_error"] == ""
    assert [(s["service"], s["running"], s["wanted"]) for s in prod["services"]] == [("web", 1, 1)]
    assert "cannot reach the Docker Engine" in staging["services_error"] and str(nowhere) in staging["services_error"]
    assert staging["services"] == []

    # production is asked at its configured path, not at the default socket
    second.unlink()
    envs = _state(config, tmp_path)
    assert str(second) in envs["production"]["services_error"] and envs["production"]["services"] == []

    # the spec repository's git config names staging's engine: it wins over the server config's
    with spec_repo.repo.config_writer() as cw:
        cw.set_value('gitdeploy "env.staging"', "dockerHost", f"unix://{_socket()}")
    envs = _state(config, tmp_path)
    assert envs["staging"]["services_error"] == ""  # asked, and answered: nothing deployed to staging yet
    assert [(s["service"], s["running"], s["wanted"]) for s in envs["staging"]["services"]] == [("web", 0, 1)]
