"""Lock, freeze and halt: one deploy at a time, stale locks recover, brakes hold, kill switch works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from gitdeploy import pipeline
from gitdeploy.cli import cli
from gitdeploy.deploy import lock
from gitdeploy.deploy.freeze import halted
from gitdeploy.errors import GitdeployError
from gitdeploy.history import attempts
from tests.safety.common import running, svc

pytestmark = pytest.mark.docker

HOLD = """
import sys, time
from pathlib import Path
from gitdeploy.deploy.lock import acquire
held = acquire(Path(sys.argv[1]), "production", trigger="hook", reason="slow deploy", owner="alice@ci")
print("held", flush=True)
time.sleep(60)
"""


def _holder(data_dir) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_live_holder_blocks_and_a_killed_one_is_recovered(spec_repo, system_name, docker_client):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"a": svc()}}})
    ctx = spec_repo.ctx()
    holder = _holder(ctx.data_dir)
    try:
        with pytest.raises(GitdeployError) as err:
            pipeline.deploy(ctx)
        assert "locked" in err.value.message and "alice@ci" in err.value.message
        assert f"pid {holder.pid}" in err.value.message and "since" in err.value.message
        assert lock.holder(ctx.data_dir, "production").owner == "alice@ci"
        status = CliRunner().invoke(cli, ["--repo", str(spec_repo.root), "--data-dir", str(ctx.data_dir), "status"])
        assert "deploying" in status.output and "alice@ci" in status.output
        assert running(docker_client, system_name) == []
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
    assert lock.holder(ctx.data_dir, "production") is None  # the kernel released the flock
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    recovered = [e.message for e in result.events if e.kind == "lock-recovered"]
    assert recovered == [f"recovered a stale lock from pid {holder.pid} (alice@ci)"]
    # a clean release leaves nothing to recover
    again = pipeline.deploy(ctx)
    assert not [e for e in again.events if e.kind == "lock-recovered"]


def test_lock_in_process_is_exclusive(tmp_path):
    with lock.acquire(tmp_path, "staging", trigger="cli", owner="bob@x"):
        with pytest.raises(GitdeployError, match="bob@x"):
            lock.acquire(tmp_path, "staging", trigger="cli")
        lock.acquire(tmp_path, "production", trigger="cli").release()  # other environments are free
    lock.acquire(tmp_path, "staging", trigger="cli").release()


def test_freeze_blocks_until_unfrozen_and_halt_stops_all_until_next_deploy(spec_repo, system_name, docker_client):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"a": svc(replicas=2), "b": svc()}}})
    ctx = spec_repo.ctx()
    runner = CliRunner()
    base = ["--repo", str(spec_repo.root), "--data-dir", str(ctx.data_dir)]

    out = runner.invoke(cli, base + ["freeze", "--reason", "incident 42"])
    assert out.exit_code == 0 and "incident 42" in out.output
    out = runner.invoke(cli, base + ["deploy"])
    assert out.exit_code == 1
    assert "frozen by" in out.output and "incident 42" in out.output and "@" in out.output
    with pytest.raises(GitdeployError, match="frozen by .*incident 42"):
        pipeline.deploy(ctx, trigger="heal")  # repairs are refused too
    assert running(docker_client, system_name) == []
    assert runner.invoke(cli, base + ["unfreeze"]).exit_code == 0
    assert pipeline.deploy(ctx).ok
    ids = {c.id for c in running(docker_client, system_name)}
    assert len(ids) == 3

    t0 = time.monotonic()
    out = runner.invoke(cli, base + ["halt", "--reason", "runaway orders"])
    assert out.exit_code == 0, out.output
    assert "3 container(s) stopped" in out.output and time.monotonic() - t0 < 10
    assert running(docker_client, system_name) == []
    assert halted(ctx.data_dir, ctx.env, system_name) is not None
    halts = [a for a in attempts(spec_repo.repo, "production") if a.trigger == "halt"]
    assert [(a.result, a.failure) for a in halts] == [("halted", "runaway orders")]

    plan = pipeline.prepare(ctx).plan
    assert {c.action for c in plan.changes} == {"start"}
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    assert {c.id for c in running(docker_client, system_name)} == ids  # the same containers, started
    assert halted(ctx.data_dir, ctx.env, system_name) is None
