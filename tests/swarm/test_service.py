"""A Desired service on the cluster: built spec, objects, digest, followed to `N/N tasks at <commit>`."""

from __future__ import annotations

import hashlib

from gitdeploy.live import labels
from gitdeploy.live.swarm import names, objects, services, tasks
from gitdeploy.live.swarm.servicespec import Placement, SwarmOptions, service_spec
from gitdeploy.spec.model import ConfigFile, HealthCheck, Rollout, SecretRef, Service
from tests.swarm.desired import desired
from tests.swarm.marks import SWARM

pytestmark = SWARM

CONF = b"greeting=hello\n"
DNSRR = SwarmOptions(endpoint_mode="dnsrr", placement=Placement(max_replicas_per_node=1))


def web(command: str) -> Service:
    return Service(
        "front/web", image="busybox", command=("sh", "-c", command), replicas=2,
        environment=(("MODE", "test"),), labels=(("team", "a"),),
        configs=(ConfigFile("conf/app.conf", "/etc/app.conf", hashlib.sha256(CONF).hexdigest()),),
        secrets=(SecretRef("token", "/run/secrets/token"),),
        healthcheck=HealthCheck(("CMD-SHELL", "test -f /tmp/up"), interval=0.5, timeout=2, retries=3),
        # stop-first: with one replica per node on two nodes, a start-first task has nowhere to go
        rollout=Rollout(order="stop-first", parallelism=2, monitor=1.0), stop_grace_period=1,
    )


def test_a_service_runs_pinned_on_both_nodes_and_a_failed_update_pauses(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    env, fp = "prod", "e" * 64
    net = names.network_name(swarm_system, env)
    api.create_network(net, driver="overlay", attachable=True, labels={labels.SYSTEM: swarm_system})

    def spec_for(service: Service, commit: str) -> dict:
        d = desired(service, fingerprints={"token": fp}, secret_values=((fp, b"s3cret"),))
        configs, secrets = objects.for_service(api, swarm_system, env, d, {"conf/app.conf": CONF})
        return service_spec(d, name=names.service_name(swarm_system, env, d.path), system=swarm_system, env=env,
                            commit=commit, image=swarm_cluster.base_image, network=net, aliases=("web",),
                            configs=configs, secrets=secrets, options=DNSRR)

    good = web("touch /tmp/up && exec sleep 600")
    first = spec_for(good, "1" * 40)
    sid = services.create(api, first)
    seen: list[str] = []
    done = tasks.follow(api, sid, 60, on_progress=lambda p: seen.append(p.summary()))
    assert done.done, done.explain()
    assert done.summary() == "2/2 tasks at 111111111111 on 2 nodes"
    assert seen[0] != seen[-1] == done.summary()  # progress was reported while tasks started

    # every task's container, on each node, carries the four labels and runs the pinned bytes
    by_node = swarm_cluster.node_ids()
    for t in api.tasks(filters={"service": sid, "desired-state": "running"}):
        engine = swarm_cluster.client(by_node[t["NodeID"]])
        c = engine.containers.get(t["Status"]["ContainerStatus"]["ContainerID"])
        lab = c.labels
        assert (lab[labels.SYSTEM], lab[labels.ENV], lab[labels.SERVICE]) == (swarm_system, env, "front/web")
        assert lab[labels.HASH] == first["Labels"][labels.HASH] and labels.COMMIT not in lab
        assert c.attrs["Config"]["Image"] == swarm_cluster.base_image
        code, out = c.exec_run(["sh", "-c", "cat /etc/app.conf /run/secrets/token; echo; echo $GITDEPLOY_REPLICA"])
        assert code == 0 and out.decode().split() == ["greeting=hello", "s3cret", str(t["Slot"])]

    # an update whose new tasks never become healthy: Swarm pauses it, the follower says so
    broken = spec_for(web("exit 3"), "2" * 40)
    services.replace(api, sid, broken)
    failed = tasks.follow(api, sid, 60)
    assert failed.failed and not failed.done, failed.explain()
    assert "paused" in failed.explain() and failed.commit == "2" * 40
    assert failed.ready < 2

    # gitdeploy's rollback: the previous spec again; converged at the old commit
    services.replace(api, sid, first)
    back = tasks.follow(api, sid, 60)
    assert back.done, back.explain()
    assert back.summary() == "2/2 tasks at 111111111111 on 2 nodes"


def test_judge_counts_only_tasks_at_the_target_spec():
    def template(h: str, placement: list[str] | None = None) -> dict:
        out: dict = {"ContainerSpec": {"Image": "x@sha256:1", "Labels": {labels.HASH: h}}}
        if placement:
            out["Placement"] = {"Constraints": placement}
        return out

    svc = {"Spec": {"Name": "s", "Labels": {labels.COMMIT: "abc"}, "TaskTemplate": template("new"),
                    "Mode": {"Replicated": {"Replicas": 2}}}}

    def task(h: str, state: str, node: str, desired_state: str = "running", err: str = "", **kw) -> dict:
        return {"DesiredState": desired_state, "NodeID": node, "Spec": template(h, **kw),
                "Status": {"State": state, "Err": err, "Timestamp": "2026-01-01T00:00:00Z"}}

    p = tasks.judge(svc, [task("new", "running", "n1"), task("old", "running", "n2", "shutdown"),
                          task("new", "failed", "n2", "shutdown", "task: non-zero exit (3)")])
    assert (p.ready, p.want, p.old, p.done) == (1, 2, 1, False)
    assert p.summary() == "1/2 tasks at abc on 1 node"
    assert p.errors == ("failed: task: non-zero exit (3)",)
    p = tasks.judge(svc, [task("new", "running", "n1"), task("new", "running", "n2")])
    assert p.done and p.summary() == "2/2 tasks at abc on 2 nodes"
    # a task Swarm keeps after a placement change (its node still fits) is at the target
    svc["Spec"]["TaskTemplate"] = template("new", ["node.role==worker"])
    assert tasks.judge(svc, [task("new", "running", "n1"), task("new", "running", "n2")]).done
    # any other change of the template (resources here) is not
    svc["Spec"]["TaskTemplate"]["Resources"] = {"Limits": {"MemoryBytes": 1 << 26}}
    p = tasks.judge(svc, [task("new", "running", "n1"), task("new", "running", "n2")])
    assert (p.ready, p.old, p.done) == (0, 2, False)
    svc["UpdateStatus"] = {"State": "paused", "Message": "update paused due to failure"}
    assert tasks.judge(svc, []).failed == "the update paused: update paused due to failure"
