"""How many tasks a global service wants: one on every node that takes it, counted from the cluster's
nodes, not from the tasks Swarm has created so far (pure: shapes as the Engine API returns them).

A global service created moments ago has no task yet; counting only its tasks made it "0/0 done",
so a deploy passed its gate before a single task ran (a CI run caught it, under load)."""

from __future__ import annotations

from gitdeploy.deploy.swarm import HALT_CONSTRAINT
from gitdeploy.live.swarm import tasks

TEMPLATE = {"ContainerSpec": {"Image": "busybox", "Env": ["V=2"]}}


def service(*constraints: str) -> dict:
    template = TEMPLATE | ({"Placement": {"Constraints": list(constraints)}} if constraints else {})
    return {"Spec": {"Name": "s_agent", "TaskTemplate": template, "Mode": {"Global": {}}}}


def node(nid: str, role: str = "worker", state: str = "ready", availability: str = "active", **labels: str) -> dict:
    return {"ID": nid, "Description": {"Hostname": f"host-{nid}", "Platform": {"OS": "linux", "Architecture": "x86_64"},
                                       "Engine": {"Labels": {}}},
            "Spec": {"Role": role, "Availability": availability, "Labels": labels}, "Status": {"State": state, "Addr": f"10.0.0.{nid[1:]}"}}


def task(tid: str, nid: str, state: str = "running") -> dict:
    return {"ID": tid, "NodeID": nid, "DesiredState": "running", "Spec": TEMPLATE, "Status": {"State": state, "Addr": f"10.0.0.{nid[1:]}"}}


NODES = [node("n1", role="manager", zone="A"), node("n2", zone="b")]


def test_a_new_global_service_without_tasks_yet_is_not_done():
    p = tasks.judge(service(), [], nodes=NODES)
    assert (p.want, p.ready, p.done) == (2, 0, False)
    p = tasks.judge(service(), [task("a", "n1")], nodes=NODES)
    assert (p.want, p.ready, p.done) == (2, 1, False)
    p = tasks.judge(service(), [task("a", "n1"), task("b", "n2")], nodes=NODES)
    assert (p.want, p.ready, p.done) == (2, 2, True)


def test_without_the_nodes_the_tasks_say_how_many():
    assert tasks.judge(service(), [task("a", "n1")]).want == 1


def test_constraints_are_met_as_swarm_meets_them():
    assert tasks.eligible(service("node.role==manager"), NODES) == {"n1"}
    assert tasks.eligible(service("node.role != manager"), NODES) == {"n2"}
    assert tasks.eligible(service("node.labels.zone==a"), NODES) == {"n1"}  # values without regard to case
    assert tasks.eligible(service("node.labels.rack!=r1"), NODES) == {"n1", "n2"}  # a label a node lacks
    assert tasks.eligible(service("node.labels.rack==r1"), NODES) == set()
    assert tasks.eligible(service("node.hostname==host-n2", "node.platform.os==linux"), NODES) == {"n2"}
    assert tasks.eligible(service("node.ip==10.0.0.2"), NODES) == {"n2"}


def test_a_halted_global_service_wants_nothing_and_is_done():
    p = tasks.judge(service(HALT_CONSTRAINT), [], nodes=NODES)
    assert (p.want, p.done) == (0, True)


def test_down_drained_and_paused_nodes():
    nodes = [node("n1"), node("n2", state="down"), node("n3", availability="drain"), node("n4", availability="pause")]
    assert tasks.eligible(service(), nodes) == {"n1"}
    # a paused node takes no new task but keeps the one it runs: it is still wanted there
    p = tasks.judge(service(), [task("a", "n1"), task("d", "n4")], nodes=nodes)
    assert (p.want, p.ready, p.done) == (2, 2, True)
