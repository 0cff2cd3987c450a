"""The connection-aware drain against the real engine (Engine.settle): a drained container is let
go once no client connection is left, kept while one is, and - where its network namespace
cannot be read - kept for the whole drain time, which is said."""

from __future__ import annotations

import pytest

from gitdeploy.live import labels
from gitdeploy.live.engine import Engine

pytestmark = pytest.mark.docker


@pytest.fixture
def server(docker_client, base_image, system_name):
    net = docker_client.networks.create(f"{system_name}-drain", labels={labels.SYSTEM: system_name})
    c = docker_client.containers.run(
        base_image, ["sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"],
        detach=True, network=net.name, labels={labels.SYSTEM: system_name}, init=True)
    yield c, net
    c.remove(force=True)


def test_settle_lets_an_idle_container_go_and_keeps_a_busy_one(docker_client, base_image, server, tmp_path,
                                                              system_name):
    c, net = server
    engine = Engine(docker_client, tmp_path)
    assert engine.settle(c.id, 30).startswith("no connections left after")
    # a client on the same network holding a connection open (httpd waits for the rest of its request)
    c.reload()
    ip = c.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    client = docker_client.containers.run(
        base_image, ["sh", "-c", f"(printf 'GET / HTTP/1.1\\r\\n'; sleep 30) | nc {ip} 80"], detach=True,
        network=net.name, labels={labels.SYSTEM: system_name})
    try:
        for _ in range(100):  # until the client's connection is there
            if engine.settle(c.id, 0.3).startswith("1 connection(s) still open after 0.3s"):
                break
        else:
            pytest.fail("the client's connection was never seen")
    finally:
        client.remove(force=True)
    assert engine.settle(c.id, 30).startswith("no connections left after")


def test_settle_waits_the_full_drain_when_the_namespace_cannot_be_read(docker_client, server, tmp_path):
    c, _ = server
    engine = Engine(docker_client, tmp_path)
    engine.proc_root = tmp_path / "no-proc"
    said = engine.settle(c.id, 0.2)
    assert said.startswith("cannot read its network namespace") and said.endswith("waited the full drain of 0.2s")
    assert Engine(docker_client, tmp_path).settle(c.id, 0) == "no drain time"


@pytest.mark.parametrize(("command", "listens"), [
    (["sleep", "3600"], ["0B00007F:"]),  # 127.0.0.11: the engine's resolver
    (["httpd", "-f", "-p", "127.0.0.1:80", "-h", "/"], ["0B00007F:", "0100007F:0050 00000000:0000 0A"]),
], ids=["worker", "loopback-only"])
def test_settle_lets_a_container_that_listens_on_nothing_go_at_once(docker_client, base_image, system_name,
                                                                    tmp_path, command, listens):
    """No listener another container could reach (the engine's own DNS resolver inside it listens
    on 127.0.0.11 - loopback): no client can be on its way, so no quiet time is waited."""
    net = docker_client.networks.create(f"{system_name}-idle", labels={labels.SYSTEM: system_name})
    c = docker_client.containers.run(base_image, command, detach=True, network=net.name, init=True,
                                     labels={labels.SYSTEM: system_name})
    try:
        for _ in range(100):  # until what listens inside it (loopback only) does: the case to tell apart
            if all(x in c.exec_run(["cat", "/proc/net/tcp"]).output.decode() for x in listens):
                break
        else:
            pytest.fail(f"never listening inside the container: {listens}")
        assert Engine(docker_client, tmp_path).settle(c.id, 30) == "it listens on no port: nothing to drain"
    finally:
        c.remove(force=True)
        net.remove()
