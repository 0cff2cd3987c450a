"""Shared fixtures. Everything that touches containers uses the real Docker Engine."""

from __future__ import annotations

import time
import uuid

import docker
import pytest

from gitdeploy.live import labels
from gitdeploy.live.baseimage import ensure_base_image


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - the message says what to do
        pytest.fail(f"no Docker Engine answers ({exc}); run `bash scripts/setup.sh deps` first")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    """The offline busybox base image (imported once per engine)."""
    ensure_base_image(docker_client)
    return "gitdeploy/busybox:1"


def _cleanup(client: docker.DockerClient, system: str) -> None:
    flt = {"label": f"{labels.SYSTEM}={system}"}
    for c in client.containers.list(all=True, filters=flt):
        try:
            c.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    for c in client.api.containers(all=True, filters={"label": f"{labels.PREFIX}lock.system={system}"}):
        try:
            client.api.remove_container(c["Id"], force=True)
        except docker.errors.APIError:
            pass  # gone, or being removed by gitdeploy's own sweep of released engine locks
    for n in client.networks.list(filters=flt):
        for _ in range(30):  # endpoints of force-removed containers are released asynchronously
            try:
                n.remove()
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:
                time.sleep(0.1)
    for v in client.volumes.list(filters=flt):
        try:
            v.remove(force=True)
        except docker.errors.APIError:
            pass


@pytest.fixture
def system_name(docker_client):
    """A unique system name for one test; everything labeled with it is removed afterwards."""
    name = f"t{uuid.uuid4().hex[:8]}"
    yield name
    _cleanup(docker_client, name)


@pytest.fixture
def spec_repo(tmp_path, docker_client, base_image):
    """A fresh spec repository (see tests/specrepo.py) wired to the real engine."""
    from tests.specrepo import SpecRepo

    return SpecRepo.create(tmp_path, docker_client)
