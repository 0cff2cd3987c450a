"""A hand-edited service is found field by field; an untouched one shows no drift."""

from __future__ import annotations

import copy

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live.swarm import compare, names, objects, services
from gitdeploy.live.swarm.servicespec import Amounts, Placement, Resources, SwarmOptions, service_spec
from gitdeploy.spec.model import Port
from tests.swarm.desired import desired
from tests.swarm.marks import SWARM
from tests.swarm.test_service import CONF, web

pytestmark = SWARM

RICH = SwarmOptions(endpoint_mode="dnsrr", placement=Placement(("node.role==manager",), ("node.labels.zone",), 2),
                    resources=Resources(Amounts(250_000_000, 32 << 20), Amounts(memory=8 << 20)))


def test_hand_edits_are_drift_and_nothing_else_is(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    env, fp = "prod", "a" * 64
    net = names.network_name(swarm_system, env)
    net_id = api.create_network(net, driver="overlay", labels={"io.gitdeploy.system": swarm_system})["Id"]
    service = web("sleep 600")
    service = type(service)(**{**service.__dict__, "ports": (Port(80, 18080),), "replicas": 1})
    d = desired(service, fingerprints={"token": fp}, secret_values=((fp, b"v"),))
    configs, secrets = objects.for_service(api, swarm_system, env, d, {"conf/app.conf": CONF})
    sent = service_spec(d, name=names.service_name(swarm_system, env, d.path), system=swarm_system, env=env,
                        commit="c" * 40, image=swarm_cluster.base_image, network=net, aliases=("web",),
                        configs=configs, secrets=secrets, options=RICH)
    sid = services.create(api, sent)
    ids = {net: net_id}
    assert compare.drift(sent, api.inspect_service(sid)["Spec"], ids) == []

    # what `docker service update --env-add MODE=debug --env-add EXTRA=1 --replicas 0` does
    info = api.inspect_service(sid)
    edited = copy.deepcopy(info["Spec"])
    edited["TaskTemplate"]["ContainerSpec"]["Env"] = [e for e in edited["TaskTemplate"]["ContainerSpec"]["Env"]
                                                      if not e.startswith("MODE=")] + ["MODE=debug", "EXTRA=1"]
    edited["Mode"]["Replicated"]["Replicas"] = 0
    services.replace(api, sid, edited, based_on=info["Spec"])
    assert compare.drift(sent, api.inspect_service(sid)["Spec"], ids) == [
        ("Mode.Replicated.Replicas", "1", "0"),
        ("TaskTemplate.ContainerSpec.Env.EXTRA", "(none)", "1"),
        ("TaskTemplate.ContainerSpec.Env.MODE", "test", "debug"),
    ]
    # a deploy planned against the spec before the hand edit does not overwrite it unseen
    with pytest.raises(GitdeployError, match="changed by someone else"):
        services.replace(api, sid, sent, based_on=info["Spec"])
