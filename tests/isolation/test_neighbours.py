"""Systems whose names contain each other deploy, halt and go down side by side (issue 10)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gitdeploy import pipeline
from gitdeploy.cli import cli
from gitdeploy.live import labels
from gitdeploy.live.engine import network_name
from tests.specrepo import running

pytestmark = pytest.mark.docker


def down(repo, *extra: str) -> str:
    out = CliRunner().invoke(cli, ["--repo", str(repo.root), "--data-dir", str(repo.data_dir), "down", *extra])
    assert out.exit_code == 0, out.output
    return out.output


def networks(client, system: str) -> list[str]:
    return sorted(n.name for n in client.networks.list(filters={"label": f"{labels.SYSTEM}={system}"}))


def test_shop_next_to_webshop_deploys_halts_and_goes_down_alone(neighbours, system_name, docker_client):
    shop, webshop = system_name, f"web{system_name}"
    web = neighbours(webshop, volumes=["data:/data"])
    assert pipeline.deploy(web.ctx()).ok  # first: the engine's name filter "shop.production" matches it
    mine = neighbours(shop, volumes=["data:/data"])
    result = pipeline.deploy(mine.ctx())
    assert result.ok, result.failure
    assert networks(docker_client, shop) == [network_name(shop, "production")]
    assert len(running(docker_client, shop)) == len(running(docker_client, webshop)) == 1

    pipeline.halt(mine.ctx())
    assert running(docker_client, shop) == [] and len(running(docker_client, webshop)) == 1
    assert pipeline.deploy(mine.ctx()).ok  # a halted system comes back; the neighbour untouched

    down(mine, "--volumes")
    assert running(docker_client, shop) == [] and networks(docker_client, shop) == []
    assert [v.name for v in docker_client.volumes.list(filters={"label": f"{labels.SYSTEM}={shop}"})] == []
    assert len(running(docker_client, webshop)) == 1
    assert networks(docker_client, webshop) == [network_name(webshop, "production")]
    assert docker_client.volumes.get(f"{webshop}.production.data").attrs["Labels"][labels.SYSTEM] == webshop
    assert pipeline.deploy(web.ctx()).ok  # still deployable: nothing of it went missing


def test_down_of_advq_leaves_halted_advxadvq_alone(neighbours, system_name, docker_client):
    short, long_ = system_name, f"{system_name}x{system_name}"
    a, b = neighbours(short), neighbours(long_)
    assert pipeline.deploy(b.ctx()).ok
    pipeline.halt(b.ctx())
    down(a)  # nothing of `short` exists yet: "<short>.production" is only a substring of b's network
    assert networks(docker_client, long_) == [network_name(long_, "production")]
    assert pipeline.deploy(a.ctx()).ok
    down(a)
    assert networks(docker_client, long_) == [network_name(long_, "production")]
    assert networks(docker_client, short) == []
    result = pipeline.deploy(b.ctx())  # the halted neighbour restarts on its own network
    assert result.ok, result.failure
    assert len(running(docker_client, long_)) == 1
