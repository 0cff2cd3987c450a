"""The container-config builder without an engine: the engine's units and shapes, and the hash
covering everything it sends."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from gitdeploy.live import labels
from gitdeploy.live.container_config import (
    REPLICA_ENV,
    config_for,
    healthcheck,
    host_file,
    restart_policy,
    stop_timeout,
)
from gitdeploy.spec.identity import Desired, definition_of, hash_definition
from gitdeploy.spec.model import (
    ConfigFile,
    Dependency,
    HealthCheck,
    Port,
    Rollout,
    SecretRef,
    Service,
    Volume,
)

IMG = "sha256:" + "a" * 64
DATA = "/var/lib/gitdeploy"


def desired(s: Service, image_id: str = IMG) -> Desired:
    fingerprints = {x.name: f"fp-{x.name}" for x in s.secrets}
    definition = definition_of(s, image_id, fingerprints)
    return Desired(s, image_id, definition, hash_definition(definition))


def body(s: Service, replica: int = 1, **kw) -> dict:
    return config_for(desired(s), "shop", "production", replica, commit="c0ffee", aliases=("web",),
                      data_dir=DATA, **kw)


def test_restart_policies():
    assert restart_policy("no") == {} and restart_policy("") == {}
    assert restart_policy("always") == {"Name": "always"}
    assert restart_policy("unless-stopped") == {"Name": "unless-stopped"}
    assert restart_policy("on-failure") == {"Name": "on-failure", "MaximumRetryCount": 0}
    assert restart_policy("on-failure:5") == {"Name": "on-failure", "MaximumRetryCount": 5}


def test_health_check_durations_are_nanoseconds_and_stop_timeout_whole_seconds():
    d = desired(Service("web", image="x", healthcheck=HealthCheck(("CMD", "true"), 1.5, 0.001, 2, 30)))
    assert healthcheck(d.definition["healthcheck"]) == {
        "Test": ["CMD", "true"], "Interval": 1_500_000_000, "Timeout": 1_000_000, "Retries": 2,
        "StartPeriod": 30_000_000_000}
    assert healthcheck(None) is None
    assert (stop_timeout(0), stop_timeout(0.2), stop_timeout(10.6)) == (1, 1, 11)


def test_a_replica_body():
    s = Service("shop/web", image="x", command=("serve",), environment=(("A", "1"), (REPLICA_ENV, "mine")),
                ports=(Port(80, 8080, "127.0.0.1"), Port(9000)), volumes=(Volume("data", "/data", True),),
                configs=(ConfigFile("app.conf", "/etc/app.conf", "d" * 64),), secrets=(SecretRef("key", "/run/key"),),
                labels=(("team", "a"),), depends_on=(Dependency("db"),), init=True, restart="on-failure:2")
    b = body(s, replica=3)
    assert b["Image"] == IMG and b["Cmd"] == ["serve"] and "Entrypoint" not in b and "User" not in b
    assert b["Env"] == ["A=1", f"{REPLICA_ENV}=3"]  # the replica's own index, whatever the spec says
    assert b["Labels"]["team"] == "a" and b["Labels"][labels.REPLICA] == "3"
    assert b["Labels"][labels.DEPENDS] == "db" and b["Labels"][labels.COMMIT] == "c0ffee"
    assert b["ExposedPorts"] == {"80/tcp": {}, "9000/tcp": {}}
    host = b["HostConfig"]
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2} and host["Init"] is True
    assert host["Mounts"] == [
        {"Target": "/etc/app.conf", "Source": host_file(DATA, "d" * 64), "Type": "bind", "ReadOnly": True},
        {"Target": "/run/key", "Source": f"{DATA}/secrets/fp-key", "Type": "bind", "ReadOnly": True},
        {"Target": "/data", "Source": "shop.production.data", "Type": "volume", "ReadOnly": True},
    ]
    assert b["NetworkingConfig"] == {"EndpointsConfig": {"shop.production": {"Aliases": ["web"]}}}
    held_back = body(s, replica=3, publish=False)
    assert held_back["NetworkingConfig"] == {"EndpointsConfig": {"shop.production": {}}}


# -- the hash covers the body ---------------------------------------------------------------

FIELDS = {
    "image": st.sampled_from(["a:1", "b:1"]),
    "command": st.sampled_from([None, (), ("x",), ("x", "y")]),
    "entrypoint": st.sampled_from([None, (), ("sh",)]),
    "environment": st.sampled_from([(), (("A", "1"),), (("A", "2"),), (("A", "1"), ("B", ""))]),
    "ports": st.sampled_from([(), (Port(80),), (Port(80, 8080),), (Port(80, 8080, "127.0.0.1"),),
                              (Port(80, 8080, protocol="udp"),)]),
    "volumes": st.sampled_from([(), (Volume("d", "/d"),), (Volume("d", "/d", True),), (Volume("e", "/d"),)]),
    "configs": st.sampled_from([(), (ConfigFile("c", "/c", "1" * 64),), (ConfigFile("c", "/c", "2" * 64),),
                                (ConfigFile("c", "/e", "1" * 64),)]),
    "secrets": st.sampled_from([(), (SecretRef("s", "/s"),), (SecretRef("t", "/s"),), (SecretRef("s", "/t"),)]),
    "healthcheck": st.sampled_from([None, HealthCheck(("NONE",)), HealthCheck(("CMD", "true")),
                                    HealthCheck(("CMD", "true"), interval=1), HealthCheck(("CMD", "true"), retries=0),
                                    HealthCheck(("CMD", "true"), start_period=2), HealthCheck(("CMD", "true"), timeout=9)]),
    "labels": st.sampled_from([(), (("k", "v"),), (("k", "w"),)]),
    "restart": st.sampled_from(["no", "always", "unless-stopped", "on-failure", "on-failure:3"]),
    "init": st.sampled_from([None, True, False]),
    "user": st.sampled_from([None, "", "0", "app"]),
    "working_dir": st.sampled_from([None, "/", "/w"]),
    "stop_grace_period": st.sampled_from([0.0, 1.0, 10.0]),
    # not part of a container's identity: changing them never replaces a container
    "replicas": st.integers(0, 3),
    "rollout": st.sampled_from([Rollout(), Rollout(order="stop-first", parallelism=2)]),
    "drift_ignore": st.sampled_from([(), ("/tmp",)]),
}


@st.composite
def service(draw) -> Service:
    return Service("web", **{k: draw(v) for k, v in FIELDS.items()})


@settings(max_examples=400)
@given(service(), st.sampled_from(sorted(FIELDS)), st.data())
def test_the_same_hash_means_the_same_body(s, field, data):
    """Anything the builder sends is covered by the definition hash: change one setting and either
    the hash changes or the engine is sent exactly the same (so no change can go unnoticed)."""
    other = dataclasses.replace(s, **{field: data.draw(FIELDS[field])})
    if desired(s).hash == desired(other).hash:
        assert body(s) == body(other)


@settings(max_examples=50)
@given(service(), st.data())
def test_depends_on_reaches_only_gitdeploys_own_label(s, data):
    other = dataclasses.replace(s, depends_on=data.draw(st.sampled_from([(), (Dependency("db"),)])))
    assert desired(s).hash == desired(other).hash
    a, b = body(s), body(other)
    a["Labels"].pop(labels.DEPENDS), b["Labels"].pop(labels.DEPENDS)
    assert a == b
