"""The core pipeline against the real Docker Engine: spec -> live -> diff -> plan -> execute -> verify."""

from __future__ import annotations

import json
import time

import pytest

from gitdeploy import pipeline
from gitdeploy.errors import GitdeployError
from gitdeploy.live import labels
from gitdeploy.render.plan import plan_json, plan_markdown
from tests.specrepo import SLEEP, running, svc

pytestmark = pytest.mark.docker

def test_fresh_deploy_labels_network_and_noop(spec_repo, system_name, docker_client):
    sha = spec_repo.commit({
        "gitdeploy.yaml": {
            "system": system_name,
            "services": {"db": svc()},
            "groups": {"app": {"environment": {"COLOR": "blue"}, "services": {
                "web": svc(replicas=2, depends_on=["db"], environment={"ROLE": "web"}),
            }}},
        }
    })
    ctx = spec_repo.ctx()
    events = []
    result = pipeline.deploy(ctx, on_event=events.append)
    assert result.ok, result.failure
    assert result.verification.headline(sha) == f"3/3 containers at {sha[:7]}"

    cs = running(docker_client, system_name)
    assert len(cs) == 3
    web = [c for c in cs if c.labels[labels.SERVICE] == "app/web"]
    assert sorted(c.labels[labels.REPLICA] for c in web) == ["1", "2"]
    assert {c.labels[labels.COMMIT] for c in cs} == {sha}
    env = dict(e.split("=", 1) for e in web[0].attrs["Config"]["Env"])
    assert env["COLOR"] == "blue" and env["ROLE"] == "web"
    # db before web: db's step finished before web's step started
    kinds = [(e.path, e.kind) for e in result.events]
    assert kinds.index(("db", "step-done")) < kinds.index(("app/web", "step-start"))
    # the service alias resolves on the system network (by short name and by dashed path)
    out = web[0].exec_run(["sh", "-c", "nslookup db >/dev/null && nslookup app-web >/dev/null && echo ok"])
    assert out.output.decode().strip().endswith("ok"), out.output

    again = pipeline.prepare(ctx)
    assert not again.plan.has_changes
    assert again.plan.summary() == "no changes (2 unchanged)"


def test_unlabeled_container_is_never_ours(spec_repo, system_name, docker_client, base_image):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"a": svc()}}})
    stranger = docker_client.containers.run(base_image, SLEEP, name=f"{system_name}.production.a.1.x",
                                            detach=True, labels={"other": "x"})
    try:
        result = pipeline.deploy(spec_repo.ctx())
        assert result.ok
        live = spec_repo.ctx().engine().analyze(system_name, "production")
        assert stranger.id not in {c.id for c in live.containers}
    finally:
        stranger.remove(force=True)


def test_config_env_and_secret_changes_replace_with_field_diffs(spec_repo, system_name, docker_client, tmp_path):
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "api_key").write_text("hunter2-first")
    spec = {
        "system": system_name,
        "services": {
            "app": svc(environment={"LEVEL": "info"}, configs=[{"source": "conf/app.conf", "target": "/etc/app.conf"}],
                       secrets=["api_key"]),
            "other": svc(),
        },
    }
    spec_repo.commit({"gitdeploy.yaml": spec, "conf/app.conf": "threads=2\n"})
    ctx = spec_repo.ctx(secrets_dir=secrets_dir)
    assert pipeline.deploy(ctx).ok
    app = [c for c in running(docker_client, system_name) if c.labels[labels.SERVICE] == "app"][0]
    assert app.exec_run(["cat", "/etc/app.conf"]).output == b"threads=2\n"
    assert app.exec_run(["cat", "/run/secrets/api_key"]).output == b"hunter2-first"
    assert app.exec_run(["sh", "-c", "echo x > /etc/app.conf"]).exit_code != 0  # read-only mount

    # change only the config file: the app is replaced, the config diff names the file
    spec_repo.commit({"conf/app.conf": "threads=4\n"})
    plan = pipeline.prepare(ctx).plan
    by = {c.path: c for c in plan.changes}
    assert by["app"].action == "replace" and by["other"].action == "unchanged"
    assert [f.field for f in by["app"].fields] == ["configs./etc/app.conf"]

    # change env and the secret (outside git): both named, the secret value never shown
    spec["services"]["app"]["environment"] = {"LEVEL": "debug"}
    spec_repo.commit({"gitdeploy.yaml": spec})
    (secrets_dir / "api_key").write_text("hunter2-second")
    plan = pipeline.prepare(ctx).plan
    fields = {f.field: (f.old, f.new) for f in {c.path: c for c in plan.changes}["app"].fields}
    assert fields["environment.LEVEL"] == ("info", "debug")
    assert fields["secrets./run/secrets/api_key"] == ("(secret api_key)", "(secret changed)")
    for rendered in (plan_json(plan), plan_markdown(plan)):
        assert "hunter2" not in rendered
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    app = [c for c in running(docker_client, system_name) if c.labels[labels.SERVICE] == "app"][0]
    assert app.exec_run(["cat", "/etc/app.conf"]).output == b"threads=4\n"
    assert app.exec_run(["cat", "/run/secrets/api_key"]).output == b"hunter2-second"
    assert "hunter2" not in json.dumps(app.labels) and "hunter2" not in json.dumps(app.attrs["Config"]["Env"])


def test_scale_remove_and_start(spec_repo, system_name, docker_client):
    spec = {"system": system_name, "services": {"a": svc(replicas=3), "b": svc()}}
    spec_repo.commit({"gitdeploy.yaml": spec})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    spec["services"]["a"]["replicas"] = 1
    del spec["services"]["b"]
    spec_repo.commit({"gitdeploy.yaml": spec})
    plan = pipeline.prepare(ctx).plan
    assert {c.path: c.action for c in plan.changes} == {"a": "scale", "b": "remove"}
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    assert [c.labels[labels.REPLICA] for c in running(docker_client, system_name)] == ["1"]

    # a stopped container at the target revision is started, not recreated
    only = running(docker_client, system_name)[0]
    only.stop(timeout=1)
    plan = pipeline.prepare(ctx).plan
    assert [c.action for c in plan.changes if c.path == "a"] == ["start"]
    assert pipeline.deploy(ctx).ok
    assert [c.id for c in running(docker_client, system_name)] == [only.id]


def test_failing_health_gate_rolls_back_to_previous_revision(spec_repo, system_name, docker_client):
    good = svc(replicas=2, healthcheck={"test": "true", "interval": "0.5s", "retries": 1},
               rollout={"deadline": "20s"})
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"api": good, "dep": svc(depends_on=["api"])}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    before = {c.id for c in running(docker_client, system_name)}

    bad = dict(good, healthcheck={"test": "false", "interval": "0.5s", "retries": 1}, rollout={"deadline": "4s"})
    sha = spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {
        "api": bad, "dep": svc(depends_on=["api"], environment={"X": "1"})}}})
    result = pipeline.deploy(ctx)
    assert not result.ok and result.rolled_back and result.rollback_verified
    assert "api" in result.failure and "health gate" in result.failure
    assert {o.path: (o.ok, o.skipped) for o in result.outcomes} == {"api": (False, False), "dep": (False, True)}
    assert {c.id for c in running(docker_client, system_name)} == before
    assert sha[:7] in result.headline and "rolled back" in result.headline


def test_build_context_change_rebuilds_and_replaces(spec_repo, system_name, docker_client):
    site = svc(build="site")
    del site["image"], site["command"]
    spec = {"system": system_name, "services": {"site": site}}
    spec_repo.commit({
        "gitdeploy.yaml": spec,
        "site/Dockerfile": "FROM gitdeploy/busybox:1\nCOPY msg /msg\nCMD [\"sleep\", \"3600\"]\n",
        "site/msg": "v1",
    })
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    c1 = running(docker_client, system_name)[0]
    assert c1.exec_run(["cat", "/msg"]).output == b"v1"
    spec_repo.commit({"site/msg": "v2"})
    plan = pipeline.prepare(ctx).plan
    assert [f.field for f in plan.changes[0].fields] == ["image_id"]
    assert pipeline.deploy(ctx).ok
    c2 = running(docker_client, system_name)[0]
    assert c2.exec_run(["cat", "/msg"]).output == b"v2" and c2.id != c1.id


def test_missing_image_is_a_clear_error(spec_repo, system_name):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"a": svc(image="nope/missing:1")}}})
    with pytest.raises(GitdeployError) as err:
        pipeline.prepare(spec_repo.ctx())
    assert "nope/missing:1" in err.value.message and "could not be pulled" in err.value.message


def test_an_unhealthy_dependency_is_replaced_before_its_dependent_starts(spec_repo, system_name, docker_client):
    """An unchanged dependency that turned unhealthy is not kept: the plan replaces it at the
    same revision, and its `service_healthy` dependent starts only after the new one is healthy."""
    db = svc(command=["sh", "-c", "touch /tmp/ok; exec sleep 3600"],
             healthcheck={"test": "test -e /tmp/ok", "interval": "0.3s", "retries": 1},
             rollout={"deadline": "5s"})
    spec = {"system": system_name, "services": {"db": db}}
    spec_repo.commit({"gitdeploy.yaml": spec})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    (db_container,) = running(docker_client, system_name)
    db_container.exec_run(["rm", "/tmp/ok"])  # db stays up but turns unhealthy
    for _ in range(50):
        db_container.reload()
        if db_container.attrs["State"]["Health"]["Status"] == "unhealthy":
            break
        time.sleep(0.1)
    assert db_container.attrs["State"]["Health"]["Status"] == "unhealthy"

    spec["services"]["web"] = svc(depends_on={"db": {"condition": "service_healthy"}})
    spec_repo.commit({"gitdeploy.yaml": spec})
    plans = []
    result = pipeline.deploy(ctx, on_plan=plans.append)
    assert result.ok, result.failure
    (db_change,) = [c for c in plans[0].changes if c.path == "db"]
    assert db_change.action == "replace" and "not healthy" in db_change.reason
    (web_step,) = [s for s in plans[0].steps if s.path == "web"]
    assert web_step.after == ("db",)
    ids = {c.labels["io.gitdeploy.service"]: c.id for c in running(docker_client, system_name)}
    assert ids["db"] != db_container.id
    db_container.reload()
    assert db_container.status == "exited"  # kept for rollback, not serving
