"""Drift detection and `fix` against the real engine."""

from __future__ import annotations

import pytest

from gitdeploy.heal import check, fix
from gitdeploy.heal.check import load_target
from gitdeploy.live import labels
from tests.heal.helpers import SLEEP, containers

pytestmark = pytest.mark.docker


def one(client, system, service):
    return containers(client, system, service)[0]


def test_fresh_system_never_drifts(deployed, docker_client, system_name):
    ctx, _ = deployed
    app = one(docker_client, system_name, "app")
    # what a running service legitimately does: write into its volume and its drift_ignore path
    assert app.exec_run(["sh", "-c", "echo x > /var/lib/data/x && mkdir -p /tmp/cache && touch /tmp/cache/y"]).exit_code == 0
    first = check(ctx)
    assert first.clean, first.drifts
    assert first.containers == 3
    target = load_target(ctx)
    for _ in range(100):
        report = check(ctx, target)
        assert report.clean, report.drifts


def test_tampering_names_the_files_and_fix_replaces_the_container(deployed, docker_client, system_name):
    ctx, _ = deployed
    app = one(docker_client, system_name, "app")
    assert app.exec_run(["touch", "/etc/x"]).exit_code == 0
    report = check(ctx)
    (d,) = report.drifts
    assert (d.kind, d.service, d.container_id, d.field) == ("tampered", "app", app.id, "files")
    assert d.actual == "A /etc/x"  # /etc itself is explained: the engine made /etc/app for the config
    assert "A /etc/x" in d.explanation

    out = fix(ctx)
    assert out.result is not None and out.result.ok, out.result and out.result.failure
    assert out.services == ("app",) and out.after.clean, out.after.drifts
    new = one(docker_client, system_name, "app")
    assert new.id != app.id
    assert new.exec_run(["cat", "/etc/app/app.conf"]).output == b"threads=2\n"
    assert app.id in out.removed  # a tampered container is no rollback target
    assert check(ctx).clean


def test_docker_update_memory_is_configuration_drift(deployed, docker_client, system_name):
    ctx, _ = deployed
    w = one(docker_client, system_name, "worker")
    # cgroup v1 refuses a memory limit above the (unlimited) swap limit unless both are given
    docker_client.api.update_container(w.id, mem_limit="64m", memswap_limit=-1)
    report = check(ctx)
    by_field = {d.field: d for d in report.drifts}
    mem = by_field["resources.memory"]
    assert (mem.kind, mem.container_id, mem.expected) == ("config", w.id, "(unset)")
    assert mem.actual == "67108864 (64 MiB)"
    assert "resources.memory is 67108864 (64 MiB)" in mem.explanation
    assert {d.kind for d in report.drifts} == {"config"}
    out = fix(ctx)
    assert out.after.clean, out.after.drifts
    assert w.id not in {c.id for c in containers(docker_client, system_name, "worker")}


def test_kill_extra_and_unmanaged(deployed, docker_client, system_name, base_image):
    ctx, _ = deployed
    w = one(docker_client, system_name, "worker")
    w.kill()
    app = one(docker_client, system_name, "app")
    lab = {k: v for k, v in app.labels.items() if k in (labels.SYSTEM, labels.ENV)} | {labels.SERVICE: "ghost"}
    extra = docker_client.containers.run(base_image, SLEEP, detach=True, labels=lab, init=True,
                                         name=f"{system_name}.production.ghost.1.x")
    stranger = docker_client.containers.run(base_image, SLEEP, detach=True, init=True, ports={"80/tcp": ("127.0.0.1", 0)},
                                            name=f"{system_name}-stranger", labels={"test.owner": system_name})
    try:
        report = check(ctx)
        kinds = {(d.kind, d.container_id) for d in report.drifts}
        assert ("exited", w.id) in kinds
        assert ("extra", extra.id) in kinds
        ex = next(d for d in report.drifts if d.kind == "exited")
        assert "exit code 137 (killed)" in ex.explanation
        assert stranger.id not in {d.container_id for d in report.drifts}  # holds no port or name of ours

        out = fix(ctx)
        assert out.result is not None and out.result.ok, out.result.failure
        assert out.after.clean, out.after.drifts
        extra.reload()
        assert extra.status == "exited"  # retired like any service no longer in the spec
        assert len(containers(docker_client, system_name, "worker")) == 2
    finally:
        extra.remove(force=True)
        stranger.remove(force=True)


def test_unmanaged_container_holding_a_declared_port(spec_repo, system_name, docker_client, base_image):
    from gitdeploy import pipeline
    from tests.heal.helpers import svc

    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {
        "web": svc(ports=["127.0.0.1:18931:80"])}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    web = one(docker_client, system_name, "web")
    web.stop(timeout=1)
    stranger = docker_client.containers.run(base_image, SLEEP, detach=True, init=True,
                                            ports={"80/tcp": ("127.0.0.1", 18931)}, name=f"{system_name}-squatter")
    try:
        report = check(ctx)
        (held,) = [d for d in report.drifts if d.kind == "unmanaged"]
        assert held.container_id == stranger.id and held.field == "ports"
        assert "18931" in held.explanation and "does not manage" in held.explanation
        assert any(d.kind == "exited" for d in report.drifts)
        out = fix(ctx)  # the start fails (port taken): rolled back, and the squatter is left alone
        stranger.reload()
        assert stranger.status == "running"
        assert any(d.kind == "unmanaged" for d in out.after.drifts)
    finally:
        stranger.remove(force=True)


def test_a_replica_out_of_dns_is_drift_and_is_not_kept_by_the_next_deploy(deployed, docker_client, system_name):
    """What an interrupted start-first leaves: a running replica on the network without its
    aliases. `check` must see it, verification must refuse it, and a deploy must replace it."""
    from gitdeploy import pipeline
    from gitdeploy.live.engine import network_name

    ctx, _ = deployed
    app = one(docker_client, system_name, "app")
    net = network_name(system_name, "production")
    docker_client.api.disconnect_container_from_network(app.id, net)
    docker_client.api.connect_container_to_network(app.id, net)  # back, without its aliases
    report = check(ctx)
    (d,) = report.drifts
    assert (d.kind, d.container_id, d.field) == ("unpublished", app.id, "network")
    assert "aliases app" in d.actual and "cannot reach it by name" in d.explanation
    prepared = pipeline.prepare(ctx)
    v = pipeline.check_verified(ctx, prepared)
    assert not v.ok and any("not reachable by name" in p for p in v.problems)
    (change,) = [c for c in prepared.plan.changes if c.path == "app"]
    assert change.action == "replace" and "not reachable by name" in change.reason
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    assert one(docker_client, system_name, "app").id != app.id
    assert check(ctx).clean
