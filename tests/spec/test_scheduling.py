"""resources, placement, mode and endpoint_mode: parsed values, engine-aware refusals, identity.

The broken shapes are in corpus/scheduling.cases; here: what valid specs load into, which
engine refuses what (all of it, at once), and what joins a service's hash.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gitdeploy.cli import cli
from gitdeploy.errors import GitdeployError
from gitdeploy.spec.identity import definition_of, field_changes, hash_definition
from gitdeploy.spec.load import load_spec, validate_spec
from gitdeploy.spec.model import Amounts, HealthCheck, Placement, Port, Resources, Service
from gitdeploy.spec.scheduling import MIN_MEMORY, MIN_NANO_CPUS

from .helpers import commit_repo, problems, source, write_repo
from .test_properties import MemorySource

FULL = """\
system: s
services:
  web:
    image: x
    mode: replicated
    replicas: 4
    endpoint_mode: dnsrr
    placement:
      constraints:
        - node.labels.zone == a
        - "node.role!=manager"
        - '  engine.labels.os ==  linux 6.1 '
        - node.hostname == node-[12]
      preferences:
        - spread: node.labels.zone
        - spread: node.id
      max_replicas_per_node: 2
    resources:
      limits: {cpus: "0.5", memory: 256M}
      reservations: {cpus: 0.25, memory: 128m}
  agent:
    image: x
    mode: global
"""


def test_swarm_keys_load_into_values(tmp_path):
    spec = load_spec(source(tmp_path, FULL), engine="swarm")
    web = spec.service("web")
    assert web.mode == "replicated" and web.replicas == 4 and web.endpoint_mode == "dnsrr"
    assert web.placement == Placement(
        constraints=("node.labels.zone==a", "node.role!=manager", "engine.labels.os==linux 6.1",
                     "node.hostname==node-[12]"),
        preferences=("node.labels.zone", "node.id"),
        max_replicas_per_node=2,
    )
    assert web.resources == Resources(Amounts(500_000_000, 256 * 2**20), Amounts(250_000_000, 128 * 2**20))
    agent = spec.service("agent")
    assert agent.mode == "global" and agent.placement is None and agent.resources is None
    assert agent.endpoint_mode is None


def test_the_docker_engine_refuses_every_swarm_key_by_name_at_once(tmp_path):
    src = source(tmp_path, FULL)
    assert [str(p) for p in validate_spec(src)] == [
        "gitdeploy.yaml:7:5: endpoint_mode is honoured only by the swarm engine (--engine swarm), not by the docker "
        "engine (service 'web') (hint: validate and deploy with --engine swarm (or GITDEPLOY_ENGINE=swarm), or remove it)",
        "gitdeploy.yaml:8:5: placement is honoured only by the swarm engine (--engine swarm), not by the docker "
        "engine (service 'web') (hint: validate and deploy with --engine swarm (or GITDEPLOY_ENGINE=swarm), or remove it)",
        "gitdeploy.yaml:20:22: resources.reservations.cpus is honoured only by the swarm engine (--engine swarm): one "
        "Docker Engine has no CPU reservation (service 'web') "
        "(hint: use resources.limits.cpus, or validate and deploy with --engine swarm)",
        "gitdeploy.yaml:23:11: mode: global is honoured only by the swarm engine (--engine swarm), not by the docker "
        "engine (service 'agent') (hint: use replicas on the docker engine, or validate and deploy with --engine swarm)",
    ]
    assert validate_spec(src, engine="swarm") == []
    assert validate_spec(src, engine="docker") == validate_spec(src)  # docker is the default


def test_resources_and_replicated_mode_load_on_the_docker_engine(tmp_path):
    spec = load_spec(source(tmp_path, """\
        system: s
        services:
          web:
            image: x
            mode: replicated
            resources:
              limits: {cpus: 1.5, memory: 1G}
              reservations: {memory: 64M}
        """))
    assert spec.service("web").resources == Resources(Amounts(1_500_000_000, 1 << 30), Amounts(None, 64 << 20))
    assert spec.service("web").mode == "replicated"


@pytest.mark.parametrize(("written", "cpus", "nano"), [
    ("0.5", "0.5", 500_000_000), ("'0.50'", "0.5", 500_000_000), ("2", "2", 2_000_000_000),
    ("1.25", "1.25", 1_250_000_000), ("'.75'", "0.75", 750_000_000), ("0.01", "0.01", 10_000_000),
    ("'0.123456789'", "0.123456789", 123_456_789), ("4096", "4096", 4_096_000_000_000),
])
def test_cpus_are_exact(tmp_path, written, cpus, nano):
    spec = load_spec(source(tmp_path, f"system: s\nservices:\n  web:\n    image: x\n"
                                      f"    resources: {{limits: {{cpus: {written}}}}}\n"))
    limits = spec.service("web").resources.limits
    assert (limits.nano_cpus, limits.cpus) == (nano, cpus)


@pytest.mark.parametrize(("written", "size"), [
    ("256M", 256 << 20), ("256m", 256 << 20), ("256MB", 256 << 20), ("256MiB", 256 << 20), ("256 mb", 256 << 20),
    ("1G", 1 << 30), ("1.5g", 3 << 29), ("6144k", 6 << 20), ("6291456", 6 << 20), ("6291456b", 6 << 20),
    ("'6291456'", 6 << 20), ("1T", 1 << 40), ("7340032", 7 << 20),
])
def test_memory_sizes_are_binary_bytes(tmp_path, written, size):
    spec = load_spec(source(tmp_path, f"system: s\nservices:\n  web:\n    image: x\n"
                                      f"    resources: {{limits: {{memory: {written}}}}}\n"))
    assert spec.service("web").resources.limits.memory == size


def test_empty_resources_are_no_resources(tmp_path):
    spec = load_spec(source(tmp_path, "system: s\nservices:\n  web: {image: x, resources: {limits: {}}}\n"))
    assert spec.service("web").resources is None


def test_global_and_replicas_is_refused_on_both_engines(tmp_path):
    spec = "system: s\nservices:\n  web: {image: x, mode: global, replicas: 2}\n"
    src = source(tmp_path, spec)
    found = [str(p) for p in validate_spec(src, engine="swarm")]
    assert found == ["gitdeploy.yaml:3:33: service 'web' has `mode: global` and `replicas` "
                     "(hint: remove `replicas`: a global service runs one task on every node)"]
    assert found[0] in [str(p) for p in validate_spec(src, engine="docker")]


def test_groups_do_not_carry_scheduling_keys(tmp_path):
    found = problems(tmp_path, "system: s\ngroups:\n  g:\n    mode: global\n    services: {web: {image: x}}\n")
    assert found == ["gitdeploy.yaml:4:5: 'mode' is not supported by gitdeploy (group 'g') (hint: groups only carry: "
                     "services, groups, environment, labels, rollout, restart, init, drift_ignore)"]


def test_an_unknown_engine_is_a_user_error(tmp_path):
    with pytest.raises(GitdeployError) as info:
        validate_spec(source(tmp_path, FULL), engine="kubernetes")
    assert info.value.exit_code == 2 and "unknown engine 'kubernetes'" in info.value.message


# -- identity ------------------------------------------------------------------------------

SERVICE = Service(path="shop/web", image="nginx:1.27", command=("a", "b"), environment=(("A", "1"),),
                  ports=(Port(80, 8080),), healthcheck=HealthCheck(("CMD", "true")), labels=(("x", "y"),))
IMAGE = "sha256:" + "ab" * 32


def test_a_service_without_resources_keeps_its_hash():
    """The hash before resources existed (main at 84ecc74): no deployed container is replaced by an upgrade."""
    definition = definition_of(SERVICE, IMAGE, {})
    assert "resources" not in definition
    assert hash_definition(definition) == "8b74b5f90c2d99f032a32a0b4a7d04e865d8ae018b12254ac5268696b6ac8a6c"


def test_resources_are_part_of_a_containers_identity():
    from dataclasses import replace

    limited = replace(SERVICE, resources=Resources(Amounts(500_000_000, 256 << 20)))
    more = replace(SERVICE, resources=Resources(Amounts(500_000_000, 512 << 20), Amounts(None, 64 << 20)))
    a, b = definition_of(limited, IMAGE, {}), definition_of(more, IMAGE, {})
    assert a["resources"] == {"limits.cpus": "0.5", "limits.memory": 256 << 20}
    assert len({hash_definition(d) for d in (definition_of(SERVICE, IMAGE, {}), a, b)}) == 3
    assert field_changes(a, b) == [("resources.limits.memory", "268435456", "536870912"),
                                   ("resources.reservations.memory", "(none)", "67108864")]
    # placement, mode and endpoint_mode say where tasks run, not what a container is
    placed = replace(SERVICE, placement=Placement(("node.role==worker",)), mode="global", endpoint_mode="dnsrr")
    assert definition_of(placed, IMAGE, {}) == definition_of(SERVICE, IMAGE, {})


# -- the validate command ------------------------------------------------------------------

def test_validate_command_takes_the_engine_from_option_or_environment(tmp_path):
    root = tmp_path / "repo"
    write_repo(root, FULL)
    commit_repo(root)
    base = ["--repo", str(root), "--data-dir", str(tmp_path / "data"), "validate"]
    run = CliRunner().invoke
    refused = run(cli, base, env={"GITDEPLOY_ENGINE": None})
    assert refused.exit_code == 2
    assert "gitdeploy.yaml:8:5: placement is honoured only by the swarm engine (--engine swarm)" in refused.output
    ok = run(cli, [*base, "--engine", "swarm"], env={"GITDEPLOY_ENGINE": None})
    assert ok.exit_code == 0 and "valid for the swarm engine: system s, 2 service(s)" in ok.output
    from_env = run(cli, [*base, "--json"], env={"GITDEPLOY_ENGINE": "swarm"})
    assert from_env.exit_code == 0 and json.loads(from_env.output)["engine"] == "swarm"
    option_wins = run(cli, [*base, "--engine", "docker", "--json"], env={"GITDEPLOY_ENGINE": "swarm"})
    assert option_wins.exit_code == 2 and json.loads(option_wins.output)["engine"] == "docker"
    bad = run(cli, [*base, "--engine", "nomad"], env={"GITDEPLOY_ENGINE": None})
    assert bad.exit_code == 2 and "Traceback" not in bad.output


# -- properties: what is written is what runs, exactly ----------------------------------------

UNITS = {"": 1, "k": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@settings(max_examples=100, deadline=None)
@given(nano=st.integers(MIN_NANO_CPUS, 4_096 * 10**9), memory=st.integers(MIN_MEMORY >> 10, 1 << 32),
       unit=st.sampled_from(sorted(UNITS)), quoted=st.booleans())
def test_cpus_text_and_memory_units_load_exactly(nano, memory, unit, quoted):
    cpus = Amounts(nano).cpus
    size = memory * UNITS[unit]
    if size < MIN_MEMORY:
        size, unit, memory = MIN_MEMORY, "", MIN_MEMORY
    written_cpus = f"'{cpus}'" if quoted else cpus
    text = (f"system: s\nservices:\n  web:\n    image: x\n    resources:\n"
            f"      limits: {{cpus: {written_cpus}, memory: {memory}{unit}}}\n")
    spec = load_spec(MemorySource({"gitdeploy.yaml": text.encode()}))
    assert spec.service("web").resources.limits == Amounts(nano, size)


def test_compose_resource_keys_point_at_resources(tmp_path):
    found = problems(tmp_path, "system: s\nservices:\n  web: {image: x, mem_limit: 64m, cpus: 1, mem_reservation: 6m}\n")
    assert [p.split("(hint: ")[1] for p in found] == [
        "use resources: {limits: {memory: ...}})",
        "use resources: {limits: {cpus: ...}})",
        "use resources: {reservations: {memory: ...}})",
    ]


def test_the_swarm_engine_refuses_a_port_bound_to_one_address_with_its_position(tmp_path):
    src = source(tmp_path, "system: s\nservices:\n  web:\n    image: x\n    ports:\n      - 8080:80\n"
                           "      - 127.0.0.1:9090:90\n")
    assert [str(p) for p in validate_spec(src, engine="swarm")] == [
        "gitdeploy.yaml:7:9: port 127.0.0.1:9090:90/tcp is bound to 127.0.0.1, which the swarm engine cannot "
        "honour: a service publishes on every node's addresses (service 'web') "
        "(hint: drop the address (publish on all of them) or put a proxy in front)"]
    assert validate_spec(src) == []  # one Docker Engine binds one address


def test_the_swarm_engine_refuses_canary_and_drain_by_name(tmp_path):
    src = source(tmp_path, "system: s\nservices:\n  web:\n    image: x\n    rollout:\n      canary: 1\n"
                           "      drain: 2s\n      monitor: 1s\n")
    assert [str(p).split(" (hint")[0] for p in validate_spec(src, engine="swarm")] == [
        "gitdeploy.yaml:6:7: rollout.canary is honoured only by the docker engine, not by the swarm engine "
        "(service 'web'): Swarm's update config has no canary and no drain",
        "gitdeploy.yaml:7:7: rollout.drain is honoured only by the docker engine, not by the swarm engine "
        "(service 'web'): Swarm's update config has no canary and no drain"]
    assert validate_spec(src) == []
