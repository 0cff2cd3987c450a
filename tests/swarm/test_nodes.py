"""Nodes by name, and a drained node named with where Swarm moved its tasks."""

from __future__ import annotations

import time

import docker.types

from gitdeploy.live import labels
from gitdeploy.live.swarm import nodes, tasks
from tests.swarm.marks import SWARM

pytestmark = SWARM


def test_a_drained_node_is_named_with_where_its_tasks_went(swarm_cluster, swarm_system):
    client = swarm_cluster.manager
    api = client.api
    listed = nodes.nodes(api)
    assert [n.hostname for n in listed] == [f"node{i}" for i in range(1, len(swarm_cluster.nodes) + 1)]
    assert all(n.usable for n in listed) and listed[0].manager
    svc = client.services.create(
        swarm_cluster.base_image, command=["sleep", "600"], name=f"{swarm_system}_spread",
        labels={labels.SYSTEM: swarm_system, labels.COMMIT: "c" * 40},
        mode=docker.types.ServiceMode("replicated", replicas=2), maxreplicas=1,
        stop_grace_period=1_000_000_000,
    )
    assert tasks.follow(api, svc.id, 60).done
    node2 = client.nodes.get(next(n.id for n in listed if n.hostname == "node2"))
    spec = node2.attrs["Spec"]
    try:
        svc.update(maxreplicas=0)  # let both replicas run on node1 once node2 is drained
        node2.update(dict(spec, Availability="drain"))
        deadline = time.monotonic() + 60
        while True:
            by_id = {n.id: n for n in nodes.nodes(api)}
            lines = nodes.moved(api.tasks(filters={"service": svc.id}), by_id)
            if lines and "runs nowhere" not in lines[0]:
                break
            assert time.monotonic() < deadline, lines
            time.sleep(0.5)
        assert by_id[node2.id].trouble() == f"node2 ({swarm_cluster.nodes[1].addr}) is drained"
        assert lines[0].startswith(f"node2 ({swarm_cluster.nodes[1].addr}) is drained: slot ")
        assert lines[0].endswith("now runs on node1")
    finally:
        node2.reload()
        node2.update(dict(node2.attrs["Spec"], Availability="active"))
