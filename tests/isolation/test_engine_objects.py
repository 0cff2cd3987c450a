"""Networks and volumes are ours by exact name AND label; duplicates merge (issues 9 and 10)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gitdeploy import pipeline
from gitdeploy.cli import cli
from gitdeploy.errors import GitdeployError
from gitdeploy.live import labels
from gitdeploy.live.engine import Engine, managed_labels, network_name
from tests.specrepo import running

pytestmark = pytest.mark.docker


def test_a_same_named_foreign_network_is_refused_by_deploy(neighbours, system_name, docker_client):
    repo = neighbours(system_name)
    foreign = docker_client.networks.create(network_name(system_name, "production"), labels={"team": "x"})
    try:
        result = pipeline.deploy(repo.ctx())
        assert not result.ok
        assert f"network {system_name}.production exists but belongs to something other than gitdeploy" \
            in result.failure, result.failure
        assert running(docker_client, system_name) == []
        # `down` leaves it alone too: it is not ours
        out = CliRunner().invoke(cli, ["--repo", str(repo.root), "--data-dir", str(repo.data_dir), "down"])
        assert out.exit_code == 0, out.output
        foreign.reload()
    finally:
        foreign.remove()


def test_a_network_of_another_environment_label_is_refused(docker_client, system_name, tmp_path):
    name = network_name(system_name, "production")
    other = docker_client.networks.create(name, labels=managed_labels(system_name, "staging"))
    try:
        with pytest.raises(GitdeployError) as err:
            Engine(docker_client, tmp_path).ensure_network(system_name, "production")
        assert f"gitdeploy system '{system_name}' (staging)" in err.value.message
    finally:
        other.remove()


def test_volumes_of_different_systems_cannot_be_shared(docker_client, system_name, tmp_path):
    """System `a` with volume `x.production.d` and system `a.production.x` with volume `d`
    map to one volume name; the second is refused, never given the first one's data."""
    a, dotted = system_name, f"{system_name}.production.x"
    engine = Engine(docker_client, tmp_path)
    name = engine.ensure_volume(a, "production", "x.production.d")
    assert engine.ensure_volume(a, "production", "x.production.d") == name  # ours: reused
    try:
        with pytest.raises(GitdeployError) as err:
            engine.ensure_volume(dotted, "production", "d")
        assert name in err.value.message and f"gitdeploy system '{a}' (production)" in err.value.message
        assert [v.name for v in docker_client.volumes.list(filters={"label": f"{labels.SYSTEM}={dotted}"})] == []
    finally:
        docker_client.volumes.get(name).remove()


def test_an_unlabeled_volume_of_our_name_is_refused(docker_client, system_name, tmp_path):
    vol = docker_client.volumes.create(f"{system_name}.production.data")
    try:
        with pytest.raises(GitdeployError) as err:
            Engine(docker_client, tmp_path).ensure_volume(system_name, "production", "data")
        assert f"volume {vol.name}" in err.value.message and "not to" in err.value.message
    finally:
        vol.remove()


def test_duplicate_networks_merge_into_the_oldest_keeping_containers_and_aliases(
        docker_client, system_name, tmp_path, base_image):
    """Two creators raced (two data dirs): both networks carry our labels and one name."""
    name = network_name(system_name, "production")
    lab = managed_labels(system_name, "production")
    first = docker_client.networks.create(name, labels=lab, check_duplicate=False)
    second = docker_client.networks.create(name, labels=lab, check_duplicate=False)
    box = docker_client.containers.create(base_image, ["sleep", "60"], name=f"{system_name}-box",
                                          labels={labels.SYSTEM: system_name})
    second.connect(box, aliases=["app"])  # a container of the race: it cannot start while the name is ambiguous
    assert len(Engine(docker_client, tmp_path).system_networks(system_name, "production")) == 2

    assert Engine(docker_client, tmp_path).ensure_network(system_name, "production") == name
    left = [n for n in docker_client.networks.list(names=[name]) if n.name == name]
    assert [n.id for n in left] == [first.id]
    box.start()  # the name is unambiguous again
    nets = docker_client.api.inspect_container(box.id)["NetworkSettings"]["Networks"]
    assert nets[name]["NetworkID"] == first.id and "app" in nets[name]["Aliases"]
    # and the name is usable again: a container joins it by name
    box2 = docker_client.containers.run(base_image, ["nslookup", "app"], network=name, remove=True,
                                        labels={labels.SYSTEM: system_name})
    assert b"Address" in box2


@pytest.mark.parametrize("env", ["prod.x", "a/b", "../etc", "", "-x", "x" * 64, "é"])
def test_bad_environment_names_exit_2(tmp_path, env):
    out = CliRunner().invoke(cli, ["--repo", str(tmp_path), "--data-dir", str(tmp_path), "--env", env, "status"])
    assert out.exit_code == 2 and "not valid" in out.output, out.output
    with pytest.raises(GitdeployError) as err:
        pipeline.Context(repo=tmp_path, env=env, data_dir=tmp_path)
    assert err.value.exit_code == 2


def test_good_environment_names_pass(tmp_path):
    for env in ("production", "staging-eu_2", "Prod", "x" * 63):
        assert pipeline.Context(repo=tmp_path, env=env, data_dir=tmp_path).env == env


def test_racing_creators_end_with_one_network(docker_client, system_name, tmp_path):
    """Two data dirs creating the system network at once (what the engine lock now prevents, and
    what an older gitdeploy left behind): both get the same, single network."""
    from concurrent.futures import ThreadPoolExecutor

    name = network_name(system_name, "production")
    for _ in range(4):
        engines = [Engine(docker_client, tmp_path / str(i)) for i in range(2)]
        with ThreadPoolExecutor(2) as pool:
            got = list(pool.map(lambda e: e.ensure_network(system_name, "production"), engines))
        assert got == [name, name]
        assert len([n for n in docker_client.networks.list(names=[name]) if n.name == name]) == 1
        for n in docker_client.networks.list(filters={"label": f"{labels.SYSTEM}={system_name}"}):
            n.remove()
