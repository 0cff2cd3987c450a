"""Images for the cluster: pinned by registry digest; local-only and built images pushed by content."""

from __future__ import annotations

import git
import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live.baseimage import BASE_IMAGE
from gitdeploy.live.swarm import registry
from gitdeploy.live.swarm.images import SwarmImages
from gitdeploy.spec.model import Build
from gitdeploy.spec.source import open_source
from tests.swarm.marks import SWARM

pytestmark = SWARM


def test_references_are_pinned_and_local_images_pushed_by_content(swarm_cluster, swarm_system):
    client = swarm_cluster.manager
    reg = registry.Registry.parse(f"{swarm_cluster.registry}/{swarm_system}")
    images = SwarmImages(client, reg)
    name, _ = registry.split_digest(swarm_cluster.base_image)
    assert images.image_id(name) == swarm_cluster.base_image  # in the registry: its digest
    # only the manager's engine has it (imported): pushed under the registry, tagged by content
    pinned = images.image_id(BASE_IMAGE)
    local_id = client.api.inspect_image(BASE_IMAGE)["Id"]
    assert pinned.startswith(f"{reg.repository('gitdeploy/busybox')}:1-{registry.content_tag(local_id)}@sha256:")
    assert SwarmImages(client, reg).image_id(BASE_IMAGE) == pinned  # found in the registry: same digest
    # without --registry, an image only this engine has cannot reach the nodes (a registry that
    # refuses at once stands for one out of reach: no wait on the internet in a test)
    client.api.tag(BASE_IMAGE, "127.0.0.1:1/gd/only-here", "1")
    with pytest.raises(GitdeployError, match="could not pull it") as err:
        SwarmImages(client, None).image_id("127.0.0.1:1/gd/only-here:1")
    assert "--registry" in err.value.hint


def test_a_build_is_pushed_by_content_and_needs_a_registry(swarm_cluster, swarm_system, tmp_path):
    repo = git.Repo.init(tmp_path / "spec")
    (tmp_path / "spec" / "app").mkdir()
    (tmp_path / "spec" / "app" / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nCOPY hello.txt /www/hello.txt\n")
    (tmp_path / "spec" / "app" / "hello.txt").write_text(f"hello {swarm_system}\n")
    repo.index.add(["app/Dockerfile", "app/hello.txt"])
    repo.index.commit("app", author=git.Actor("Dev", "dev@example.com"), committer=git.Actor("Dev", "dev@example.com"))
    source = open_source(tmp_path / "spec", "HEAD")
    client = swarm_cluster.manager
    with pytest.raises(GitdeployError, match="no registry is set") as err:
        SwarmImages(client, None).build(swarm_system, "front/web", source, Build("app"))
    assert err.value.exit_code == 2
    reg = registry.Registry.parse(swarm_cluster.registry)
    pinned = SwarmImages(client, reg).build(swarm_system, "front/web", source, Build("app"))
    assert pinned.startswith(f"{swarm_cluster.registry}/gd-{swarm_system}/front-web:") and "@sha256:" in pinned
    assert SwarmImages(client, reg).build(swarm_system, "front/web", source, Build("app")) == pinned
    # a worker runs exactly these bytes
    worker = swarm_cluster.client(2)
    worker.api.pull(pinned)
    out = worker.containers.run(pinned, ["cat", "/www/hello.txt"], remove=True)
    assert out.decode() == f"hello {swarm_system}\n"
