"""Bad input meets a message, a hint and an exit code - never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gitdeploy.cli import cli

pytestmark = pytest.mark.docker


def run(*args: str, env: dict | None = None):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def test_not_a_repository(tmp_path):
    r = run("--repo", str(tmp_path), "--data-dir", str(tmp_path / "d"), "plan")
    assert r.exit_code == 2
    assert "is not a git repository" in r.output and "hint:" in r.output


def test_invalid_spec_lists_problems_with_locations(spec_repo):
    spec_repo.commit({"gitdeploy.yaml": "system: s\nservices:\n  a: {image: x, replicas: many}\n"})
    args = ("--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir))
    r = run(*args, "validate")
    assert r.exit_code == 2 and "gitdeploy.yaml:3:" in r.output
    r = run(*args, "deploy")
    assert r.exit_code == 2 and "nothing was deployed" in r.output


def test_unreachable_engine_and_plan_exit_code(spec_repo, system_name):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {
        "a": {"image": "gitdeploy/busybox:1", "command": ["sleep", "60"]}}}})
    args = ("--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir))
    r = run(*args, "--docker-host", "tcp://127.0.0.1:1", "plan")
    assert r.exit_code == 1 and "cannot reach the Docker Engine" in r.output and "hint:" in r.output
    r = run(*args, "plan", "--exit-code")
    assert r.exit_code == 3 and "1 to create" in r.output
    r = run(*args, "plan", "--format", "json")
    assert r.exit_code == 0 and '"schema": "gitdeploy.plan/v1"' in r.output
