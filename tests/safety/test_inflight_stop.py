"""Kill it while the engine is still carrying out its request, and look.

A stop the deploy sent goes on in the engine after the deploy is killed: the engine waits out
the container's grace period, then kills it. A recovery that looked at the system during that
time saw the old replica still running at the verified revision, verified it, exited 0 - and the
replica died a few seconds later, unseen (found by the crash matrix under load in CI).

Here the kill point is driven by the engine's own state: the deploy is killed the moment the
engine sends the old replica its SIGTERM (the `kill` event of the stop), and the replica ignores
SIGTERM (a shell's `sleep` as PID 1, no init), so the stop is still running for its whole grace
period when the next command starts.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gitdeploy import pipeline
from gitdeploy.history.notes import attempts, deployed_commit
from tests.hooks.helpers import clean_env, free_port

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

GRACE = 6  # seconds the engine waits between SIGTERM and SIGKILL


def spec(system: str, version: str, port: int) -> dict:
    front = {"image": "gitdeploy/busybox:1", "command": ["sh", "-c", f"echo {version} >/dev/null; exec sleep 3600"],
             "init": False, "stop_grace_period": f"{GRACE}s", "ports": [f"127.0.0.1:{port}:8080"],  # stop-first
             "rollout": {"monitor": "0.3s"}}
    return {"system": system, "services": {"front": front}}


def cli(spec_repo, *args: str) -> list[str]:
    return [sys.executable, "-m", "gitdeploy", "--repo", str(spec_repo.root), "--data-dir",
            str(spec_repo.data_dir), *args]


def front(docker_client, system: str) -> list:
    return docker_client.containers.list(all=True, filters={"label": [f"io.gitdeploy.system={system}",
                                                                       "io.gitdeploy.service=front"]})


def test_a_stop_still_running_in_the_engine_is_waited_for_before_recovery_verifies(
        spec_repo, system_name, docker_client):
    port = free_port()
    verified = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "v0", port)})
    first = subprocess.run(cli(spec_repo, "deploy"), env=clean_env(), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    (old,) = [c for c in front(docker_client, system_name) if c.status == "running"]
    target = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "v1", port)})

    events = docker_client.api.events(since=int(time.time()) - 1, until=int(time.time()) + 120, decode=True,
                                      filters={"container": old.id, "event": "kill"})
    deploy = subprocess.Popen(cli(spec_repo, "deploy", "--rev", target), env=clean_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        sigterm = next(e for e in events if (e.get("Actor") or {}).get("Attributes", {}).get("signal") == "15")
        deploy.kill()  # the engine has begun the stop: it goes on without the process
    finally:
        events.close()
        deploy.kill()
        said = deploy.communicate(timeout=30)[0]
    assert deploy.returncode == -9, said
    assert docker_client.api.inspect_container(old.id)["State"]["Running"], "the stop is still under way"

    again = subprocess.run(cli(spec_repo, "deploy", "--rev", verified), env=clean_env(), capture_output=True,
                           text=True, timeout=120)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert "interrupted" in out and "asking again, and waiting for it" in out, out

    # The engine's stop is over by now, whatever it was: grace period past the SIGTERM.
    time.sleep(max(0.0, sigterm["timeNano"] / 1e9 + GRACE + 1 - time.time()))
    ctx = spec_repo.ctx()
    v = pipeline.check_verified(ctx, pipeline.prepare(ctx, verified))
    assert v.ok, v.problems
    assert [c.status for c in front(docker_client, system_name) if c.status == "running"] == ["running"]
    check = subprocess.run(cli(spec_repo, "check"), env=clean_env(), capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    repo = spec_repo.repo
    assert deployed_commit(repo, "production") == repo.commit(verified).hexsha
    mine = [a for a in attempts(repo, "production") if a.commit == repo.commit(target).hexsha]
    assert mine and mine[0].result == "interrupted", mine
