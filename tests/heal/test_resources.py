"""`resources` on the docker engine, against the real engine: sent at create, part of the
container's identity, and compared by the healer (a hand `docker update` is config drift)."""

from __future__ import annotations

import pytest

from gitdeploy import pipeline
from gitdeploy.heal import check, fix
from gitdeploy.live.resources import host_resources, swap_as_created
from tests.heal.helpers import containers, svc

pytestmark = pytest.mark.docker

LIMITED = {"limits": {"cpus": "0.5", "memory": "64M"}, "reservations": {"memory": "32M"}}


def _deploy(spec_repo, system_name, **worker):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"worker": svc(**worker)}}})
    result = pipeline.deploy(spec_repo.ctx())
    assert result.ok, result.failure
    return spec_repo.ctx()


def test_limits_run_with_the_container_and_a_hand_update_is_drift(spec_repo, system_name, docker_client):
    ctx = _deploy(spec_repo, system_name, resources=LIMITED)
    (w,) = containers(docker_client, system_name, "worker")
    host = w.attrs["HostConfig"]
    assert (host["NanoCpus"], host["Memory"], host["MemoryReservation"]) == (500_000_000, 64 << 20, 32 << 20)
    assert check(ctx).clean, check(ctx).drifts  # the engine's own swap default is no drift

    docker_client.api.update_container(w.id, mem_limit="128m", memswap_limit=-1)
    drifts = {d.field: d for d in check(ctx).drifts}
    assert drifts["resources.memory"].kind == "config"
    assert (drifts["resources.memory"].expected, drifts["resources.memory"].actual) == (
        "67108864 (64 MiB)", "134217728 (128 MiB)")
    assert {d.kind for d in drifts.values()} == {"config"}

    out = fix(ctx)
    assert out.after.clean, out.after.drifts
    (new,) = containers(docker_client, system_name, "worker")
    assert new.id != w.id and new.attrs["HostConfig"]["Memory"] == 64 << 20


def test_changing_resources_replaces_the_container(spec_repo, system_name, docker_client):
    _deploy(spec_repo, system_name)
    (before,) = containers(docker_client, system_name, "worker")
    assert before.attrs["HostConfig"]["Memory"] == 0
    ctx = _deploy(spec_repo, system_name, resources={"limits": {"cpus": 1}})
    (after,) = containers(docker_client, system_name, "worker")
    assert after.id != before.id
    assert (after.attrs["HostConfig"]["NanoCpus"], after.attrs["HostConfig"]["Memory"]) == (1_000_000_000, 0)
    assert check(ctx).clean


def test_host_resources_come_from_the_definition_exactly():
    assert host_resources({}) == {}
    assert host_resources({"resources": {"limits.cpus": "0.123456789", "limits.memory": 64 << 20,
                                         "reservations.memory": 6 << 20}}) == {
        "NanoCpus": 123_456_789, "Memory": 64 << 20, "MemoryReservation": 6 << 20}


@pytest.mark.parametrize(("memory", "swap", "ok"), [
    (None, 0, True), (None, None, True), (None, -1, False), (None, 1 << 20, False),
    (64 << 20, 128 << 20, True), (64 << 20, -1, True), (64 << 20, 64 << 20, False), (64 << 20, 0, False),
])
def test_the_engines_own_swap_default_is_no_drift(memory, swap, ok):
    assert swap_as_created(memory, swap) is ok
