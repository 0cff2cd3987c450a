"""Ctrl-C (SIGINT) and SIGTERM during `gitdeploy deploy`: stop starting work, roll back to the last
verified revision, verify, record `interrupted`, exit 130. A second one within seconds exits at
once and leaves the journal, which the next deploy recovers. The signal is sent when the
journal shows the deploy mid-rollout (driven by state, not by sleeps)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitdeploy import pipeline
from gitdeploy.history.notes import attempts, deployed_commit
from tests.hooks.helpers import clean_env
from tests.safety.common import svc, web

pytestmark = pytest.mark.docker

GITDEPLOY = str(Path(sys.executable).parent / "gitdeploy")


def system(name: str, version: str, monitor: str = "0.3s") -> dict:
    """The revision that is interrupted gets a long monitor window (monitor="30s"): that deploy is
    certainly still running when the signal comes. The verified one before it needs none."""
    return {"system": name, "services": {
        "api": web(version, rollout={"deadline": "20s", "drain": "0.1s"}),
        "worker": svc(command=["sh", "-c", f": {version}; exec sleep 3600"], rollout={"monitor": monitor})}}


def start_deploy(spec_repo, rev: str) -> subprocess.Popen:
    return subprocess.Popen([GITDEPLOY, "--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir),
                             "deploy", "--rev", rev], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env())


def wait_for_journal(spec_repo, op: str, step: str, timeout: float = 60) -> None:
    log = spec_repo.data_dir / "envs" / "production" / "journal.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            for line in log.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("op") == op and rec.get("step") == step:
                    return
        time.sleep(0.02)
    raise AssertionError(f"the journal never showed {step} {op}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_one_signal_rolls_back_verifies_records_and_exits_130(sig, spec_repo, system_name):
    good = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v1")})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx, good).ok
    bad = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v2", monitor="30s")})
    proc = start_deploy(spec_repo, bad)
    wait_for_journal(spec_repo, "start", "worker")  # mid-rollout: worker's 30 s window is open
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "rolling back to the last verified revision" in err
    assert "INTERRUPTED, rolled back (last verified revision restored and verified)" in out
    assert "Traceback" not in out + err
    repo = pipeline.open_repo(spec_repo.root)
    assert deployed_commit(repo, "production") == good
    last = next(a for a in attempts(repo, "production") if a.commit == bad)
    assert last.result == "interrupted"
    assert pipeline.check_verified(ctx, pipeline.prepare(ctx, good)).ok
    assert not (spec_repo.data_dir / "envs" / "production" / "journal.json").exists()


def test_a_second_ctrl_c_exits_at_once_and_the_next_deploy_recovers(spec_repo, system_name):
    good = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v1")})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx, good).ok
    bad = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v2", monitor="30s")})
    proc = start_deploy(spec_repo, bad)
    wait_for_journal(spec_repo, "start", "worker")
    proc.send_signal(signal.SIGINT)
    first = proc.stderr.readline()  # the first one was seen (two at once could merge into one)
    assert first.startswith("SIGINT: starting nothing new"), first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "exiting now" in err and "recovers the environment first" in err
    assert (spec_repo.data_dir / "envs" / "production" / "journal.json").exists()

    events = []
    again = pipeline.deploy(ctx, good, on_event=events.append)
    assert again.ok, again.failure
    assert any(e.kind == "recovery" and "interrupted" in e.message for e in events)
    repo = pipeline.open_repo(spec_repo.root)
    assert next(a for a in attempts(repo, "production") if a.commit == bad).result == "interrupted"
    assert deployed_commit(repo, "production") == good
    assert pipeline.check_verified(ctx, pipeline.prepare(ctx, good)).ok


def test_a_server_start_recovers_what_a_killed_deploy_left(spec_repo, system_name):
    """What `gitdeploy serve` does before it serves (gitdeploy.server.recovery), for a deploy
    killed mid-rollout: back to the last verified revision, recorded as interrupted."""
    from gitdeploy.server.config import Environment, ServerConfig
    from gitdeploy.server.recovery import recover_environments

    good = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v1")})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx, good).ok
    bad = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v2", monitor="30s")})
    env = clean_env(GITDEPLOY_FAILPOINT="journal:6")
    killed = subprocess.run([GITDEPLOY, "--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir),
                             "deploy", "--rev", bad], capture_output=True, text=True, env=env, timeout=120)
    assert killed.returncode == -9
    config = ServerConfig(data_dir=spec_repo.data_dir, repositories=("acme/shop",),
                          environments=(Environment("production", "main"),))
    seen = []
    assert recover_environments(config, lambda repo, e: seen.append((repo, e.name)) or spec_repo.ctx()) == 1
    assert seen == [("acme/shop", "production")]
    repo = pipeline.open_repo(spec_repo.root)
    assert next(a for a in attempts(repo, "production") if a.commit == bad).result == "interrupted"
    assert deployed_commit(repo, "production") == good
    assert pipeline.check_verified(ctx, pipeline.prepare(ctx, good)).ok
    assert recover_environments(config, lambda repo, e: spec_repo.ctx()) == 0  # nothing left
