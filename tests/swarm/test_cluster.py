"""The harness itself: the cluster forms, services spread over nodes, overlays carry traffic across them."""

from __future__ import annotations

import time

import docker.types

from gitdeploy.live import labels
from tests.swarm.marks import SWARM

pytestmark = SWARM


def running_tasks(service, want: int, timeout: float = 60.0) -> list[dict]:
    """The service's running tasks once there are `want` of them (fails the test otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = [t for t in service.tasks() if t["Status"]["State"] == "running"]
        if len(tasks) == want:
            return tasks
        if time.monotonic() > deadline:
            states = [(t["Status"]["State"], t["Status"].get("Err", "")) for t in service.tasks()]
            raise AssertionError(f"{service.name}: {len(tasks)}/{want} running after {timeout}s: {states}")
        time.sleep(0.2)


def test_every_node_is_ready_and_distinct(swarm_cluster, swarm_size):
    nodes = swarm_cluster.manager.nodes.list()
    assert len(nodes) == swarm_size
    assert {n.attrs["Status"]["State"] for n in nodes} == {"ready"}
    assert sorted(n.attrs["Status"]["Addr"] for n in nodes) == sorted(n.addr for n in swarm_cluster.nodes)
    assert set(swarm_cluster.node_ids().values()) == set(range(1, swarm_size + 1))
    assert "@sha256:" in swarm_cluster.base_image


def test_dnsrr_service_spreads_and_answers_across_nodes(swarm_cluster, swarm_system):
    client = swarm_cluster.manager
    lab = {labels.SYSTEM: swarm_system}
    net = client.networks.create(f"{swarm_system}_net", driver="overlay", attachable=True, labels=lab)
    # each task serves its own container hostname, so an answer tells which task (and node) replied
    web = client.services.create(
        swarm_cluster.base_image,
        command=["sh", "-c", "hostname > /www/who && exec httpd -f -p 80 -h /www"],
        name=f"{swarm_system}_web",
        labels=lab,
        mode=docker.types.ServiceMode("replicated", replicas=2),
        endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
        networks=[net.id],
        maxreplicas=1,
    )
    tasks = running_tasks(web, 2)
    node_of = swarm_cluster.node_ids()
    on = {node_of[t["NodeID"]]: t for t in tasks}
    assert len(on) == 2, "the two replicas run on two different nodes"
    (a, task_a), (b, task_b) = sorted(on.items())[:2]

    def overlay_ip(task: dict) -> str:
        for att in task["NetworksAttachments"]:
            if att["Network"]["ID"] == net.id:
                return att["Addresses"][0].split("/")[0]
        raise AssertionError(f"task {task['ID']} is not on {net.name}")

    # from the task on node a, fetch the task on node b through the overlay network
    container_a = swarm_cluster.client(a).containers.get(task_a["Status"]["ContainerStatus"]["ContainerID"])
    id_b = task_b["Status"]["ContainerStatus"]["ContainerID"]
    # (`timeout`, not wget's own -T: the static busybox's wget crashes with -T)
    code, out = container_a.exec_run(["timeout", "10", "wget", "-q", "-O-", f"http://{overlay_ip(task_b)}/who"])
    assert code == 0, out
    assert out.decode().strip() == id_b[:12]
    # and the service name resolves (dnsrr: no virtual IP) to both tasks
    code, out = container_a.exec_run(["nslookup", f"{swarm_system}_web"])
    assert code == 0, out
    assert overlay_ip(task_a) in out.decode() and overlay_ip(task_b) in out.decode()
