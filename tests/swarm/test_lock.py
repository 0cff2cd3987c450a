"""The cluster lock: one deployer per system and environment, across hosts; recovered when its holder dies."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live.enginelock import Holder
from gitdeploy.live.swarm import lock
from tests.swarm.marks import SWARM

pytestmark = SWARM


def elsewhere(name: str) -> Holder:
    """A holder on another machine: only its lease can say whether it still lives."""
    return Holder(f"ci@{name}", "deploy (bot)", 4242, name, f"boot-{name}", "pid:[1]", 1)


def test_a_second_deployer_is_refused_while_the_lock_is_held(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    with lock.hold(api, swarm_system, "prod", elsewhere("host-a")):
        with pytest.raises(GitdeployError, match="being deployed on this cluster by ci@host-a") as err:
            lock.hold(api, swarm_system, "prod", elsewhere("host-b"))
        assert "lease until" in err.value.message
        with lock.hold(api, swarm_system, "staging", elsewhere("host-b")):  # another environment: free
            pass
        assert lock.held(api, swarm_system, "prod") is not None
    assert lock.held(api, swarm_system, "prod") is None
    with lock.hold(api, swarm_system, "prod", elsewhere("host-b")) as b:
        assert b.recovered is None


def test_only_one_of_simultaneous_deployers_gets_the_lock(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    got, refused = [], []
    start = threading.Barrier(4)

    def deployer(i: int) -> None:
        start.wait()
        try:
            got.append(lock.hold(api, swarm_system, "prod", elsewhere(f"host-{i}")))
        except GitdeployError:
            refused.append(i)

    threads = [threading.Thread(target=deployer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(got) == 1 and len(refused) == 3
    finally:
        for held in got:
            held.release()


HOLD_AND_HANG = """
import sys, time
from gitdeploy.live.engine import connect
from gitdeploy.live.enginelock import Holder
from gitdeploy.live.swarm import lock
host, system, remote = sys.argv[1:4]
holder = Holder("ci@far", "deploy", 4242, "far", "boot-far", "pid:[1]", 1) if remote == "1" else None
lock.hold(connect(host).api, system, "prod", holder, lease=3.0)
print("held", flush=True)
time.sleep(600)
"""


def killed_holder(cluster, system: str, remote: bool) -> None:
    """A deployer process that takes the lock and is killed (SIGKILL: it releases nothing)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_AND_HANG, cluster.nodes[0].host, system, "1" if remote else "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_on_this_host_is_recovered_at_once(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    killed_holder(swarm_cluster, swarm_system, remote=False)
    with lock.hold(api, swarm_system, "prod", elsewhere("host-b")) as taken:
        assert taken.recovered is not None and "is gone" in taken.recovered[1]


def test_a_killed_holder_elsewhere_is_recovered_when_its_lease_runs_out(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    killed_holder(swarm_cluster, swarm_system, remote=True)
    with pytest.raises(GitdeployError, match="ci@far"):
        lock.hold(api, swarm_system, "prod", elsewhere("host-b"))
    deadline = time.monotonic() + 15
    while True:
        try:
            taken = lock.hold(api, swarm_system, "prod", elsewhere("host-b"))
            break
        except GitdeployError:
            assert time.monotonic() < deadline, "the dead holder's lease never ran out"
            time.sleep(0.5)
    with taken:
        assert taken.recovered is not None and "lease ran out" in taken.recovered[1]
        assert taken.recovered[0].who == "ci@far"


def test_renewal_extends_the_lease_and_a_holder_learns_it_lost_the_lock(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    a = lock.hold(api, swarm_system, "prod", elsewhere("host-a"), lease=2.0)
    first = lock.current(api, swarm_system, "prod").expires
    time.sleep(1.2)  # two renewals (every lease/4)
    assert lock.current(api, swarm_system, "prod").expires > first
    a.check()  # still ours
    # a taker that found it stale claimed and removed it, and took its own
    state = lock.current(api, swarm_system, "prod")
    assert lock._take_over(api, state)
    b = lock.hold(api, swarm_system, "prod", elsewhere("host-b"))
    try:
        assert a.renew() is False and a.lost
        with pytest.raises(GitdeployError, match="lost the cluster lock"):
            a.check()
        a.release()  # must not remove b's lock
        assert lock.held(api, swarm_system, "prod").holder.who == "ci@host-b"
    finally:
        b.release()
