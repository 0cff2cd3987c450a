"""Neighbouring systems: several spec repositories on one engine, each cleaned up by label."""

from __future__ import annotations

import pytest

from tests.conftest import _cleanup
from tests.specrepo import SpecRepo, svc


@pytest.fixture
def neighbours(tmp_path, docker_client, base_image):
    """`make(system, volumes=...)` -> a committed SpecRepo of its own deploying `system`."""
    made: list[str] = []

    def make(system: str, **service) -> SpecRepo:
        made.append(system)
        root = tmp_path / system
        root.mkdir()
        repo = SpecRepo.create(root, docker_client)
        repo.commit({"gitdeploy.yaml": {"system": system, "services": {"app": svc(**service)}}})
        return repo

    yield make
    for system in made:
        _cleanup(docker_client, system)
