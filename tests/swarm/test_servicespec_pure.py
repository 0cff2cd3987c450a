"""The ServiceSpec builder and Swarm object names: pure, no cluster."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitdeploy.errors import GitdeployError
from gitdeploy.live import labels
from gitdeploy.live.swarm import names
from gitdeploy.live.swarm.servicespec import (
    Amounts,
    Mounted,
    Placement,
    Resources,
    SwarmOptions,
    service_spec,
)
from gitdeploy.spec.model import ConfigFile, HealthCheck, Port, Rollout, SecretRef, Service, Volume
from tests.swarm.desired import desired

PINNED = "10.99.0.1:5000/app:1@sha256:" + "a" * 64


def build(service: Service, **kw):
    d = desired(service)
    args = dict(name="shop_prod_web", system="shop", env="prod", commit="c0ffee", image=PINNED, network="shop_prod")
    args.update(kw)
    return d, service_spec(d, **args)


def test_labels_on_the_service_and_its_containers():
    d, spec = build(Service("front/web", image="app:1", labels=(("team", "a"),),
                            depends_on=()))
    assert spec["Labels"][labels.SYSTEM] == "shop"
    assert spec["Labels"][labels.ENV] == "prod"
    assert spec["Labels"][labels.SERVICE] == "front/web"
    assert spec["Labels"][labels.HASH] == d.hash
    assert spec["Labels"][labels.COMMIT] == "c0ffee"
    assert json.loads(spec["Labels"][labels.DEFINITION]) == d.definition
    container = spec["TaskTemplate"]["ContainerSpec"]
    # the first four and the service's own; never the commit (a commit alone replaces no task)
    assert container["Labels"] == {"team": "a", labels.SYSTEM: "shop", labels.ENV: "prod",
                                   labels.SERVICE: "front/web", labels.HASH: d.hash}
    assert container["Image"] == PINNED


def test_an_unpinned_image_is_refused():
    with pytest.raises(ValueError, match="pinned by digest"):
        build(Service("web", image="app:1"), image="10.99.0.1:5000/app:1")


def test_command_is_args_and_entrypoint_is_command():
    _, spec = build(Service("web", image="a", command=("httpd", "-f"), entrypoint=("/bin/sh", "-c")))
    c = spec["TaskTemplate"]["ContainerSpec"]
    assert c["Args"] == ["httpd", "-f"] and c["Command"] == ["/bin/sh", "-c"]
    _, spec = build(Service("web", image="a"))
    assert "Args" not in spec["TaskTemplate"]["ContainerSpec"] and "Command" not in spec["TaskTemplate"]["ContainerSpec"]


def test_environment_in_order_plus_the_task_slot():
    _, spec = build(Service("web", image="a", environment=(("B", "2"), ("A", "1"))))
    assert spec["TaskTemplate"]["ContainerSpec"]["Env"] == ["B=2", "A=1", "GITDEPLOY_REPLICA={{.Task.Slot}}"]


def test_healthcheck_and_durations_in_nanoseconds():
    hc = HealthCheck(("CMD-SHELL", "wget -q -O- http://127.0.0.1/"), interval=2, timeout=1.5, retries=4, start_period=3)
    _, spec = build(Service("web", image="a", healthcheck=hc, stop_grace_period=7))
    c = spec["TaskTemplate"]["ContainerSpec"]
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q -O- http://127.0.0.1/"], "Interval": 2_000_000_000,
                                "Timeout": 1_500_000_000, "Retries": 4, "StartPeriod": 3_000_000_000}
    assert c["StopGracePeriod"] == 7_000_000_000
    _, spec = build(Service("web", image="a", healthcheck=HealthCheck(("NONE",))))
    assert spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"] == {"Test": ["NONE"]}


@pytest.mark.parametrize("restart, policy", [
    ("no", {"Condition": "none"}),
    ("always", {"Condition": "any"}),
    ("unless-stopped", {"Condition": "any"}),
    ("on-failure", {"Condition": "on-failure", "MaxAttempts": 0}),
    ("on-failure:3", {"Condition": "on-failure", "MaxAttempts": 3}),
])
def test_restart_policy(restart, policy):
    _, spec = build(Service("web", image="a", restart=restart))
    assert spec["TaskTemplate"]["RestartPolicy"] == policy


def test_rollout_becomes_update_config_that_pauses_on_failure():
    _, spec = build(Service("web", image="a", rollout=Rollout(order="stop-first", parallelism=3, monitor=4)))
    assert spec["UpdateConfig"] == {"Parallelism": 3, "Delay": 0, "FailureAction": "pause",
                                    "Monitor": 4_000_000_000, "MaxFailureRatio": 0, "Order": "stop-first"}
    assert spec["RollbackConfig"] == spec["UpdateConfig"]  # stop-first: the same batches back
    _, spec = build(Service("web", image="a", replicas=4, rollout=Rollout(parallelism=1)))
    assert spec["UpdateConfig"]["Order"] == "start-first" and spec["UpdateConfig"]["Parallelism"] == 1
    # back to the verified spec, start-first: every task at once (the old ones serve meanwhile)
    assert spec["RollbackConfig"] == {**spec["UpdateConfig"], "Parallelism": 0}


def test_replicas_mode_placement_resources_endpoint():
    _, spec = build(Service("web", image="a", replicas=3))
    assert spec["Mode"] == {"Replicated": {"Replicas": 3}}
    assert "Placement" not in spec["TaskTemplate"] and "Resources" not in spec["TaskTemplate"]
    assert spec["EndpointSpec"] == {"Mode": "vip", "Ports": []}
    opts = SwarmOptions(
        mode="global", endpoint_mode="dnsrr",
        placement=Placement(("node.role == worker",), ("node.labels.zone",), 2),
        resources=Resources(Amounts(500_000_000, 64 << 20), Amounts(memory=16 << 20)),
    )
    _, spec = build(Service("web", image="a", replicas=3, ports=(Port(80, 8080), Port(9000))), options=opts)
    assert spec["Mode"] == {"Global": {}}
    assert spec["TaskTemplate"]["Placement"] == {
        "Constraints": ["node.role == worker"],
        "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}],
        "MaxReplicas": 2,
    }
    assert spec["TaskTemplate"]["Resources"] == {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 << 20},
                                                 "Reservations": {"MemoryBytes": 16 << 20}}
    # dnsrr has no virtual IP for the routing mesh: published on the task's node; unpublished ports stay out
    assert spec["EndpointSpec"] == {"Mode": "dnsrr", "Ports": [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]}
    _, spec = build(Service("web", image="a", ports=(Port(80, 8080),)))
    assert spec["EndpointSpec"]["Ports"][0]["PublishMode"] == "ingress"


def test_a_port_bound_to_one_address_is_refused_by_name():
    with pytest.raises(GitdeployError, match="127.0.0.1") as err:
        build(Service("web", image="a", ports=(Port(80, 8080, "127.0.0.1"),)))
    assert err.value.exit_code == 2


def test_configs_secrets_volumes_and_network():
    s = Service("web", image="a", configs=(ConfigFile("conf/app.conf", "/etc/app.conf", "d" * 64, 0o440),),
                secrets=(SecretRef("db", "/run/secrets/db"),), volumes=(Volume("data", "/data", True),))
    _, spec = build(s, configs={"conf/app.conf": Mounted("cid", "cname")}, secrets={"db": Mounted("sid", "sname")},
                    aliases=("web", "front-web"))
    c = spec["TaskTemplate"]["ContainerSpec"]
    assert c["Configs"] == [{"File": {"Name": "/etc/app.conf", "UID": "0", "GID": "0", "Mode": 0o440},
                             "ConfigID": "cid", "ConfigName": "cname"}]
    assert c["Secrets"] == [{"File": {"Name": "/run/secrets/db", "UID": "0", "GID": "0", "Mode": 0o400},
                             "SecretID": "sid", "SecretName": "sname"}]
    assert c["Mounts"][0]["Source"] == "shop.prod.data" and c["Mounts"][0]["ReadOnly"] is True
    assert spec["TaskTemplate"]["Networks"] == [{"Target": "shop_prod", "Aliases": ["web", "front-web"]}]
    assert "Configs" not in build(Service("web", image="a"))[1]["TaskTemplate"]["ContainerSpec"]


def test_the_commit_alone_changes_no_task():
    _, a = build(Service("web", image="a"), commit="1111")
    _, b = build(Service("web", image="a"), commit="2222")
    assert a["TaskTemplate"] == b["TaskTemplate"] and a["Labels"] != b["Labels"]


# -- names ------------------------------------------------------------------------------------

def word(first: str, rest: str, most: int) -> st.SearchStrategy[str]:
    return st.builds(lambda a, b: a + b, st.sampled_from(first), st.text(alphabet=rest, max_size=most))


LOWER, ANY = "abcxyz019", "abcXYZ019"
part = word(LOWER, LOWER + "_-", 62)
path = st.lists(word(ANY, ANY + "_-", 62), min_size=1, max_size=3).map("/".join)


@settings(max_examples=60, deadline=None)
@given(part, part, path)
def test_service_and_network_names_are_valid_for_swarm(system, env, p):
    for name in (names.service_name(system, env, p), names.network_name(system, env)):
        assert len(name) <= 63 and names.DNS_COMPONENT.fullmatch(name), name


@settings(max_examples=60, deadline=None)
@given(part, part, word(ANY, ANY + "_./-", 200))
def test_object_names_are_valid_and_end_in_the_content_hash(system, env, name):
    n = names.object_name(system, env, name, "0123456789abcdef")
    assert len(n) <= 64 and names.OBJECT_NAME.fullmatch(n), n
    assert n.endswith("_01234567")


def test_names_read_as_the_issue_writes_them_and_long_ones_stay_unique():
    assert names.service_name("shop", "prod", "front/web") == "shop_prod_front-web"
    assert names.object_name("shop", "prod", "conf/app.conf", "deadbeef00") == "shop_prod_conf-app.conf_deadbeef"
    long_a, long_b = "a" * 60 + "/x", "a" * 60 + "/y"
    assert names.service_name("s", "e", long_a) != names.service_name("s", "e", long_b)


def test_a_capped_placement_rolls_out_stop_first_unless_told():
    """With max_replicas_per_node, a start-first task may find no node with room (every node at its
    cap): the update would hang. Unless the spec sets the order, it is stop-first."""
    from gitdeploy.spec.model import Placement as P
    from gitdeploy.spec.model import Rollout, Service

    capped = Service("web", image="x", replicas=2, placement=P(max_replicas_per_node=1))
    assert capped.effective_order == "stop-first"
    told = Service("web", image="x", replicas=2, placement=P(max_replicas_per_node=1),
                   rollout=Rollout(order="start-first"))
    assert told.effective_order == "start-first"
    assert Service("web", image="x", replicas=2, placement=P(constraints=("node.role==worker",))
                   ).effective_order == "start-first"


def test_swarm_parallelism_never_takes_every_replica_down_at_once_by_default():
    from gitdeploy.live.swarm.servicespec import parallelism
    from gitdeploy.spec.model import Placement as P

    assert parallelism(Service("w", image="x", replicas=8)) == 0  # start-first: all at once, old ones serve
    capped = Service("w", image="x", replicas=8, placement=P(max_replicas_per_node=4))  # stop-first
    assert parallelism(capped) == 4
    assert parallelism(Service("w", image="x", replicas=3, rollout=Rollout(order="stop-first"))) == 2
    assert parallelism(Service("w", image="x", replicas=1, rollout=Rollout(order="stop-first"))) == 0
    assert parallelism(Service("w", image="x", replicas=8, rollout=Rollout(parallelism=2, order="stop-first"))) == 2
