"""The light Engine API client (gitdeploy.live.api) against the real engine: the engine's errors
as gitdeploy's (with its words), 304s that are no error, a stream read and closed from another
thread, many threads at once on kept-alive connections, a lost engine as `Unreachable`, and the
SDK's errors translated into the same family when a call goes to the SDK."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gitdeploy.live import apierr, labels
from gitdeploy.live.api import adopt, client_for

pytestmark = pytest.mark.docker


@pytest.fixture
def api(docker_client):
    client = client_for(None, 60)
    yield client.api
    client.close()


def container(api, base_image: str, system: str, command: list[str], name: str | None = None) -> str:
    return api.create_container(base_image, command=command, name=name,
                                labels={labels.SYSTEM: system, labels.ENV: "test"})["Id"]


def test_a_missing_object_is_not_found_in_the_engines_words(api, system_name):
    with pytest.raises(apierr.NotFound) as caught:
        api.inspect_container(f"{system_name}-nothing")
    assert caught.value.status_code == 404 and not isinstance(caught.value, apierr.ImageNotFound)
    assert f"No such container: {system_name}-nothing" in caught.value.explanation
    with pytest.raises(apierr.ImageNotFound):
        api.inspect_image(f"{system_name}-nothing:1")
    with pytest.raises(apierr.ImageNotFound):  # the engine lock creates its image on this one
        api.create_container(f"{system_name}-nothing:1", command=["true"], name=f"{system_name}-x")
    with pytest.raises(apierr.NotFound):
        api.remove_network(f"{system_name}-nothing")


def test_a_taken_name_is_a_conflict_and_304s_are_no_errors(api, base_image, system_name):
    name = f"{system_name}-one"
    cid = container(api, base_image, system_name, ["sleep", "30"], name=name)
    with pytest.raises(apierr.APIError) as caught:
        container(api, base_image, system_name, ["sleep", "30"], name=name)
    assert caught.value.status_code == 409 and name in caught.value.explanation
    api.start(cid)
    api.start(cid)  # 304: started already
    assert api.inspect_container(name)["State"]["Running"] is True
    api.stop(cid, timeout=0)
    api.stop(cid, timeout=0)  # 304: stopped already
    assert api.inspect_container(cid)["State"]["Running"] is False
    api.rename(cid, f"{name}-renamed")
    assert [c["Id"] for c in api.containers(all=True, filters={"name": f"{name}-renamed"})] == [cid]
    api.remove_container(cid, force=True)
    with pytest.raises(apierr.NotFound):
        api.remove_container(cid, force=True)


def test_logs_archives_and_labels_filters(api, base_image, system_name):
    cid = container(api, base_image, system_name, ["sh", "-c", "echo out; echo err >&2"])
    api.start(cid)
    deadline = time.monotonic() + 20
    while api.inspect_container(cid)["State"]["Running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(api.logs(cid).split()) == [b"err", b"out"]  # the frames' payloads, no headers
    assert api.logs(cid, tail=1).strip() in (b"out", b"err")
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"world"))
    assert api.put_archive(cid, "/", buf.getvalue())
    stream, stat = api.get_archive(cid, "/hello")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        assert tar.extractfile("hello").read() == b"world"
    assert stat["name"] == "hello"
    mine = api.containers(all=True, filters={"label": [f"{labels.SYSTEM}={system_name}", f"{labels.ENV}=test"]})
    assert [c["Id"] for c in mine] == [cid]


def test_events_stream_as_they_come_and_a_close_from_another_thread_ends_the_read(api, base_image, system_name):
    stream = api.events(decode=True, filters={"type": "container", "label": f"{labels.SYSTEM}={system_name}"})
    cid = container(api, base_image, system_name, ["sleep", "30"])
    api.start(cid)
    seen = []
    for ev in stream:
        seen.append(ev.get("Action"))
        if ev.get("Action") == "start":
            break
    assert seen[:2] == ["create", "start"] and ev["id"] == cid
    threading.Timer(0.3, stream.close).start()  # as Cancel.fire does, while the loop below waits
    t0 = time.monotonic()
    assert list(stream) == []  # nothing more happens to it: the read ends when the stream is closed
    assert time.monotonic() - t0 < 10


def test_many_threads_share_a_few_kept_alive_connections(relay, docker_client, base_image, system_name):
    client = client_for(f"unix://{relay.path}", 60)
    try:
        cid = container(client.api, base_image, system_name, ["true"])
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda _: client.api.inspect_container(cid)["Id"], range(200)))
        assert got == [cid] * 200
        opened = len(relay.conns) // 2  # the relay keeps both ends of each connection
        assert opened <= 17, f"{opened} connections for 200 calls on 8 threads"
        # The engine (here: the relay) closes the kept-alive connections: the next calls open new ones.
        for s in list(relay.conns):
            s.shutdown(2)
        time.sleep(0.1)
        assert client.api.inspect_container(cid)["Id"] == cid
        assert len(client.api.containers(all=True, filters={"id": [cid]})) == 1
    finally:
        client.close()


def test_a_lost_engine_is_unreachable_not_a_socket_error(relay, tmp_path, docker_client):
    with pytest.raises(apierr.Unreachable):
        client_for(f"unix://{tmp_path / 'nothing.sock'}", 5)
    client = client_for(f"unix://{relay.path}", 5)
    try:
        assert client.ping()
        relay.cut()
        with pytest.raises(apierr.Unreachable):
            client.api.containers()
        with pytest.raises(apierr.Unreachable):
            client.api.events(decode=True)
    finally:
        client.close()


def test_an_sdk_client_and_calls_left_to_the_sdk_raise_the_same_errors(docker_client, system_name):
    light = adopt(docker_client)  # a client a test (or a caller) made with the SDK
    with pytest.raises(apierr.NotFound) as caught:
        light.api.inspect_container(f"{system_name}-nothing")
    assert f"No such container: {system_name}-nothing" in caught.value.explanation
    mine = client_for(None, 60)
    try:
        with pytest.raises(apierr.ImageNotFound):  # `history` is not the light client's: the SDK's, translated
            mine.api.history(f"{system_name}-nothing:1")
        with pytest.raises(apierr.NotFound):
            mine.images.get(f"{system_name}-nothing:1")  # a collection of the SDK's client, translated too
    finally:
        mine.close()


def test_which_engines_the_light_client_reaches_itself(monkeypatch):
    from gitdeploy.live.api import light_address

    for var in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(var, raising=False)
    assert light_address(None) == ("unix", "/var/run/docker.sock", 0)
    assert light_address("unix:///run/x.sock") == ("unix", "/run/x.sock", 0)
    assert light_address("tcp://10.0.0.1:2375") == ("tcp", "10.0.0.1", 2375)
    assert light_address("http://manager:2375") == ("tcp", "manager", 2375)
    assert light_address("10.0.0.1:2375") == ("tcp", "10.0.0.1", 2375)
    for sdk in ("ssh://me@host", "https://host:2376", "tcp://host", "npipe:////./pipe/docker_engine"):
        assert light_address(sdk) is None, sdk  # the SDK's: its transport, or its error for a bad address
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2376")
    assert light_address(None) == ("tcp", "10.0.0.1", 2376)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    assert light_address(None) is None  # TLS from the environment, as docker.from_env makes it
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "")
    assert light_address(None) == ("tcp", "10.0.0.1", 2376)  # empty: off, as the SDK reads it


def test_the_engines_http_dates_are_read_as_email_utils_reads_them():
    from email.utils import formatdate

    from gitdeploy.live.enginelock import http_date

    for t in (0, 1_700_000_000, 1_795_000_123):
        assert http_date(formatdate(t, usegmt=True)) == t
    assert http_date(None) is None and http_date("yesterday") is None
    assert http_date("Mon, 30 Nov 2026 02:40:11 +0100") is None  # not the engine's form: info() then says


@pytest.mark.parametrize("kw", [
    {}, {"aliases": ["a", "b"]}, {"aliases": ["a"], "ipv4_address": "10.0.0.2", "links": {"x": "y"}},
    {"link_local_ips": ["1.2.3.4"], "ipv6_address": "fd00::2", "driver_opt": {"a": "b"}, "mac_address": "02:42:ac:11:00:02"},
])
def test_endpoint_config_is_the_sdks(kw):
    """The body the light client sends to connect a container is the one the SDK would send."""
    import docker.types

    from gitdeploy.live.api import endpoint_config
    assert endpoint_config(**kw) == dict(docker.types.EndpointConfig("1.41", **kw))


def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone(relay, base_image, system_name):
    """A kept-alive connection is the parent's: a child using it too would mix their answers."""
    import os

    client = client_for(f"unix://{relay.path}", 60)
    try:
        cid = container(client.api, base_image, system_name, ["true"])
        before = len(relay.conns)
        pid = os.fork()
        if pid == 0:  # the child: one call, then out without any of the parent's clean-up
            try:
                ok = client.api.inspect_container(cid)["Id"] == cid
            except BaseException:  # noqa: BLE001
                ok = False
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert len(relay.conns) == before + 2, "the child opened a connection of its own"
        assert client.api.inspect_container(cid)["Id"] == cid  # the parent's, still good
        assert len(relay.conns) == before + 2
    finally:
        client.close()
