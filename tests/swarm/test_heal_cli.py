"""`gitdeploy check`, `fix` and `watch` on a Swarm cluster, end to end: deployed with
`gitdeploy --engine swarm`, changed by hand with the docker SDK as a person would."""

from __future__ import annotations

import json
import time

import docker.types
from click.testing import CliRunner

from gitdeploy.cli import cli
from gitdeploy.heal.loop import Policy, Watcher
from gitdeploy.live import labels
from gitdeploy.live.swarm import names, tasks
from gitdeploy.pipeline import Context
from tests.specrepo import SpecRepo
from tests.swarm.marks import SWARM

pytestmark = SWARM
ENV = "production"


def spec(cluster, system: str) -> dict:
    return {"system": system, "services": {"web": {
        "image": cluster.base_image, "command": ["sh", "-c", "exec sleep 600"], "replicas": 2,
        "environment": {"MODE": "test"}, "endpoint_mode": "dnsrr", "placement": {"max_replicas_per_node": 1},
        "stop_grace_period": "1s", "rollout": {"order": "stop-first", "monitor": "0.5s"},
    }}}


def deployed(tmp_path, cluster, system: str) -> SpecRepo:
    repo = SpecRepo.create(tmp_path, cluster.manager)
    repo.commit({"gitdeploy.yaml": spec(cluster, system)})
    out = run(repo, cluster, "deploy")
    assert out.exit_code == 0, out.output
    return repo


def run(repo: SpecRepo, cluster, *args: str):
    base = ["--engine", "swarm", "--docker-host", cluster.nodes[0].host, "--registry", cluster.registry,
            "--repo", str(repo.root), "--data-dir", str(repo.data_dir), "--env", ENV]
    return CliRunner().invoke(cli, base + list(args), catch_exceptions=False)


def swarm_ctx(repo: SpecRepo, cluster) -> Context:
    return Context(repo=repo.root, env=ENV, data_dir=repo.data_dir, docker_host=cluster.nodes[0].host,
                   engine_kind="swarm", registry=cluster.registry)


def wait(predicate, events: list, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, [(e.kind, e.message) for e in events]
        time.sleep(0.2)


def web(cluster, system: str):
    return cluster.manager.services.get(names.service_name(system, ENV, "web"))


def task_container(cluster, service, index: int):
    """The container of the service's running task on node `index`, from that node's engine."""
    by_node = cluster.node_ids()
    t = next(t for t in cluster.manager.api.tasks(filters={"service": service.id, "desired-state": "running"})
             if by_node[t["NodeID"]] == index and t["Status"]["State"] == "running")
    return cluster.client(index).containers.get(t["Status"]["ContainerStatus"]["ContainerID"])


def test_a_hand_edited_service_is_found_and_fixed(tmp_path, swarm_cluster, swarm_system):
    repo = deployed(tmp_path, swarm_cluster, swarm_system)
    clean = run(repo, swarm_cluster, "check")
    assert clean.exit_code == 0, clean.output
    assert "no drift (2 running tasks checked" in clean.output
    assert "files not checked on node node2: no endpoint is given" in clean.output

    # `docker service update --env-add EXTRA=1`, by hand
    svc = web(swarm_cluster, swarm_system)
    svc.update(env=[*svc.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"], "EXTRA=1"])
    assert tasks.follow(swarm_cluster.manager.api, svc.id, 60).done
    found = run(repo, swarm_cluster, "check", "--json")
    assert found.exit_code == 3, found.output
    report = json.loads(found.output)
    assert [(d["kind"], d["field"], d["expected"], d["actual"]) for d in report["drift"]] == [
        ("config", "environment.EXTRA", "(none)", "1")]
    assert report["engine"] == "swarm" and report["unchecked"] == {"node2": report["unchecked"]["node2"]}

    # and a service with the system's labels that the spec does not have
    swarm_cluster.manager.services.create(
        swarm_cluster.base_image, ["sleep", "600"], name=f"{swarm_system}_{ENV}_old",
        labels={labels.SYSTEM: swarm_system, labels.ENV: ENV, labels.SERVICE: "old"},
        mode=docker.types.ServiceMode("replicated", replicas=0))
    assert [(d["kind"], d["service"]) for d in json.loads(run(repo, swarm_cluster, "check", "--json").output)[
        "drift"]] == [("config", "web"), ("extra", "old")]

    fixed = run(repo, swarm_cluster, "fix")
    assert fixed.exit_code == 0, fixed.output
    assert "no drift" in fixed.output
    assert not swarm_cluster.manager.services.list(filters={"name": f"{swarm_system}_{ENV}_old"})
    env = web(swarm_cluster, swarm_system).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "EXTRA=1" not in env and "MODE=test" in env
    assert run(repo, swarm_cluster, "check").exit_code == 0

    # `watch --mode heal` does the same by itself, woken by the edit
    events = []
    watcher = Watcher(swarm_ctx(repo, swarm_cluster), mode="heal", interval=30, policy=Policy(), on_event=events.append)
    watcher.start()
    try:
        wait(lambda: watcher.listening.is_set() and watcher.last_report is not None, events)
        svc = web(swarm_cluster, swarm_system)
        svc.update(env=[*svc.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"], "EXTRA=2"])
        wait(lambda: any(e.kind == "repaired" and e.service == "web" for e in events), events, 90)
    finally:
        watcher.stop()
    assert any(e.kind == "drift" and "environment.EXTRA is 2" in e.message for e in events)
    env = web(swarm_cluster, swarm_system).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "EXTRA=2" not in env and "MODE=test" in env


def test_a_killed_task_is_reported_and_replaced_and_tampering_found_with_node_endpoints(
        tmp_path, swarm_cluster, swarm_system):
    repo = deployed(tmp_path, swarm_cluster, swarm_system)
    events = []
    watcher = Watcher(swarm_ctx(repo, swarm_cluster), mode="report", interval=30, policy=Policy(),
                      on_event=events.append)
    watcher.start()
    try:
        wait(lambda: watcher.listening.is_set() and watcher.last_report is not None, events)
        assert watcher.last_report.clean, watcher.last_report
        victim = task_container(swarm_cluster, web(swarm_cluster, swarm_system), 2)
        victim.kill()

        def said(kind: str, text: str = "") -> bool:
            return any(e.kind == kind and text in e.message for e in events)

        wait(lambda: said("drift", "non-zero exit (137) (killed) on node2") and said("clean"), events, 60)
    finally:
        watcher.stop()
    assert tasks.follow(swarm_cluster.manager.api, web(swarm_cluster, swarm_system).id, 30).done
    after = run(repo, swarm_cluster, "check")
    assert after.exit_code == 0, after.output
    assert "was replaced after its task ended: task: non-zero exit (137) (killed) on node2" in after.output

    # files changed inside the task's container on node2: seen only where its engine is given
    intruded = task_container(swarm_cluster, web(swarm_cluster, swarm_system), 2)
    assert intruded.exec_run(["sh", "-c", "echo x > /etc/x"]).exit_code == 0
    blind = run(repo, swarm_cluster, "check")
    assert blind.exit_code == 0 and "files not checked on node node2" in blind.output
    seeing = run(repo, swarm_cluster, "check", "--node-host", f"node2={swarm_cluster.nodes[1].host}")
    assert seeing.exit_code == 3, seeing.output
    assert "tampered" in seeing.output and "A /etc/x" in seeing.output and " on node2: " in seeing.output
    assert "files not checked" not in seeing.output
    # fix replaces the service's tasks (a forced update of the same spec): the tampered one is gone
    fixed = run(repo, swarm_cluster, "fix", "--node-host", f"node2={swarm_cluster.nodes[1].host}")
    assert fixed.exit_code == 0, fixed.output
    assert not any(c.id == intruded.id for c in swarm_cluster.client(2).containers.list())
    clean = run(repo, swarm_cluster, "check", "--node-host", f"node2={swarm_cluster.nodes[1].host}")
    assert clean.exit_code == 0 and "tampered" not in clean.output, clean.output


def test_a_plain_container_holding_a_published_port_on_a_node_is_found(tmp_path, swarm_cluster, swarm_system):
    """Not a service but a plain `docker run -p` on node1: the web task (kept on node2) could not run there."""
    repo = SpecRepo.create(tmp_path, swarm_cluster.manager)
    web = spec(swarm_cluster, swarm_system)["services"]["web"]
    web.update(replicas=1, ports=["18080:80"], placement={"constraints": ["node.hostname==node2"]})
    repo.commit({"gitdeploy.yaml": {"system": swarm_system, "services": {"web": web}}})
    assert run(repo, swarm_cluster, "deploy").exit_code == 0
    assert run(repo, swarm_cluster, "check").exit_code == 0
    squatter = swarm_cluster.client(1).containers.run(
        swarm_cluster.base_image, ["sleep", "600"], name=f"{swarm_system}-squatter", ports={"80/tcp": 18080},
        detach=True)
    try:
        found = run(repo, swarm_cluster, "check", "--json")
        assert found.exit_code == 3, found.output
        assert [(d["kind"], d["field"], d["service"], d["actual"]) for d in json.loads(found.output)["drift"]] == [
            ("unmanaged", "ports", "web", f"18080/tcp held by {swarm_system}-squatter on node1")]
    finally:
        squatter.remove(force=True)
    assert run(repo, swarm_cluster, "check").exit_code == 0
