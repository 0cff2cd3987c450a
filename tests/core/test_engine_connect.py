"""Connecting to the engine: the API version comes from the ping (one request), not from /version.

The real engine is reached through tests/engineproxy.py, which writes down the request lines it
passes on, so the test sees what `connect` asked the engine.
"""

from __future__ import annotations

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live.engine import connect

pytestmark = pytest.mark.docker


def test_connect_reads_the_api_version_from_the_ping(relay, docker_client):
    client = connect(f"unix://{relay.path}")
    try:
        assert client.api.api_version == docker_client.version()["ApiVersion"]  # what "auto" chose before
        assert client.containers.list(limit=1) is not None  # the client speaks that version
    finally:
        client.close()
    paths = [line.split()[1] for line in relay.requests]
    assert paths[0] == "/_ping" and not any(p.endswith("/version") for p in paths), relay.requests


def test_an_unreachable_engine_is_reported_in_the_sdks_words(tmp_path):
    with pytest.raises(GitdeployError) as caught:
        connect(f"unix://{tmp_path / 'nothing.sock'}")
    assert "cannot reach the Docker Engine at unix://" in caught.value.message
    assert "Error while fetching server API version" in caught.value.message  # as before the ping came first
