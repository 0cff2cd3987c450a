"""Importing a docker-compose.yml: what maps is translated, everything else is a warning."""

from __future__ import annotations

import textwrap

import pytest

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.spec.compose_import import import_compose
from gitdeploy.spec.model import ConfigFile, Dependency, Port, Rollout, Volume

from .helpers import load

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
        "service 'web': deploy.update_config.delay dropped",
        "service 'web': deploy.update_config became `rollout`",
        "service 'web': deploy.restart_policy became `restart: on-failure:3`",
        "service 'web': deploy.resources dropped (not supported by gitdeploy)",
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
