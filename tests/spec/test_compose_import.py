"""Importing a docker-compose.yml: what maps is translated, everything else is a warning."""

from __future__ import annotations

import textwrap

import pytest

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.spec.compose_import import import_compose
from gitdeploy.spec.load import load_spec, validate_spec
from gitdeploy.spec.model import Amounts, ConfigFile, Dependency, Placement, Port, Resources, Rollout, Volume

from .helpers import load, source

COMPOSE = textwrap.dedent(
    """\
    # The shop, as Compose ran it
    version: "3.9"
    name: My Shop
    services:
      web:  # the front
        image: nginx:1.27
        container_name: web1
        ports: ["8080:80"]
        volumes:
          - ./nginx.conf:/etc/nginx/nginx.conf:ro
          - data:/data
          - /var/run/docker.sock:/var/run/docker.sock
        environment:
          - HOME
          - A=1
        deploy:
          replicas: 1
          update_config: {parallelism: 2, order: start-first, delay: 10s}
          restart_policy: {condition: on-failure, max_attempts: 3}
          resources: {limits: {cpus: "0.5"}}
        links: [db]
        depends_on:
          db: {condition: service_completed_successfully, restart: true}
      db:
        image: postgres:16
        scale: 1
        networks: [back]
        x-note: kept
    networks:
      back: {}
    volumes:
      data:
        driver: local
    secrets:
      pw: {file: ./pw.txt}
    """
)


def test_import_translates_and_warns():
    text, warnings = import_compose(COMPOSE)
    assert warnings == [
        "system name 'my-shop' made from the Compose name 'My Shop'",
        "top-level 'version' dropped: gitdeploy.yaml has no version",
        "top-level 'networks' dropped: every system gets its own network; services reach each other by name",
        "volume 'data': options ['driver'] dropped; gitdeploy creates plain local volumes",
        "secret 'pw': 'file' dropped; secret values never live in the repository, provide the value on the deploying host",
        "service 'web': deploy.replicas became `replicas`",
        "service 'web': deploy.update_config.delay dropped "
        "(gitdeploy starts the next batch once the last one passed its health gate)",
        "service 'web': deploy.update_config became `rollout`",
        "service 'web': deploy.restart_policy became `restart: on-failure:3`",
        "service 'web': deploy.resources became `resources`",
        "service 'web': 'container_name' dropped (remove it; gitdeploy names containers after the system and service path)",
        "service 'web': 'links' dropped (remove it; services reach each other by name on the system's network)",
        "service 'web': bind mount './nginx.conf' became a config mounted read-only at /etc/nginx/nginx.conf; "
        "the file must be committed to the repository (directories are not supported)",
        "service 'web': bind mount of the host path '/var/run/docker.sock' dropped; use a named volume or a config",
        "service 'web': environment 'HOME' has no value and was dropped "
        "(gitdeploy never copies the host's environment; write the value or use a secret)",
        "service 'web': depends_on.db condition service_completed_successfully became service_started",
        "service 'web': depends_on.db.restart dropped",
        "service 'db': `scale` became `replicas`",
        "service 'db': 'networks' dropped (remove it; every service joins the system's own network)",
    ]
    assert text.startswith("# The shop, as Compose ran it\nsystem: my-shop\nservices:\n  web:  # the front\n")
    assert 'ports: ["8080:80"]' in text


def test_imported_spec_loads(tmp_path):
    text, _ = import_compose(COMPOSE)
    spec = load(tmp_path, text, files={"nginx.conf": "events {}"})
    assert spec.system == "my-shop"
    web = spec.service("web")
    assert web.replicas == 1
    assert web.restart == "on-failure:3"
    assert web.rollout == Rollout(order="start-first", parallelism=2)
    assert web.ports == (Port(80, 8080),)
    assert web.volumes == (Volume("data", "/data"),)
    assert [(c.source, c.target) for c in web.configs] == [("nginx.conf", "/etc/nginx/nginx.conf")]
    assert isinstance(web.configs[0], ConfigFile)
    assert web.environment == (("A", "1"),)
    assert web.depends_on == (Dependency("db", "service_started"),)
    assert spec.service("db").replicas == 1


def test_system_argument_and_default():
    text, warnings = import_compose("services:\n  a: {image: x}\n", system="shop")
    assert text == "system: shop\nservices:\n  a: {image: x}\n"
    assert warnings == []
    text, warnings = import_compose("services:\n  a: {image: x}\n")
    assert text.startswith("system: app\n")
    assert warnings == ["no Compose `name`: the system is called 'app'; change `system:` if you like"]


def test_unknown_keys_and_interpolation_warn():
    text, warnings = import_compose(
        "services:\n  a:\n    image: ${IMG}\n    frobnicate: 1\n    environment: {B: $HOME}\n", system="s"
    )
    assert warnings == [
        "service 'a': 'frobnicate' dropped (not supported by gitdeploy)",
        "service 'a': image '${IMG}' uses variables, which gitdeploy does not interpolate",
        "service 'a': environment 'B' uses variables, which gitdeploy does not interpolate",
    ]
    assert "frobnicate" not in text


@pytest.mark.parametrize("text", ["- a\n", "a: [1\n"])
def test_not_a_compose_file(text):
    with pytest.raises(GitdeployError) as info:
        import_compose(text)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(("text", "fragment"), [
    ("services:\n  web: {image: x, command: " + "[" * 2000 + "]" * 2000 + "}\n", "nests deeper than 100 levels"),
    ("x-a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"x-{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(7))
     + "services: {web: {image: x}}\n", "more than 250,000 values"),
    ("services:\n  ? {a: 1}\n  : {image: x}\n", "a key must be a plain value"),
])
def test_hostile_compose_files_are_refused_with_a_position(text, fragment):
    with pytest.raises(GitdeployError) as info:
        import_compose(text)
    assert info.value.exit_code == EXIT_INVALID
    assert fragment in info.value.message and "line " in info.value.message


def test_system_names_from_compose_have_no_dots():
    text, _ = import_compose("name: My.Shop\nservices: {web: {image: x}}\n")
    assert text.startswith("system: my-shop\n")


STACK = textwrap.dedent(
    """\
    version: "3.8"
    services:
      api:
        image: shop/api:2
        deploy:
          mode: replicated
          replicas: 8
          endpoint_mode: dnsrr
          placement:
            constraints: [node.role == worker, node.labels.zone != c]
            preferences:
              - spread: node.labels.zone
            max_replicas_per_node: 4
            platforms: [{os: linux, architecture: amd64}]
          resources:
            limits: {cpus: "0.50", memory: 256M, pids: 100}
            reservations: {cpus: "0.25", memory: 128M, generic_resources: [{discrete_resource_spec: {kind: gpu, value: 1}}]}
          update_config:
            parallelism: 2
            delay: 10s
            order: start-first
            failure_action: rollback
            monitor: 30s
            max_failure_ratio: 0.1
          rollback_config: {parallelism: 1}
          labels: {team: shop}
          restart_policy: {condition: any}
          frobnicate: yes
      agent:
        image: shop/agent:1
        deploy:
          mode: global
          update_config: {parallelism: 0, failure_action: continue}
      job:
        image: shop/job:1
        replicas: 2
        deploy: {mode: replicated-job, replicas: 3}
    """
)


def test_stack_deploy_block_maps_onto_service_keys():
    text, warnings = import_compose(STACK, system="shop")
    assert warnings == [
        "top-level 'version' dropped: gitdeploy.yaml has no version",
        "service 'api': deploy.replicas became `replicas`",
        "service 'api': deploy.endpoint_mode became `endpoint_mode`, honoured only by the swarm engine "
        "(validate and deploy with --engine swarm)",
        "service 'api': deploy.placement.platforms dropped (the image decides the platform)",
        "service 'api': deploy.placement became `placement`, honoured only by the swarm engine "
        "(validate and deploy with --engine swarm)",
        "service 'api': deploy.resources.limits.pids dropped (not supported by gitdeploy)",
        "service 'api': deploy.resources.reservations.generic_resources dropped (not supported by gitdeploy)",
        "service 'api': deploy.resources became `resources`",
        "service 'api': resources.reservations.cpus is honoured only by the swarm engine "
        "(validate and deploy with --engine swarm)",
        "service 'api': deploy.update_config.delay dropped "
        "(gitdeploy starts the next batch once the last one passed its health gate)",
        "service 'api': deploy.update_config.max_failure_ratio dropped "
        "(gitdeploy rolls back at the first replica that fails its gate)",
        "service 'api': deploy.update_config became `rollout`",
        "service 'api': deploy.rollback_config dropped "
        "(gitdeploy rolls the whole deploy back with the service's `rollout`)",
        "service 'api': deploy.labels dropped (service labels of a swarm service; put container labels in `labels`)",
        "service 'api': deploy.restart_policy became `restart: always`",
        "service 'api': deploy.frobnicate dropped (not supported by gitdeploy)",
        "service 'agent': deploy.mode became `mode: global`, honoured only by the swarm engine "
        "(validate and deploy with --engine swarm)",
        "service 'agent': deploy.update_config.parallelism 0 (all at once) dropped; "
        "set rollout.parallelism to the number of replicas",
        "service 'agent': deploy.update_config.failure_action continue dropped; "
        "gitdeploy never keeps a failed update (rollout.on_failure: rollback or pause)",
        "service 'job': deploy.mode replicated-job dropped (gitdeploy runs replicated or global services, not jobs)",
        "service 'job': deploy.replicas dropped (the service sets `replicas` already)",
    ]
    assert "deploy:" not in text and "frobnicate" not in text
    # the keys take the place of `deploy`, in its order
    assert text.startswith("system: shop\nservices:\n  api:\n    image: shop/api:2\n    mode: replicated\n"
                           "    replicas: 8\n    endpoint_mode: dnsrr\n    placement:\n")


def test_imported_stack_validates_for_swarm_and_is_refused_by_name_on_docker(tmp_path):
    text, _ = import_compose(STACK, system="shop")
    src = source(tmp_path, text)
    spec = load_spec(src, engine="swarm")
    api = spec.service("api")
    assert api.replicas == 8 and api.mode == "replicated" and api.endpoint_mode == "dnsrr"
    assert api.placement == Placement(("node.role==worker", "node.labels.zone!=c"), ("node.labels.zone",), 4)
    assert api.resources == Resources(Amounts(500_000_000, 256 << 20), Amounts(250_000_000, 128 << 20))
    assert api.rollout == Rollout(order="start-first", parallelism=2, monitor=30.0, on_failure="rollback")
    assert api.restart == "always"
    assert spec.service("agent").mode == "global"
    assert spec.service("job").replicas == 2
    refused = [p.message.split(" (")[0] for p in validate_spec(src)]
    assert refused == [
        "endpoint_mode is honoured only by the swarm engine",
        "placement is honoured only by the swarm engine",
        "resources.reservations.cpus is honoured only by the swarm engine",
        "mode: global is honoured only by the swarm engine",
    ]


def test_compose_service_level_limits_become_resources(tmp_path):
    text, warnings = import_compose(
        "services:\n  a:\n    image: x\n    mem_limit: 512m\n    cpus: 0.5\n    mem_reservation: 128m\n"
        "    ports: ['80']\n  b:\n    image: x\n    cpus: 1\n    deploy: {resources: {limits: {memory: 1G}}}\n",
        system="s")
    assert warnings == [
        "service 'a': 'cpus' became `resources.limits.cpus`",
        "service 'a': 'mem_limit' became `resources.limits.memory`",
        "service 'a': 'mem_reservation' became `resources.reservations.memory`",
        "service 'b': deploy.resources became `resources`",
        "service 'b': 'cpus' dropped (deploy.resources gives the resources)",
    ]
    assert text.startswith("system: s\nservices:\n  a:\n    image: x\n    resources:\n")
    spec = load(tmp_path, text)
    assert spec.service("a").resources == Resources(Amounts(500_000_000, 512 << 20), Amounts(None, 128 << 20))
    assert spec.service("b").resources == Resources(Amounts(None, 1 << 30))
