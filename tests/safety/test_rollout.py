"""Health-gated rollouts against the real engine: zero-downtime start-first, automatic rollback,
and the Knight Capital scenario (one replica of eight fails: everything goes back, config too)."""

from __future__ import annotations

import json
import time

import docker.errors
import pytest

from gitdeploy import pipeline
from gitdeploy.live import labels
from gitdeploy.live.engine import REPLICA_ENV, network_name
from tests.safety.common import WGET, fetch, running, svc, web

pytestmark = pytest.mark.docker


def test_start_first_replace_serves_every_request(spec_repo, system_name, docker_client, base_image):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": web("v1", replicas=2)}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    assert fetch(docker_client, base_image, system_name, "web") == "v1"

    # A client on the system network hammers the alias (bounded: 1500 requests or a stop file).
    loop = ("i=0; while [ $i -lt 1500 ] && [ ! -e /tmp/stop ]; do "
            f'if out=$({WGET} http://web/ 2>&1); then echo "ok $out"; else echo "FAIL $out"; fi; '
            "i=$((i+1)); done; echo end")
    client = docker_client.containers.run(base_image, ["sh", "-c", loop], detach=True,
                                          network=network_name(system_name, "production"))
    try:
        time.sleep(0.5)
        spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": web("v2", replicas=2)}}})
        result = pipeline.deploy(ctx)
        assert result.ok, result.failure
        assert [s.order for s in result.plan.steps] == ["start-first"]
        time.sleep(0.5)
        try:
            client.exec_run(["touch", "/tmp/stop"])
        except docker.errors.APIError:
            pass  # the client already finished its bounded loop
        client.wait(timeout=30)
        lines = client.logs(stderr=False).decode().splitlines()  # stdout: one line per request
    finally:
        client.remove(force=True)
    assert lines[-1] == "end"
    answers = lines[:-1]
    failures = [line for line in answers if not line.startswith("ok ")]
    assert len(answers) > 20, answers
    # the replace happened under load: the client saw the old and then the new revision
    assert {"ok v1", "ok v2"} <= set(answers)
    assert [a for a in answers if a.startswith("ok ")][-1] == "ok v2"
    assert sum(1 for e in result.events if e.kind == "retired") == 2
    # Zero: new replicas join the alias only once healthy, and `docker stop` takes an old one
    # out of DNS before signalling it (no network disconnect cutting requests in flight).
    assert failures == [], f"{len(failures)} of {len(answers)} requests failed: {failures[:3]}"


def test_failing_health_check_rolls_back_and_old_revision_keeps_serving(
        spec_repo, system_name, docker_client, base_image):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": web("v1", replicas=2)}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    before = {c.id for c in running(docker_client, system_name)}

    broken = web("v2", replicas=2, healthcheck={"test": ["CMD", "false"], "interval": "0.3s", "retries": 1},
                 rollout={"deadline": "3s"})
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": broken}}})
    result = pipeline.deploy(ctx)
    assert not result.ok and result.rolled_back and result.rollback_verified
    assert "health gate" in result.failure
    assert {c.id for c in running(docker_client, system_name)} == before
    assert fetch(docker_client, base_image, system_name, "web") == "v1"


def test_knight_one_replica_of_eight_fails_everything_back_with_its_config(spec_repo, system_name, docker_client):
    conf = {"source": "conf/app.conf", "target": "/etc/app.conf"}
    old = svc(replicas=8, configs=[conf], rollout={"monitor": "0.5s", "parallelism": 2})
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"trader": old}},
                      "conf/app.conf": "power_peg=off\n"})
    ctx = spec_repo.ctx()
    first = pipeline.deploy(ctx)
    assert first.ok, first.failure
    before = {c.id: c.labels[labels.HASH] for c in running(docker_client, system_name)}
    assert len(before) == 8

    # The new revision changes the config and fails to come up on exactly one replica (the 6th).
    new = dict(old, command=["sh", "-c", f'[ "${REPLICA_ENV}" = 6 ] && exit 3; exec sleep 3600'])
    sha = spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"trader": new}},
                            "conf/app.conf": "power_peg=on\n"})
    result = pipeline.deploy(ctx)
    assert not result.ok and result.rolled_back and result.rollback_verified, "\n".join(f"{e.kind} {e.message}" for e in result.events)
    assert "replica 6" in result.failure and sha[:7] in result.headline
    gates = [e for e in result.events if e.kind == "gate-ok"]
    assert gates, "some replicas of the new revision came up before the 6th failed"

    after = running(docker_client, system_name)
    assert {c.id: c.labels[labels.HASH] for c in after} == before  # all 8 at the previous revision
    for c in after:
        assert c.exec_run(["cat", "/etc/app.conf"]).output == b"power_peg=off\n"  # and its config
        env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
        assert env[REPLICA_ENV] == c.labels[labels.REPLICA]
        assert REPLICA_ENV not in json.loads(c.labels[labels.DEFINITION]).get("environment", {})
    # nothing of the failed revision is left behind
    all_ = docker_client.containers.list(all=True, filters={"label": f"{labels.SYSTEM}={system_name}"})
    assert not [c for c in all_ if c.labels[labels.COMMIT] == sha]
