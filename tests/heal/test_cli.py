"""`gitdeploy check`, `fix` and the drift line of `status`, end to end (real engine)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gitdeploy.cli import cli
from tests.heal.helpers import containers

pytestmark = pytest.mark.docker


def run(ctx, *args):
    base = ["--repo", str(ctx.repo), "--data-dir", str(ctx.data_dir), "--secrets-dir", str(ctx.secrets_dir)]
    return CliRunner().invoke(cli, base + list(args), catch_exceptions=False)


def test_check_fix_and_status(deployed, docker_client, system_name):
    ctx, _ = deployed
    ok = run(ctx, "check")
    assert ok.exit_code == 0 and "no drift" in ok.output
    (app,) = containers(docker_client, system_name, "app")
    app.exec_run(["sh", "-c", "echo hi > /srv/app/note"])
    drifted = run(ctx, "check", "--json")
    assert drifted.exit_code == 3
    data = json.loads(drifted.output)
    assert data["counts"]["tampered"] == 1 and data["drift"][0]["actual"] == "A /srv/app/note"
    assert "1 tampered" in run(ctx, "status").output
    fixed = run(ctx, "fix")
    assert fixed.exit_code == 0, fixed.output
    assert "no drift" in fixed.output
    assert "drift: none" in run(ctx, "status").output
