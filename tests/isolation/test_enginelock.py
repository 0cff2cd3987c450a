"""The engine lock: one deploy per system and environment, whatever the data dir (issue 9 item 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import docker
import pytest
from click.testing import CliRunner

from gitdeploy import pipeline
from gitdeploy.cli import cli
from gitdeploy.errors import GitdeployError
from gitdeploy.heal import check
from gitdeploy.live import enginelock
from gitdeploy.live.enginelock import Holder, current, hold, lock_name, stale_reason
from tests.specrepo import svc

pytestmark = pytest.mark.docker

HOLD = """
import dataclasses, sys, time
import docker
from gitdeploy.live.enginelock import Holder, hold
system, data_dir, lease, boot = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
me = Holder.here("deploy HEAD (cli)", who="alice@ci", data_dir=data_dir)
if boot:
    me = dataclasses.replace(me, boot_id=boot)  # as if it ran on another host
lock = hold(docker.from_env(), system, "production", me, lease=lease)
print("held", flush=True)
time.sleep(120)
"""


def holder_process(system: str, data_dir, lease: float = 60, other_host: bool = False) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, system, str(data_dir), str(lease), "elsewhere" if other_host else ""],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def kill(p: subprocess.Popen) -> None:
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)


def me(data_dir) -> Holder:
    return Holder.here("deploy HEAD (cli)", who="bob@laptop", data_dir=str(data_dir))


def test_two_data_dirs_one_is_refused_naming_the_holder_and_a_killed_holder_is_recovered(
        docker_client, system_name, tmp_path):
    first = holder_process(system_name, tmp_path / "data-a")
    try:
        with pytest.raises(GitdeployError) as err:
            hold(docker_client, system_name, "production", me(tmp_path / "data-b"))
        msg = err.value.message
        assert "is being deployed on this engine by alice@ci" in msg
        assert f"pid {first.pid} on " in msg and f"data dir {tmp_path / 'data-a'}" in msg
        assert current(docker_client, system_name, "production").holder.pid == first.pid
    finally:
        kill(first)
    assert current(docker_client, system_name, "production").holder.pid == first.pid  # left behind,
    assert enginelock.held(docker_client, system_name, "production") is None  # but stale
    # on this host, a dead pid frees the lock at once (no waiting for the lease)
    with hold(docker_client, system_name, "production", me(tmp_path / "data-b")) as lock:
        stale, why = lock.recovered
        assert stale.pid == first.pid and stale.who == "alice@ci" and "is gone" in why
        assert current(docker_client, system_name, "production").holder.who == "bob@laptop"
    assert current(docker_client, system_name, "production") is None  # free at once
    enginelock._finish_background()  # the released (and the taken-over) containers are swept
    assert docker_client.containers.list(all=True, filters={"label": f"{enginelock.LOCK_SYSTEM}={system_name}"}) == []


def test_a_holder_elsewhere_keeps_its_lease_renewed_and_is_recovered_once_it_runs_out(
        docker_client, system_name, tmp_path):
    far = holder_process(system_name, tmp_path / "a", lease=3, other_host=True)
    try:
        time.sleep(4)  # longer than the lease: only renewal keeps it held
        with pytest.raises(GitdeployError):
            hold(docker_client, system_name, "production", me(tmp_path))
    finally:
        kill(far)
    with pytest.raises(GitdeployError):  # its pid is not ours to judge: the lease still runs
        hold(docker_client, system_name, "production", me(tmp_path))
    deadline = time.monotonic() + 30
    while True:
        try:
            lock = hold(docker_client, system_name, "production", me(tmp_path))
            break
        except GitdeployError:
            assert time.monotonic() < deadline, "the expired lease was never taken over"
            time.sleep(0.5)
    with lock:
        assert "lease ran out" in lock.recovered[1] and lock.recovered[0].pid == far.pid


def test_a_holder_whose_lock_was_taken_over_learns_it(docker_client, system_name, tmp_path):
    lock = hold(docker_client, system_name, "production", me(tmp_path), lease=60)
    try:
        assert lock.renew()
        lock.check()
        docker_client.api.rename(lock.id, f"{system_name}-taken")  # what a taker does first
        assert not lock.renew()
        with pytest.raises(GitdeployError) as err:
            lock.check()
        assert "took the lock over" in err.value.message
    finally:
        lock.release()
    enginelock._finish_background()
    with pytest.raises(docker.errors.NotFound):
        docker_client.api.inspect_container(lock.id)


def test_a_foreign_container_with_the_lock_name_is_refused(docker_client, system_name, tmp_path, base_image):
    docker_client.containers.create(base_image, ["true"], name=lock_name(system_name, "production"),
                                    labels={"io.gitdeploy.system": system_name})
    with pytest.raises(GitdeployError) as err:
        hold(docker_client, system_name, "production", me(tmp_path))
    assert "gitdeploy does not own" in err.value.message


def test_the_lock_is_not_one_of_the_systems_containers(spec_repo, system_name, docker_client):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"app": svc()}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    with hold(docker_client, system_name, "production", me(ctx.data_dir)) as lock:
        assert [c.service for c in ctx.engine().analyze(system_name, "production").containers] == ["app"]
        assert not pipeline.prepare(ctx).plan.has_changes
        report = check(ctx)
        assert report.clean, report.drifts
        assert lock.id not in {d.container_id for d in report.drifts}


def test_stale_reason():
    h = Holder("a@b", "deploy", 1, "b", "boot", "ns", 5)
    assert stale_reason(h, expires=100, now=50, alive=True) is None
    assert stale_reason(h, expires=100, now=50, alive=None) is None
    assert "pid 1 on this host, is gone" in stale_reason(h, expires=100, now=50, alive=False)
    assert "lease ran out 20s ago" in stale_reason(h, expires=100, now=120, alive=None)
    assert "lease ran out" in stale_reason(None, expires=100, now=120, alive=None)


def test_a_pid_here_is_alive_only_while_its_process_is():
    mine = Holder.here("x")
    assert mine.alive_here() is True
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert Holder(**{**mine.__dict__, "pid": p.pid, "pid_start": 0}).alive_here() is False
    assert Holder(**{**mine.__dict__, "pid_start": mine.pid_start + 1}).alive_here() is False  # pid reused
    assert Holder(**{**mine.__dict__, "boot_id": "other"}).alive_here() is None


def test_the_engine_clock_is_read(docker_client):
    assert abs(enginelock.engine_time(docker_client.api) - time.time()) < 300


def test_deploys_from_two_data_dirs_exclude_each_other(spec_repo, system_name, docker_client, tmp_path):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"app": svc()}}})
    other = holder_process(system_name, tmp_path / "other-data-dir")  # a deploy from another data dir
    try:
        with pytest.raises(GitdeployError) as err:
            pipeline.deploy(spec_repo.ctx())
        assert f"by alice@ci (pid {other.pid}" in err.value.message
        assert f"data dir {tmp_path / 'other-data-dir'}" in err.value.message
        assert ctx_containers(docker_client, system_name) == []
        args = ["--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir)]
        status = CliRunner().invoke(cli, [*args, "status"])
        assert "alice@ci" in status.output and "(engine lock)" in status.output, status.output
        assert "alice@ci" in check(spec_repo.ctx()).deploying  # drift is not judged mid-deploy
        down = CliRunner().invoke(cli, [*args, "down"])  # not while another data dir deploys
        assert down.exit_code == 1 and "alice@ci" in down.output
        assert "alice@ci" in pipeline.halt(spec_repo.ctx()).deploy_in_progress  # the kill switch still works
    finally:
        kill(other)
    result = pipeline.deploy(spec_repo.ctx())
    assert result.ok, result.failure
    recovered = [e.message for e in result.events if e.kind == "lock-recovered"]
    assert len(recovered) == 1 and "alice@ci" in recovered[0] and "is gone" in recovered[0]
    assert current(docker_client, system_name, "production") is None  # released after the deploy


def ctx_containers(client, system: str) -> list:
    return client.containers.list(all=True, filters={"label": f"io.gitdeploy.system={system}"})


def test_a_holder_that_missed_its_renewals_stops_renewing(docker_client, system_name, tmp_path):
    """Past 3/4 of the lease without a renewal the holder counts the lock lost: by the time
    anyone may see the lease expired, it no longer acts on it."""
    with hold(docker_client, system_name, "production", me(tmp_path), lease=60) as lock:
        first = current(docker_client, system_name, "production").expires
        assert lock.renew()
        assert current(docker_client, system_name, "production").expires > first  # the lease moved
        lock._renewed -= 46  # as if stalled (SIGSTOP, a hung engine) for 46 of its 60 seconds
        assert not lock.renew()
        assert "not renewed in time" in lock.lost
        with pytest.raises(GitdeployError):
            lock.check()


def test_the_lock_image_is_made_again_when_it_was_removed(docker_client, system_name, tmp_path):
    try:
        docker_client.images.remove(enginelock.IMAGE, force=True)  # untagged: e.g. `docker image prune -a`
    except docker.errors.ImageNotFound:
        pass
    with hold(docker_client, system_name, "production", me(tmp_path)) as lock:
        assert current(docker_client, system_name, "production").id == lock.id
    assert docker_client.images.get(enginelock.IMAGE)
