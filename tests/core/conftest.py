"""Fixtures of the core tests."""

from __future__ import annotations

import os

import pytest

from tests.engineproxy import ENGINE_SOCKET, EngineProxy


@pytest.fixture
def relay(tmp_path, docker_client):
    """A proxy in front of the local engine's socket that writes down the requests and can be cut."""
    if os.environ.get("DOCKER_HOST") or not os.path.exists(ENGINE_SOCKET):
        pytest.skip("the relay needs the engine on its local socket")
    r = EngineProxy(tmp_path / "engine.sock")
    yield r
    r.close()
