"""Fixtures for the heal tests: a small deployed system on the real engine."""

from __future__ import annotations

import pytest

from gitdeploy import pipeline
from tests.heal.helpers import svc


@pytest.fixture
def deployed(spec_repo, system_name, tmp_path):
    """Deploy a system exercising every kind of mount, a port, init, a working dir and a health check.

    Returns (ctx, spec dict) after a verified deploy.
    """
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "api_key").write_text("s3cret")
    spec = {
        "system": system_name,
        "services": {
            "app": svc(environment={"LEVEL": "info"}, working_dir="/srv/app",
                       configs=[{"source": "conf/app.conf", "target": "/etc/app/app.conf"}], secrets=["api_key"],
                       volumes=["data:/var/lib/data"], drift_ignore=["/tmp/cache"]),
            "worker": svc(replicas=2, healthcheck={"test": ["CMD", "true"], "interval": "1s"}),
        },
    }
    spec_repo.commit({"gitdeploy.yaml": spec, "conf/app.conf": "threads=2\n"})
    ctx = spec_repo.ctx(secrets_dir=secrets)
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    return ctx, spec
