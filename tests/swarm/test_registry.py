"""Digests from the registry, and images pushed tagged by content (real registry, real engine)."""

from __future__ import annotations

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live.swarm import registry
from tests.swarm.marks import SWARM

pytestmark = SWARM


def test_pin_resolves_the_registrys_digest(swarm_cluster):
    api = swarm_cluster.manager.api
    name, pushed = registry.split_digest(swarm_cluster.base_image)  # as the harness pushed it
    assert registry.pin(api, name) == f"{name}@{pushed}"
    assert registry.pin(api, swarm_cluster.base_image) == swarm_cluster.base_image
    with pytest.raises(GitdeployError, match="not in its registry"):
        registry.pin(api, f"{swarm_cluster.registry}/no/such:1")


def test_publish_pushes_once_by_content_and_every_node_pulls_the_digest(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    reg = registry.Registry.parse(f"{swarm_cluster.registry}/{swarm_system}")
    image = swarm_cluster.base_image.split("@")[0]
    image_id = api.inspect_image(image)["Id"]
    tag = registry.content_tag(image_id)
    pinned = registry.publish(api, image, reg, "gd-shop/web", tag)
    assert pinned.startswith(f"{swarm_cluster.registry}/{swarm_system}/gd-shop/web:{tag}@sha256:")
    assert registry.digest(api, pinned.split("@")[0]) == pinned.split("@")[1]
    # published already: the registry's digest is used, nothing is pushed (even from another image)
    api.remove_image(pinned.split("@")[0])
    assert registry.publish(api, "no-such-local-image:1", reg, "gd-shop/web", tag) == pinned
    # a worker node gets exactly those bytes by digest
    worker = swarm_cluster.client(2).api
    worker.pull(pinned)
    assert worker.inspect_image(pinned)["Id"] == image_id


def test_registry_option_parsing():
    assert registry.Registry.parse("reg.example.com:5000/team/x") == registry.Registry("reg.example.com:5000", "team/x")
    assert registry.Registry.parse("localhost").repository("a/b") == "localhost/a/b"
    for bad in ("http://reg:5000", "reg:5000//x", "", "-reg"):
        with pytest.raises(GitdeployError):
            registry.Registry.parse(bad)
