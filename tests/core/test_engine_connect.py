"""Connecting to the engine: the API version comes from the ping (one request), not from /version.

The real engine is reached through a small unix-socket relay that writes down the request lines it
passes on, so the test sees what `connect` asked the engine.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live.engine import connect

pytestmark = pytest.mark.docker

ENGINE_SOCKET = "/var/run/docker.sock"


class Relay:
    """A unix socket at `path` relaying every connection to the engine's socket; `requests` lists
    the request lines ("GET /_ping") sent through it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[str] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(ENGINE_SOCKET)
            threading.Thread(target=self._pipe, args=(client, engine, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(engine, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, log: bool) -> None:
        try:
            while data := src.recv(65536):
                if log:
                    self.requests += re.findall(r"(?m)^(?:GET|POST|HEAD|DELETE|PUT) \S+", data.decode("latin-1"))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def relay(tmp_path, docker_client):
    if os.environ.get("DOCKER_HOST") or not os.path.exists(ENGINE_SOCKET):
        pytest.skip("the relay needs the engine on its local socket")
    r = Relay(tmp_path / "engine.sock")
    yield r
    r.close()


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
