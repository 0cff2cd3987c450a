"""The whole pipeline on a real two-node cluster: deploy spread and pinned by digest, a request
across nodes, the whole-stack rollback, the Knight test, the lock, rollback by revision, halt."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitdeploy import pipeline
from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import attempts, deployed_commit, open_repo
from gitdeploy.live import labels
from gitdeploy.live.enginelock import Holder
from gitdeploy.pipeline import Context
from tests.specrepo import SpecRepo
from tests.swarm.marks import SWARM

pytestmark = SWARM

WGET = "timeout 2 wget -q -O-"


def httpd(image: str, version: str, replicas: int = 2, **kw) -> dict:
    """busybox httpd answering `<version> <replica> <node>`, health-checked, one task per node."""
    script = (f"mkdir -p /www && echo {version} $GITDEPLOY_REPLICA $(hostname) > /www/index.html "
              "&& exec httpd -f -p 80 -h /www")
    out = {"image": image, "command": ["sh", "-c", script], "replicas": replicas, "init": True,
           "stop_grace_period": "1s", "endpoint_mode": "dnsrr",
           "placement": {"max_replicas_per_node": 1},
           "healthcheck": {"test": ["CMD-SHELL", f"{WGET} http://127.0.0.1/ >/dev/null"], "interval": "0.5s",
                           "timeout": "2s", "retries": 3},
           "rollout": {"order": "stop-first", "deadline": "20s", "monitor": "1s"}}
    out.update(kw)
    return out


def sleeper(image: str, **kw) -> dict:
    out = {"image": image, "command": ["sleep", "3600"], "init": True, "stop_grace_period": "1s",
           "endpoint_mode": "dnsrr", "rollout": {"monitor": "1s"}}
    out.update(kw)
    return out


@pytest.fixture
def cluster_repo(tmp_path, swarm_cluster, swarm_system):
    repo = SpecRepo.create(tmp_path, swarm_cluster.manager)

    def ctx(**kw) -> Context:
        return Context(repo=repo.root, data_dir=repo.data_dir, client=swarm_cluster.manager, engine_kind="swarm",
                       registry=swarm_cluster.registry, docker_host=swarm_cluster.nodes[0].host, **kw)

    repo.ctx = ctx  # type: ignore[method-assign]
    return repo


def spec(system: str, services: dict) -> dict:
    return {"gitdeploy.yaml": {"system": system, "services": services}}


def service_of(cluster, system: str, path: str):
    found = cluster.manager.services.list(filters={"label": [f"{labels.SYSTEM}={system}", f"{labels.SERVICE}={path}"]})
    assert len(found) == 1, found
    return found[0]


def test_deploy_spreads_pins_by_digest_answers_across_nodes_and_is_a_no_op_again(cluster_repo, swarm_cluster,
                                                                                  swarm_system):
    image = swarm_cluster.base_image.split("@")[0]  # a tag: gitdeploy pins it to the registry's digest
    commit = cluster_repo.commit(spec(swarm_system, {
        "api": httpd(image, "v1"),
        "client": sleeper(image, depends_on=["api"]),
    }))
    ctx = cluster_repo.ctx()
    prepared = pipeline.prepare(ctx)
    assert prepared.plan.engine == "swarm" and prepared.plan.summary() == "2 to create"
    digest = swarm_cluster.base_image.split("@")[1]
    assert all(d.image_id == f"{image}@{digest}" for d in prepared.desired)  # the plan shows the digest

    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    assert result.verification.headline(commit) == f"3/3 tasks at {commit[:7]} on 2 nodes"
    assert deployed_commit(open_repo(cluster_repo.root), "production") == commit

    api = service_of(swarm_cluster, swarm_system, "api")
    spec_labels = api.attrs["Spec"]["Labels"]
    assert spec_labels[labels.COMMIT] == commit and spec_labels[labels.SYSTEM] == swarm_system
    running = [t for t in api.tasks() if t["Status"]["State"] == "running"]
    assert len({t["NodeID"] for t in running}) == 2  # spread over both nodes
    assert {t["Spec"]["ContainerSpec"]["Image"] for t in running} == {f"{image}@{digest}"}

    # a request from the client's task to api by name, through the overlay: both replicas answer,
    # so at least one answer crossed to the other node
    client_task = next(t for t in service_of(swarm_cluster, swarm_system, "client").tasks()
                       if t["Status"]["State"] == "running")
    node = swarm_cluster.node_ids()[client_task["NodeID"]]
    container = swarm_cluster.client(node).containers.get(client_task["Status"]["ContainerStatus"]["ContainerID"])
    answers = set()
    for _ in range(20):
        code, out = container.exec_run(["sh", "-c", f"{WGET} http://api/"])
        if code == 0:
            answers.add(out.decode().split()[1])
        if answers == {"1", "2"}:
            break
    assert answers == {"1", "2"}

    again = pipeline.prepare(ctx)
    assert not again.plan.has_changes, again.plan.summary()
    assert dict(again.plan.nodes)["api"] == tuple(sorted(n.hostname for n in swarm_cluster.nodes))
    assert pipeline.check_verified(ctx, again).ok


def test_one_failing_service_rolls_the_whole_stack_back(cluster_repo, swarm_cluster, swarm_system):
    image = swarm_cluster.base_image
    first = cluster_repo.commit(spec(swarm_system, {
        "api": httpd(image, "v1"),
        "worker": sleeper(image, environment={"MODE": "one"}),
    }))
    ctx = cluster_repo.ctx()
    r0 = pipeline.deploy(ctx)
    assert r0.ok, r0.failure
    before = {p: service_of(swarm_cluster, swarm_system, p).attrs["Spec"] for p in ("api", "worker")}

    # worker's change is fine and goes first; api's new revision never becomes healthy
    cluster_repo.commit(spec(swarm_system, {
        "api": httpd(image, "v2", command=["sh", "-c", "exit 3"], depends_on=["worker"]),
        "worker": sleeper(image, environment={"MODE": "two"}),
    }))
    result = pipeline.deploy(ctx)
    assert not result.ok and result.rolled_back and result.rollback_verified, result.failure
    assert "api" in result.failure and "restored: " in result.failure
    assert "worker" in result.failure.split("restored: ")[1]  # the service that had succeeded went back too
    worker_ok = next(o for o in result.outcomes if o.path == "worker")
    assert worker_ok.ok
    for path in ("api", "worker"):
        now = service_of(swarm_cluster, swarm_system, path).attrs["Spec"]
        assert now["TaskTemplate"] == before[path]["TaskTemplate"], path
        assert now["Labels"][labels.COMMIT] == first
    assert deployed_commit(open_repo(cluster_repo.root), "production") == first
    assert pipeline.check_verified(ctx, pipeline.prepare(ctx, first)).ok


def test_knight_8_replicas_on_2_nodes_one_node_fails_everything_back_with_its_old_config(
        cluster_repo, swarm_cluster, swarm_system):
    image = swarm_cluster.base_image
    nodes = sorted(n.hostname for n in swarm_cluster.nodes)
    # The new revision fails on one node only: its config makes the replicas on that node exit.
    check = f'[ "$NODE" != "{nodes[1]}" ] || ! grep -q v2 /etc/app.conf'
    svc = sleeper(image, replicas=8, command=["sh", "-c", f"{check} && exec sleep 3600"],
                  configs=[{"source": "app.conf", "target": "/etc/app.conf"}],
                  environment={"NODE": "{{.Node.Hostname}}"},  # Swarm fills in the task's node
                  placement={"max_replicas_per_node": 4}, rollout={"monitor": "2s", "order": "stop-first"})
    cluster_repo.commit({"app.conf": "version=v1\n", **spec(swarm_system, {"trade": svc})})
    ctx = cluster_repo.ctx()
    first = pipeline.deploy(ctx)
    assert first.ok, first.failure
    assert first.verification.headline(None).startswith("8/8 tasks") and first.verification.nodes == 2

    cluster_repo.commit({"app.conf": "version=v2\n"})
    # as a user meets it: the command, its exit code and what it says
    cli = subprocess.run([str(Path(sys.executable).parent / "gitdeploy"), "--engine", "swarm",
                          "--docker-host", swarm_cluster.nodes[0].host, "--registry", swarm_cluster.registry,
                          "--repo", str(cluster_repo.root), "--data-dir", str(cluster_repo.data_dir), "deploy"],
                         capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin",
                                                                             "HOME": str(cluster_repo.root)})
    out = cli.stdout + cli.stderr
    assert cli.returncode == 1, out
    assert "FAILED, rolled back (every service's previous spec restored and verified)" in out, out
    assert "trade" in out and "8/8 tasks at" in out, out
    trade = service_of(swarm_cluster, swarm_system, "trade")
    running = [t for t in trade.tasks() if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]
    assert len(running) == 8 and len({t["NodeID"] for t in running}) == 2
    configs = {c["ConfigName"] for t in running for c in t["Spec"]["ContainerSpec"]["Configs"]}
    assert len(configs) == 1
    data = swarm_cluster.manager.configs.list(filters={"name": configs.pop()})[0]
    assert base64.b64decode(data.attrs["Spec"]["Data"]) == b"version=v1\n"  # the old config, everywhere


def test_the_cluster_lock_holds_against_a_second_deployer(cluster_repo, swarm_cluster, swarm_system):
    cluster_repo.commit(spec(swarm_system, {"worker": sleeper(swarm_cluster.base_image)}))
    ctx = cluster_repo.ctx()
    other = Holder("bob@server-b", "deploy from another host", 4242, "server-b", "another-boot", "another-ns", 1,
                   "/elsewhere")  # a live holder elsewhere: only its lease can end it
    with ctx.engine().hold_lock(swarm_system, "production", other):
        with pytest.raises(GitdeployError) as refused:
            pipeline.deploy(ctx)
        assert "server-b" in refused.value.message or "bob" in refused.value.message
    assert pipeline.deploy(ctx).ok


def test_rollback_by_revision_and_halt_then_deploy_gives_the_replicas_back(cluster_repo, swarm_cluster,
                                                                          swarm_system):
    image = swarm_cluster.base_image
    first = cluster_repo.commit(spec(swarm_system, {"worker": sleeper(image, replicas=2,
                                                                       environment={"V": "1"})}))
    ctx = cluster_repo.ctx()
    assert pipeline.deploy(ctx).ok
    cluster_repo.commit(spec(swarm_system, {"worker": sleeper(image, replicas=2, environment={"V": "2"})}))
    assert pipeline.deploy(ctx).ok
    back = pipeline.deploy(ctx, first, trigger="rollback")
    assert back.ok, back.failure
    worker = service_of(swarm_cluster, swarm_system, "worker")
    assert "V=1" in worker.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]

    halted = pipeline.halt(ctx, "incident", who="ops")
    assert halted.scaled == (("worker", 2),)
    deadline = time.monotonic() + 30
    while any(t["Status"]["State"] == "running" for t in worker.tasks()) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not any(t["Status"]["State"] == "running" for t in worker.tasks())
    again = pipeline.deploy(ctx, first)
    assert again.ok, again.failure
    assert again.verification.at_target == 2


def test_a_hand_edit_is_planned_as_a_replacement_field_by_field(cluster_repo, swarm_cluster, swarm_system):
    cluster_repo.commit(spec(swarm_system, {"worker": sleeper(swarm_cluster.base_image)}))
    ctx = cluster_repo.ctx()
    assert pipeline.deploy(ctx).ok
    worker = service_of(swarm_cluster, swarm_system, "worker")
    worker.update(env=["ROGUE=1"])
    plan = pipeline.prepare(ctx).plan
    change = next(c for c in plan.changes if c.path == "worker")
    assert change.action == "replace"
    assert any(f.field.endswith("Env.ROGUE") and f.old == "1" for f in change.fields), change.fields
    assert pipeline.deploy(ctx).ok
    assert not pipeline.prepare(ctx).plan.has_changes


KILLED_DEPLOY = """
import sys
from pathlib import Path
from gitdeploy import pipeline
from gitdeploy.pipeline import Context
ctx = Context(repo=Path(sys.argv[1]), data_dir=Path(sys.argv[2]), registry=sys.argv[3], docker_host=sys.argv[4],
              engine_kind="swarm")
said = lambda ev: print(ev.kind, ev.path, ev.message, flush=True)  # what it did, up to the kill
sys.exit(0 if pipeline.deploy(ctx, on_event=said).ok else 1)
"""


def killed_deploy(cluster_repo, swarm_cluster, record: int) -> subprocess.CompletedProcess:
    """A deploy in its own process, SIGKILLed right after the journal's record `record` is durable."""
    env = {"PATH": "/usr/bin:/bin", "GITDEPLOY_FAILPOINT": f"journal:{record}", "HOME": str(cluster_repo.root)}
    killed = subprocess.run([sys.executable, "-c", KILLED_DEPLOY, str(cluster_repo.root), str(cluster_repo.data_dir),
                             swarm_cluster.registry, swarm_cluster.nodes[0].host], env=env, capture_output=True,
                            text=True, timeout=240)
    assert killed.returncode == -9, killed.stderr[-2000:]
    return killed


@pytest.mark.parametrize("killed_after", [3, 5], ids=["first-service-sent", "verified-not-recorded"])
def test_a_deploy_killed_mid_stack_is_recovered_and_check_tells_the_truth(cluster_repo, swarm_cluster, swarm_system,
                                                                         killed_after):
    """Kill it and look: SIGKILL right after the journal's record `killed_after` (1 intent, 2 execute,
    3 api sent, 4 worker sent, 5 verified), then look, then run again."""
    image = swarm_cluster.base_image

    def version(v: str) -> dict:
        return spec(swarm_system, {"api": sleeper(image, environment={"V": v}),
                                   "worker": sleeper(image, environment={"V": v}, depends_on=["api"])})

    first = cluster_repo.commit(version("1"))
    ctx = cluster_repo.ctx()
    assert pipeline.deploy(ctx).ok
    second = cluster_repo.commit(version("2"))
    killed_deploy(cluster_repo, swarm_cluster, killed_after)

    # the look: the verified revision is still the first, and the cluster is not at it (api was sent)
    repo = open_repo(cluster_repo.root)
    assert deployed_commit(repo, "production") == first
    assert not pipeline.check_verified(ctx, pipeline.prepare(ctx, first)).ok

    # the next run recovers first (back to the verified revision, the killed attempt recorded), then deploys
    events: list[str] = []
    result = pipeline.deploy(ctx, on_event=lambda ev: events.append(f"{ev.kind}: {ev.message}"))
    assert result.ok, result.failure
    assert any(e.startswith("recovery: recovered") or "was deployed and verified before" in e for e in events), events
    assert deployed_commit(repo, "production") == second
    assert pipeline.check_verified(ctx, pipeline.prepare(ctx, second)).ok
    results = [a.result for a in attempts(repo, "production") if a.commit == second]  # newest first
    assert results[0] == "ok", results
    assert results[1] == ("ok" if killed_after == 5 else "interrupted"), results


def test_a_deploy_killed_in_its_whole_stack_rollback_is_finished_by_recovery(cluster_repo, swarm_cluster,
                                                                            swarm_system):
    """SIGKILL right after the journal says the rollback began (1 intent, 2 execute, 3 api sent,
    4 worker sent - it fails -, 5 rollback): api was updated fine and nothing was given back yet."""
    image = swarm_cluster.base_image

    def version(v: str, worker: list[str]) -> dict:
        return spec(swarm_system, {"api": sleeper(image, environment={"V": v}),
                                   "worker": sleeper(image, environment={"V": v}, command=worker, depends_on=["api"])})

    first = cluster_repo.commit(version("1", ["sleep", "3600"]))
    ctx = cluster_repo.ctx()
    assert pipeline.deploy(ctx).ok
    second = cluster_repo.commit(version("2", ["sh", "-c", "exit 3"]))
    killed = killed_deploy(cluster_repo, swarm_cluster, 5)
    repo = open_repo(cluster_repo.root)
    assert deployed_commit(repo, "production") == first
    said = f"the killed deploy said:\n{killed.stdout[-3000:]}\n{killed.stderr[-3000:]}"
    assert not pipeline.check_verified(ctx, pipeline.prepare(ctx, first)).ok, said  # api runs V=2

    recovered = pipeline.recover(ctx)
    assert recovered is not None and recovered.ok, recovered
    # Swarm may still be ending a task of the failed spec it restarted before the way back landed
    # (seen once in CI: "1 still at an older spec" right after the recovery verified): it must settle
    deadline = time.monotonic() + 30
    while not (v := pipeline.check_verified(ctx, pipeline.prepare(ctx, first))).ok and time.monotonic() < deadline:
        time.sleep(0.5)
    assert v.ok, v.problems
    assert "V=1" in service_of(swarm_cluster, swarm_system, "api").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert deployed_commit(repo, "production") == first
    assert [a.result for a in attempts(repo, "production") if a.commit == second] == ["interrupted"]
    assert pipeline.recover(ctx) is None  # nothing left to recover


def test_status_rows_name_the_nodes_and_down_removes_services_network_and_objects(cluster_repo, swarm_cluster,
                                                                                 swarm_system):
    from gitdeploy.render.status import service_rows

    image = swarm_cluster.base_image
    cluster_repo.commit({"app.conf": "x=1\n", **spec(swarm_system, {"api": httpd(
        image, "v1", configs=[{"source": "app.conf", "target": "/etc/app.conf"}])})})
    ctx = cluster_repo.ctx()
    assert pipeline.deploy(ctx).ok
    rows = service_rows(ctx.engine().analyze(swarm_system, "production"), {"api": 2})
    assert rows[0]["running"] == 2 and rows[0]["nodes"] == sorted(n.hostname for n in swarm_cluster.nodes)
    assert rows[0]["health"] == ["healthy"]

    gone = pipeline.down(ctx)
    assert (gone.containers, gone.networks) == (2, 1)
    flt = {"label": f"{labels.SYSTEM}={swarm_system}"}
    assert swarm_cluster.manager.services.list(filters=flt) == []
    left = swarm_cluster.manager.networks.list(filters=flt)
    assert left == [], [(n.name, n.attrs.get("Scope"), n.attrs.get("Driver"), n.attrs.get("Labels")) for n in left]
    assert swarm_cluster.manager.configs.list(filters=flt) == []
    assert pipeline.prepare(ctx).plan.summary() == "1 to create"  # the next deploy creates it again


def test_a_global_service_runs_one_task_per_node_and_is_then_unchanged(cluster_repo, swarm_cluster, swarm_system):
    cluster_repo.commit(spec(swarm_system, {"agent": sleeper(swarm_cluster.base_image, mode="global")}))
    ctx = cluster_repo.ctx()
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    assert result.verification.at_target == result.verification.expected == 2
    assert result.verification.nodes == 2
    again = pipeline.prepare(ctx)
    assert not again.plan.has_changes, [(c.path, c.action, c.reason) for c in again.plan.changes]


def test_a_fork_pull_request_is_planned_on_the_cluster_without_building_or_pushing(cluster_repo, swarm_cluster,
                                                                                   swarm_system):
    from gitdeploy.live.forksafe import NOT_BUILT

    app = {k: v for k, v in sleeper("").items() if k != "image"} | {"build": "app"}
    cluster_repo.commit({"app/Dockerfile": f"FROM {swarm_cluster.base_image}\nRUN echo built > /built\n",
                         **spec(swarm_system, {"worker": sleeper(swarm_cluster.base_image), "app": app})})
    prepared = pipeline.prepare(cluster_repo.ctx(untrusted=True))
    images = dict(prepared.plan.images)
    assert images["app"] == NOT_BUILT and images["worker"] == swarm_cluster.base_image
    assert prepared.plan.summary() == "2 to create"
    assert swarm_cluster.manager.services.list(filters={"label": f"{labels.SYSTEM}={swarm_system}"}) == []
    tags = [t for i in swarm_cluster.manager.images.list() for t in i.tags]
    assert not any(swarm_system in t for t in tags), tags  # nothing built, so nothing to push


def test_a_tag_that_ran_before_keeps_its_digest_when_the_tag_moves(cluster_repo, swarm_cluster, swarm_system):
    """A rollback, a revert or a redeploy runs the bytes that ran before: a reference that ran
    here resolves to the digest it ran with, even when someone pushed over its tag since."""
    import io

    manager = swarm_cluster.manager
    ref = f"{swarm_cluster.registry}/{swarm_system}/app:1"
    manager.images.get(swarm_cluster.base_image).tag(ref)
    manager.images.push(ref)
    cluster_repo.commit(spec(swarm_system, {"app": sleeper(ref, environment={"V": "1"})}))
    ctx = cluster_repo.ctx()
    assert pipeline.deploy(ctx).ok
    ran = service_of(swarm_cluster, swarm_system, "app").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert ran.startswith(ref + "@sha256:")

    dockerfile = f"FROM {swarm_cluster.base_image}\nRUN echo moved > /moved\n".encode()
    manager.images.build(fileobj=io.BytesIO(dockerfile), tag=ref, rm=True)
    manager.images.push(ref)  # the tag now names other bytes in the registry
    cluster_repo.commit(spec(swarm_system, {"app": sleeper(ref, environment={"V": "2"})}))
    assert pipeline.deploy(ctx).ok
    now = service_of(swarm_cluster, swarm_system, "app").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert now == ran


def test_the_first_failure_leaves_off_the_other_services_and_the_whole_stack_goes_back(
        cluster_repo, swarm_cluster, swarm_system):
    image = swarm_cluster.base_image
    slow_start = {"test": ["CMD-SHELL", "test -f /tmp/up"], "interval": "0.5s", "timeout": "2s", "retries": 3}

    def version(v: str, slow: str, bad: list[str]) -> dict:
        return spec(swarm_system, {
            "slow": sleeper(image, environment={"V": v}, command=["sh", "-c", f"{slow}; touch /tmp/up; exec sleep 3600"],
                            healthcheck=slow_start, rollout={"deadline": "120s"}),
            "bad": sleeper(image, environment={"V": v}, command=bad)})

    cluster_repo.commit(version("1", "true", ["sleep", "3600"]))
    ctx = cluster_repo.ctx()
    assert pipeline.deploy(ctx).ok
    before = {p: service_of(swarm_cluster, swarm_system, p).attrs["Spec"]["TaskTemplate"] for p in ("slow", "bad")}
    # slow's new tasks become healthy only after 90 s; bad's exit at once
    cluster_repo.commit(version("2", "sleep 90", ["sh", "-c", "exit 3"]))
    result = pipeline.deploy(ctx)
    assert not result.ok and result.rolled_back and result.rollback_verified, result.failure
    outcomes = {o.path: o for o in result.outcomes}
    assert not outcomes["bad"].ok and not outcomes["bad"].skipped
    assert outcomes["slow"].skipped and "left off: another service of this deploy failed" in outcomes["slow"].detail
    assert result.failure.startswith("bad: ") and "slow" in result.failure.split("restored: ")[1]
    for path in ("slow", "bad"):
        assert service_of(swarm_cluster, swarm_system, path).attrs["Spec"]["TaskTemplate"] == before[path]


def test_config_objects_move_with_the_code_and_go_once_no_kept_revision_names_them(cluster_repo, swarm_cluster,
                                                                                   swarm_system):
    """A changed file is a new content-named config; after each verified deploy the objects that
    neither the current nor the previous spec names are pruned (a rollback needs the previous)."""
    svc = sleeper(swarm_cluster.base_image, configs=[{"source": "app.conf", "target": "/etc/app.conf"}])
    ctx = cluster_repo.ctx()
    names: list[str] = []
    for v in ("1", "2", "3"):
        cluster_repo.commit({"app.conf": f"version={v}\n", **spec(swarm_system, {"api": svc})})
        result = pipeline.deploy(ctx)
        assert result.ok, result.failure
        refs = service_of(swarm_cluster, swarm_system, "api").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Configs"]
        names.append(refs[0]["ConfigName"])
    assert len(set(names)) == 3  # each content its own object, never edited in place
    have = {c.name for c in swarm_cluster.manager.configs.list(filters={"label": f"{labels.SYSTEM}={swarm_system}"})}
    assert names[2] in have and names[1] in have  # the running revision and the one a rollback returns to
    assert names[0] not in have  # no kept revision names it
