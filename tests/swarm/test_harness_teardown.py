"""The harness leaves nothing behind, even when the process that built a cluster was killed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.swarm import cluster as harness
from tests.swarm.marks import SWARM

pytestmark = SWARM


def traces(state: harness.ClusterState) -> list[str]:
    """Everything of `state` still present on this machine."""
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    found += [f"netns {n.netns}" for n in state.nodes if n.netns in netns]
    found += [f"link {name}" for name in [state.bridge] + [n.veth for n in state.nodes] if f" {name}" in links]
    found += ["iptables rule"] if f"-i {state.bridge} " in rules else []
    found += [f"folder {state.root}"] if os.path.exists(state.root) else []
    found += [f"mount {ln.split()[4]}" for ln in Path("/proc/self/mountinfo").read_text().splitlines()
              if ln.split()[4].startswith(state.root)]
    for pid in [state.registry_pid] + [n.pid for n in state.nodes]:
        if harness._alive(pid):
            found.append(f"process {pid}")
    if (harness.STATE_DIR / f"{state.run}.json").exists():
        found.append("state file")
    return found


def test_a_killed_runs_cluster_is_swept_without_trace(swarm_cluster):
    # the session's cluster runs meanwhile: sweeping must leave it alone
    reason = harness.unavailable()
    if reason:
        pytest.skip(reason)
    orphan = harness.Cluster(1)
    try:
        orphan.up()
        state = orphan.state
        assert traces(state), "the cluster is up: there is something to remove"
        dead = subprocess.Popen(["true"])
        dead.wait()
        state.owner = dead.pid  # as if the test run that built it had been killed
        state.save()
        for c in orphan._clients.values():
            c.close()
        assert state.run in harness.sweep_stale()
        assert traces(state) == []
    finally:
        orphan.down()
    assert swarm_cluster.manager.ping()
    assert swarm_cluster.state.run not in harness.sweep_stale()
