"""A node that is actually down (its dockerd stopped, not drained), as a user meets it through the
CLI: `check` names it with where Swarm moved its tasks, and a deploy and its verify while it is
down count only the tasks that run (Swarm still lists the down node's last tasks as running)."""

from __future__ import annotations

import json
import time

from gitdeploy.live.swarm import tasks
from tests.specrepo import SpecRepo
from tests.swarm.marks import SWARM
from tests.swarm.test_heal_cli import ENV, run

pytestmark = SWARM


def spec(cluster, system: str, version: str) -> dict:
    common = {"image": cluster.base_image, "command": ["sleep", "600"], "init": True, "stop_grace_period": "1s",
              "endpoint_mode": "dnsrr", "environment": {"V": version}, "rollout": {"monitor": "0.5s"}}
    return {"gitdeploy.yaml": {"system": system, "services": {
        "web": dict(common, replicas=2), "agent": dict(common, mode="global")}}}


def until(what, timeout: float = 60.0):
    """Poll `what()` until it returns something true; fail with its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, got
        time.sleep(0.5)
    return got


def test_a_node_that_is_down_is_named_and_a_deploy_counts_only_running_tasks(tmp_path, swarm_cluster, swarm_system):
    repo = SpecRepo.create(tmp_path, swarm_cluster.manager)
    repo.commit(spec(swarm_cluster, swarm_system, "1"))
    first = run(repo, swarm_cluster, "deploy")
    assert first.exit_code == 0, first.output
    by_node = swarm_cluster.node_ids()
    web_nodes = {by_node[t["NodeID"]] for t in swarm_cluster.manager.api.tasks(
        filters={"service": f"{swarm_system}_{ENV}_web", "desired-state": "running"})}
    assert web_nodes == {1, 2}, "Swarm spreads a fresh service's two tasks over the two nodes"
    addr = swarm_cluster.nodes[1].addr
    swarm_cluster.stop_node(2)
    try:
        swarm_cluster.wait_node(2, "down")

        def moved():
            out = run(repo, swarm_cluster, "check", "--json")
            drift = json.loads(out.output)["drift"]
            nodes = [d for d in drift if d["kind"] == "node"]
            return out if len(nodes) == 2 and "runs nowhere" not in out.output else None

        found = until(moved)
        assert found.exit_code == 3, found.output
        said = run(repo, swarm_cluster, "check").output
        assert f"web: node2 ({addr}) is down: slot " in said and " now runs on node1" in said, said
        assert f"agent: node2 ({addr}) is down: its task is not replaced (global: one per node)" in said, said
        # with node2's own engine named: it is said to be unreachable, not skipped, and the check goes on
        blind = run(repo, swarm_cluster, "check", "--node-host", f"node2={swarm_cluster.nodes[1].host}")
        assert blind.exit_code == 3 and "Traceback" not in blind.output, blind.output
        assert "files not checked on node node2: its engine at " in blind.output, blind.output

        # a deploy while node2 is down: both web tasks now run on node1, the agent on node1 only
        repo.commit(spec(swarm_cluster, swarm_system, "2"))
        second = run(repo, swarm_cluster, "deploy")
        assert second.exit_code == 0, second.output
        assert "Traceback" not in second.output
        assert "ok web: 2/2 tasks at" in second.output and "ok agent: 1/1 tasks at" in second.output, second.output
        assert "3/3 tasks at" in second.output and f"on 1 node, while node2 ({addr}) is down" in second.output, \
            second.output  # the deploy says where it did not run
        assert f"nodes taking no task: node2 ({addr}) is down" in second.output, second.output  # its plan, before
        assert "replicas 3" not in second.output, second.output  # the down node's task is not live
        again = run(repo, swarm_cluster, "deploy")  # nothing to change: verified again
        assert again.exit_code == 0, again.output
        assert "no changes" in again.output and "3/3 tasks at" in again.output, again.output
        assert f"while node2 ({addr}) is down" in again.output, again.output  # a no-op says it too
    finally:
        swarm_cluster.start_node(2)
    # back: the agent runs on node2 again and nothing is said about node2
    until(lambda: run(repo, swarm_cluster, "check").exit_code == 0)


def test_a_task_on_a_down_node_is_not_counted_as_running_nor_as_an_old_one():
    """What Swarm reports once a node is down: the node's task told to shut down but still
    `running` (its node cannot say otherwise), and its replacement on another node."""
    template = {"ContainerSpec": {"Image": "busybox", "Env": ["V=2"]}}
    service = {"Spec": {"Name": "s_web", "TaskTemplate": template, "Mode": {"Replicated": {"Replicas": 2}}}}

    def task(tid: str, slot: int, node: str, desired: str, env: str = "V=2") -> dict:
        return {"ID": tid, "Slot": slot, "NodeID": node, "DesiredState": desired,
                "Spec": {"ContainerSpec": {"Image": "busybox", "Env": [env]}}, "Status": {"State": "running"}}

    found = [task("a", 1, "n1", "running"), task("b", 2, "n1", "running"), task("c", 2, "n2", "shutdown", "V=1")]
    assert not tasks.judge(service, found).done  # n2's stale task counts as one at an older spec
    p = tasks.judge(service, found, down=frozenset({"n2"}))
    assert p.done and (p.ready, p.old, p.nodes) == (2, 0, ("n1",))
    # a task a down node still lists as wanted and running is not believed either
    p = tasks.judge(service, [task("a", 1, "n1", "running"), task("d", 2, "n2", "running")], down=frozenset({"n2"}))
    assert (p.ready, p.done) == (1, False)
