"""Configs and secrets as Swarm objects named by content: created once, never edited, pruned."""

from __future__ import annotations

import hashlib

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live import labels
from gitdeploy.live.swarm import objects
from tests.swarm.marks import SWARM

pytestmark = SWARM


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_config_per_content(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    v1, v2 = b"level=info\n", b"level=debug\n"
    a = objects.ensure_config(api, swarm_system, "prod", "conf/app.conf", v1, sha(v1))
    assert a.name == f"{swarm_system}_prod_conf-app.conf_{sha(v1)[:8]}"
    assert objects.ensure_config(api, swarm_system, "prod", "conf/app.conf", v1, sha(v1)) == a  # no second object
    b = objects.ensure_config(api, swarm_system, "prod", "conf/app.conf", v2, sha(v2))
    assert b.id != a.id and b.name != a.name
    # the old one is untouched: a rollback finds it as it was
    info = api.inspect_config(a.id)
    assert info["Spec"]["Labels"][labels.SYSTEM] == swarm_system
    assert info["Spec"]["Labels"][objects.CONTENT] == sha(v1)


def test_a_secret_is_named_by_its_keyed_fingerprint_and_its_value_stays_out_of_labels(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    value, fingerprint = b"hunter2", "f" * 64
    s = objects.ensure_secret(api, swarm_system, "prod", "db-password", value, fingerprint)
    assert s.name == f"{swarm_system}_prod_db-password_ffffffff"
    assert sha(value)[:8] not in s.name
    spec = api.inspect_secret(s.id)["Spec"]
    assert "hunter2" not in str(spec) and "Data" not in spec  # Swarm never gives a secret back
    assert objects.ensure_secret(api, swarm_system, "prod", "db-password", value, fingerprint) == s


def test_a_name_held_by_another_owner_is_refused(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    data = b"x"
    name = f"{swarm_system}_prod_other_{sha(data)[:8]}"
    api.create_config(name, b"not ours", labels={labels.SYSTEM: swarm_system + "-other"})
    try:
        with pytest.raises(GitdeployError, match="taken by system"):
            objects.ensure_config(api, swarm_system, "prod", "other", data, sha(data))
    finally:
        api.remove_config(name)


def test_prune_keeps_what_is_named_and_what_a_service_uses(swarm_cluster, swarm_system):
    api = swarm_cluster.manager.api
    made = {d: objects.ensure_config(api, swarm_system, "prod", "c", d, sha(d)) for d in (b"1", b"2", b"3")}
    used = made[b"3"]
    api.create_service(
        {"ContainerSpec": {"Image": swarm_cluster.base_image, "Command": ["sleep", "600"],
                           "Configs": [{"File": {"Name": "/c", "UID": "0", "GID": "0", "Mode": 0o444},
                                        "ConfigID": used.id, "ConfigName": used.name}]}},
        name=f"{swarm_system}_user", labels={labels.SYSTEM: swarm_system},
    )
    other_env = objects.ensure_config(api, swarm_system, "staging", "c", b"1", sha(b"1"))
    removed = objects.prune(api, swarm_system, "prod", keep={made[b"1"].name})
    assert removed == [made[b"2"].name]
    left = {c["Spec"]["Name"] for c in api.configs(filters={"label": f"{labels.SYSTEM}={swarm_system}"})}
    assert left == {made[b"1"].name, used.name, other_env.name}
