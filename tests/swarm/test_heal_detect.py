"""Drift on a cluster, decided by gitdeploy.heal.swarm from what live.swarm.observe saw.

The services are made with the building blocks (as a deploy makes them); the CLI end to end is
in test_heal_cli.py. What a person does by hand is done with the docker SDK.
"""

from __future__ import annotations

import time

import docker.types

from gitdeploy.heal import swarm
from gitdeploy.live import labels
from gitdeploy.live.engine import service_aliases
from gitdeploy.live.swarm import names, objects, services, tasks
from gitdeploy.live.swarm.observe import TaskEvents, observe
from gitdeploy.live.swarm.servicespec import service_spec
from gitdeploy.spec.model import Placement, Rollout, Service
from tests.heal.helpers import wait_for
from tests.swarm.desired import desired
from tests.swarm.marks import SWARM

pytestmark = SWARM
ENV = "prod"


def web(replicas: int = 2, per_node: int = 1) -> Service:
    return Service(
        "front/web", image="busybox", command=("sh", "-c", "exec sleep 600"), replicas=replicas,
        environment=(("MODE", "test"),), endpoint_mode="dnsrr", placement=Placement(max_replicas_per_node=per_node),
        rollout=Rollout(order="stop-first", parallelism=2, monitor=0.5), stop_grace_period=1,
    )


def deploy(cluster, system: str, svcs: list[Service], follow: bool = True) -> list:
    """Create the services as a deploy would (specs from servicespec, objects from objects), converged."""
    api = cluster.manager.api
    net = names.network_name(system, ENV)
    if not api.networks(names=[net]):
        api.create_network(net, driver="overlay", attachable=True, labels={labels.SYSTEM: system, labels.ENV: ENV})
    aliases = service_aliases(svcs)
    out = []
    for s in svcs:
        d = desired(s, image_id=cluster.base_image)
        configs, secrets = objects.for_service(api, system, ENV, d, {})
        sid = services.create(api, service_spec(
            d, name=names.service_name(system, ENV, d.path), system=system, env=ENV, commit="1" * 40,
            image=d.image_id, network=net, aliases=aliases[d.path], configs=configs, secrets=secrets))
        if follow:
            done = tasks.follow(api, sid, 60)
            assert done.done, done.explain()
        out.append(d)
    return out


def look(cluster, system: str, ds: list, node_hosts: dict[str, str] | None = None) -> swarm.Findings:
    return swarm.detect(ds, system, ENV, observe(cluster.manager.api, system, ENV, node_hosts))


def until(fn, timeout: float = 30.0, step: float = 0.3):
    return wait_for(fn, timeout, step)


def task_on(cluster, sid: str, index: int) -> tuple[dict, object]:
    """The running task of service `sid` on node `index`, and its container (on that node's engine)."""
    by_node = cluster.node_ids()
    t = next(t for t in cluster.manager.api.tasks(filters={"service": sid, "desired-state": "running"})
             if by_node[t["NodeID"]] == index and t["Status"]["State"] == "running")
    return t, cluster.client(index).containers.get(t["Status"]["ContainerStatus"]["ContainerID"])


def test_tampering_where_nodes_can_be_reached_and_a_killed_task(swarm_cluster, swarm_system):
    """(A hand edit, a kill replaced and a fix end to end: test_heal_cli.py.)"""
    client, api = swarm_cluster.manager, swarm_cluster.manager.api
    ds = deploy(swarm_cluster, swarm_system, [web()])
    sid = client.services.get(names.service_name(swarm_system, ENV, "front/web")).id

    found = look(swarm_cluster, swarm_system, ds)
    assert found.drifts == () and found.tasks == 2
    # node1 is the manager's own engine; node2's files need an endpoint, and say so
    assert found.unchecked == (("node2", "no endpoint is given for its engine (--node-host NODE=HOST)"),)

    # files changed inside task containers: found on the manager's node; on node2 only with its endpoint
    for index in (1, 2):
        _, c = task_on(swarm_cluster, sid, index)
        assert c.exec_run(["sh", "-c", "echo x > /etc/x"]).exit_code == 0
    blind = look(swarm_cluster, swarm_system, ds)
    tampered = [d for d in blind.drifts if d.kind == "tampered"]
    assert [d.actual for d in tampered] == ["C /etc, A /etc/x"] and " on node1: " in tampered[0].explanation
    assert [n for n, _ in blind.unchecked] == ["node2"]
    seeing = look(swarm_cluster, swarm_system, ds, {"node2": swarm_cluster.nodes[1].host})
    assert seeing.unchecked == ()
    assert sorted(d.explanation.split(" on ")[1][:5] for d in seeing.drifts if d.kind == "tampered") == [
        "node1", "node2"]
    # an endpoint that is not that node's engine is not trusted to say "nothing changed"
    wrong = look(swarm_cluster, swarm_system, ds, {"node2": swarm_cluster.nodes[0].host})
    assert [n for n, _ in wrong.unchecked] == ["node2"] and "is not node2's" in wrong.unchecked[0][1]

    # a task's container killed on node2: the manager's task list says so (what wakes a watcher),
    # and the drift says how and where
    killed, container = task_on(swarm_cluster, sid, 2)
    stream = TaskEvents(api, swarm_system, ENV, poll=0.2)
    container.kill()
    deadline = time.monotonic() + 30
    for ev in stream:
        if (ev.action, ev.container_id) == ("die", container.id) or time.monotonic() > deadline:
            break
    stream.close()
    assert (ev.action, ev.container_id, ev.node) == ("die", container.id, killed["NodeID"])
    died = until(lambda: [d for d in look(swarm_cluster, swarm_system, ds).drifts if d.kind == "exited"])
    assert died, "the killed task was never reported"
    assert "non-zero exit (137) (killed) on node2" in died[0].explanation and died[0].container_id == container.id


def test_extra_and_unmanaged_services_and_a_drained_node(swarm_cluster, swarm_system):
    client, api = swarm_cluster.manager, swarm_cluster.manager.api
    ds = deploy(swarm_cluster, swarm_system, [web(replicas=1, per_node=0)])
    # a service whose task keeps crashing (Swarm restarts it every 5 s)
    crashing = deploy(swarm_cluster, swarm_system, [Service(
        "jobs", image="busybox", command=("sh", "-c", "sleep 0.2; exit 3"), endpoint_mode="dnsrr")], follow=False)
    api_path = Service("api", image="busybox", command=("sleep", "600"), endpoint_mode="dnsrr")
    ds_more = [*ds, desired(api_path, image_id=swarm_cluster.base_image)]
    mode0 = docker.types.ServiceMode("replicated", replicas=0)
    # a service with the system's labels the spec does not have; one of another environment holding a name
    client.services.create(swarm_cluster.base_image, ["sleep", "600"], name=f"{swarm_system}_{ENV}_old", mode=mode0,
                           labels={labels.SYSTEM: swarm_system, labels.ENV: ENV, labels.SERVICE: "old"})
    client.services.create(swarm_cluster.base_image, ["sleep", "600"], mode=mode0,
                           name=names.service_name(swarm_system, ENV, "api"),
                           labels={labels.SYSTEM: swarm_system, labels.ENV: "staging"})
    found = [d for d in look(swarm_cluster, swarm_system, ds_more).drifts if d.service != "jobs"]
    assert [(d.kind, d.service, d.field) for d in found] == [
        ("missing", "api", "service"), ("extra", "old", "service"), ("unmanaged", "api", "name")]
    assert "a service of system" in found[2].explanation and "(staging)" in found[2].explanation

    # the node that runs the one task is drained: named, with where Swarm moved it
    sid = client.services.get(names.service_name(swarm_system, ENV, "front/web")).id
    (t,) = api.tasks(filters={"service": sid, "desired-state": "running"})
    node = client.nodes.get(t["NodeID"])
    host = node.attrs["Description"]["Hostname"]
    try:
        node.update(dict(node.attrs["Spec"], Availability="drain"))
        moved = until(lambda: [d for d in look(swarm_cluster, swarm_system, ds).drifts
                               if d.kind == "node" and "now runs on" in d.explanation], timeout=60)
        assert moved, look(swarm_cluster, swarm_system, ds).drifts
        (d,) = moved
        other = "node1" if host == "node2" else "node2"
        assert (d.service, d.container, d.actual) == ("front/web", host, "drained")
        assert d.explanation.endswith(f"is drained: slot 1 now runs on {other}") and not d.repairable
    finally:
        node.reload()
        node.update(dict(node.attrs["Spec"], Availability="active"))

    # the crashing task: said each time with its exit, and that it keeps failing
    def failing():
        return [d for d in look(swarm_cluster, swarm_system, crashing).drifts
                if d.kind in ("exited", "restarting") and "3 times" in d.explanation]

    (d,) = until(failing, timeout=40, step=1.0)
    assert d.service == "jobs" and "non-zero exit (3)" in d.explanation
