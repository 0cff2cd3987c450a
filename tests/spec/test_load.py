"""Loading valid specs: values, inheritance, dependencies, files — from a commit and from disk."""

from __future__ import annotations

import hashlib

import pytest

from gitdeploy.errors import SpecInvalid
from gitdeploy.spec.load import load_spec
from gitdeploy.spec.model import (
    Build,
    ConfigFile,
    Dependency,
    HealthCheck,
    Port,
    Rollout,
    SecretRef,
    Volume,
)
from gitdeploy.spec.repofiles import parse_env_text
from gitdeploy.spec.yamlnode import Report

from .helpers import load, source

KINDS = ["git", "worktree"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", KINDS)
def test_minimal_spec_has_defaults(tmp_path, kind):
    spec = load(tmp_path, "system: shop\nservices:\n  web:\n    image: nginx:1.27\n", kind=kind)
    assert spec.system == "shop"
    assert spec.keep == 2
    assert spec.groups == ()
    assert dict(spec.files) == {}
    web = spec.service("web")
    assert web.image == "nginx:1.27"
    assert web.replicas == 1
    assert web.restart == "unless-stopped"
    assert web.rollout == Rollout()
    assert web.stop_grace_period == 10.0
    if kind == "git":
        assert spec.commit is not None and len(spec.commit) == 40
    else:
        assert spec.commit is None


@pytest.mark.parametrize("kind", KINDS)
def test_every_service_key(tmp_path, kind):
    spec = load(
        tmp_path,
        """\
        system: shop
        keep: 5
        x-common: {anything: [1, 2]}
        configs:
          nginx_conf: {file: conf/nginx.conf}
        secrets:
          db_password: {environment: DB_PASSWORD}
        volumes:
          data: {}
        services:
          web:
            image: ghcr.io/acme/web:1.2
            command: nginx -g "daemon off;"
            entrypoint: [/docker-entrypoint.sh]
            environment:
              DEBUG: true
              WORKERS: 4
              RATIO: 0.5
            ports:
              - "8080:80"
              - 127.0.0.1:9090:90/udp
              - 70
              - {target: 443, published: 8443, host_ip: 0.0.0.0, protocol: tcp}
            volumes:
              - data:/var/lib/web:ro
              - {type: volume, source: cache, target: /cache}
            configs:
              - conf/site.conf:/etc/nginx/conf.d/site.conf
              - conf/plain.txt
              - {source: nginx_conf, target: /etc/nginx/nginx.conf, mode: 0440}
            secrets:
              - db_password
              - {source: api_key, target: key.txt}
            healthcheck:
              test: ["CMD", "wget", "-q", "http://127.0.0.1/"]
              interval: 1m30s
              timeout: 500ms
              retries: 5
              start_period: 10
            replicas: 1
            labels: [com.example.tier=front, flag]
            restart: on-failure:3
            init: true
            user: 1000
            working_dir: /srv
            stop_grace_period: 1h
            rollout: {order: start-first, parallelism: 2, monitor: 30s, deadline: 2m, on_failure: pause}
            drift_ignore: [/var/cache/nginx]
            x-note: ignored
        """,
        files={"conf/nginx.conf": "n", "conf/site.conf": "s", "conf/plain.txt": "p"},
        kind=kind,
    )
    assert spec.keep == 5
    web = spec.service("web")
    assert web.command == ("nginx", "-g", "daemon off;")
    assert web.entrypoint == ("/docker-entrypoint.sh",)
    assert web.environment == (("DEBUG", "true"), ("RATIO", "0.5"), ("WORKERS", "4"))
    assert web.ports == (
        Port(80, 8080),
        Port(90, 9090, "127.0.0.1", "udp"),
        Port(70),
        Port(443, 8443, "0.0.0.0", "tcp"),
    )
    assert web.volumes == (Volume("data", "/var/lib/web", True), Volume("cache", "/cache", False))
    assert web.configs == (
        ConfigFile("conf/site.conf", "/etc/nginx/conf.d/site.conf", sha(b"s")),
        ConfigFile("conf/plain.txt", "/plain.txt", sha(b"p")),
        ConfigFile("conf/nginx.conf", "/etc/nginx/nginx.conf", sha(b"n"), 0o440),
    )
    assert web.secrets == (
        SecretRef("db_password", "/run/secrets/db_password"),
        SecretRef("api_key", "/run/secrets/key.txt"),
    )
    assert web.healthcheck == HealthCheck(("CMD", "wget", "-q", "http://127.0.0.1/"), 90.0, 0.5, 5, 10.0)
    assert web.labels == (("com.example.tier", "front"), ("flag", ""))
    assert web.restart == "on-failure:3"
    assert web.init is True
    assert web.user == "1000"
    assert web.working_dir == "/srv"
    assert web.stop_grace_period == 3600.0
    assert web.rollout == Rollout("start-first", 2, 30.0, 120.0, "pause")
    assert web.drift_ignore == ("/var/cache/nginx",)
    assert dict(spec.files) == {"conf/nginx.conf": b"n", "conf/plain.txt": b"p", "conf/site.conf": b"s"}


@pytest.mark.parametrize("kind", KINDS)
def test_build_string_and_mapping(tmp_path, kind):
    spec = load(
        tmp_path,
        """\
        system: s
        services:
          a: {build: ./app/}
          b:
            build:
              context: app
              dockerfile: docker/Prod.Dockerfile
              args: {VERSION: 2, DEBUG: false}
              target: final
          c: {build: .}
        """,
        files={"app/Dockerfile": "FROM x", "app/docker/Prod.Dockerfile": "FROM y", "Dockerfile": "FROM z"},
        kind=kind,
    )
    assert spec.service("a").build == Build("app")
    assert spec.service("b").build == Build(
        "app", "docker/Prod.Dockerfile", (("DEBUG", "false"), ("VERSION", "2")), "final"
    )
    assert spec.service("c").build == Build(".")
    assert spec.service("a").image is None


def test_healthcheck_forms(tmp_path):
    spec = load(
        tmp_path,
        """\
        system: s
        services:
          a: {image: x, healthcheck: {test: curl -f http://localhost}}
          b: {image: x, healthcheck: {test: [CMD-SHELL, "exit 0"]}}
          c: {image: x, healthcheck: {disable: true}}
          d: {image: x, healthcheck: {test: [NONE]}}
        """,
    )
    assert spec.service("a").healthcheck == HealthCheck(("CMD-SHELL", "curl -f http://localhost"))
    assert spec.service("b").healthcheck == HealthCheck(("CMD-SHELL", "exit 0"))
    assert spec.service("c").healthcheck == HealthCheck(("NONE",))
    assert spec.service("d").healthcheck == HealthCheck(("NONE",))


def test_group_inheritance(tmp_path):
    spec = load(
        tmp_path,
        """\
        system: s
        services:
          top: {image: x}
        groups:
          shop:
            environment: {A: outer, B: outer}
            labels: {team: shop, tier: "1"}
            rollout: {parallelism: 2, monitor: 20s, canary: 0}
            restart: always
            init: true
            drift_ignore: [/tmp]
            services:
              web: {image: x, environment: [B=web], labels: {tier: "3"}, init: false}
            groups:
              inner:
                environment: {B: inner, C: inner}
                rollout: {monitor: 1m, on_failure: pause}
                restart: "no"
                drift_ignore: [/var/cache, /tmp]
                services:
                  api:
                    image: x
                    rollout: {deadline: 5m}
                    drift_ignore: [/run]
        """,
    )
    assert spec.groups == ("shop", "shop/inner")
    assert [s.path for s in spec.services] == ["top", "shop/web", "shop/inner/api"]
    top, web, api = spec.services
    assert top.environment == () and top.labels == () and top.restart == "unless-stopped"
    assert web.environment == (("A", "outer"), ("B", "web"))
    assert web.labels == (("team", "shop"), ("tier", "3"))
    assert web.rollout == Rollout(parallelism=2, monitor=20.0, canary=0)
    assert web.restart == "always"
    assert web.init is False
    assert web.drift_ignore == ("/tmp",)
    assert api.environment == (("A", "outer"), ("B", "inner"), ("C", "inner"))
    assert api.rollout == Rollout(parallelism=2, monitor=60.0, deadline=300.0, on_failure="pause", canary=0)
    assert api.restart == "no"
    assert api.init is True
    assert api.drift_ignore == ("/tmp", "/var/cache", "/run")
    assert api.name == "api" and api.group == "shop/inner"


def test_depends_on_resolution(tmp_path):
    spec = load(
        tmp_path,
        """\
        system: s
        services:
          db: {image: x}
          cache: {image: x}
        groups:
          shop:
            services:
              db: {image: x, healthcheck: {test: "true"}}
              web:
                image: x
                depends_on:
                  db: {condition: service_healthy}
                  cache:
                  other/db: {condition: service_started}
          other:
            services:
              db: {image: x}
              api: {image: x, depends_on: [cache, db, shop/web]}
        """,
    )
    assert spec.service("shop/web").depends_on == (
        Dependency("shop/db", "service_healthy"),
        Dependency("cache", "service_started"),
        Dependency("other/db", "service_started"),
    )
    assert spec.service("other/api").depends_on == (
        Dependency("cache"),
        Dependency("other/db"),
        Dependency("shop/web"),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_env_files_merge_order_and_digests(tmp_path, kind):
    env_a = '# comment\n\nexport A=from_a\nB="double \\"quoted\\"\\nline"\nC=\'single $x\'\nD=plain # trailing\nE=\n'
    env_b = "A=from_b\nF = spaced \n"
    spec = load(
        tmp_path,
        """\
        system: s
        groups:
          g:
            environment: {A: group, G: group, F: group}
            services:
              web:
                image: x
                env_file: [env/a.env, {path: env/b.env}, {path: env/missing.env, required: false}]
                environment: {F: service}
        """,
        files={"env/a.env": env_a, "env/b.env": env_b},
        kind=kind,
    )
    web = spec.service("g/web")
    assert web.environment == (
        ("A", "from_b"),
        ("B", 'double "quoted"\nline'),
        ("C", "single $x"),
        ("D", "plain"),
        ("E", ""),
        ("F", "service"),
        ("G", "group"),
    )
    assert web.env_files == (("env/a.env", sha(env_a.encode())), ("env/b.env", sha(env_b.encode())))
    assert dict(spec.files) == {"env/a.env": env_a.encode(), "env/b.env": env_b.encode()}


def test_env_text_problems_have_env_file_lines():
    r = Report("gitdeploy.yaml")
    values = parse_env_text(r, "A=1\nnot a line\nB='open\n", "x.env")
    assert values == {"A": "1"}
    assert [str(p) for p in r.problems] == [
        "x.env:2:1: invalid line in env file: 'not a line' (hint: write KEY=VALUE (lines starting with # are comments))",
        'x.env:3:1: unterminated quote in env file: "B=\'open" (hint: close the quote on the same line)',
    ]


def test_load_spec_raises_with_every_problem(tmp_path):
    src = source(tmp_path, "system: Bad!\nservices:\n  web: {imag: x}\n")
    with pytest.raises(SpecInvalid) as info:
        load_spec(src)
    assert [str(p) for p in info.value.problems] == [
        "gitdeploy.yaml:1:9: invalid system name 'Bad!' (hint: use lowercase letters, digits, '_' and '-', starting with a letter or digit (no '.'))",
        "gitdeploy.yaml:3:3: service 'web' has neither `image` nor `build` (hint: add image: NAME:TAG or build: DIRECTORY)",
        "gitdeploy.yaml:3:9: unknown key 'imag' in service 'web' (hint: did you mean 'image'?)",
    ]
    assert info.value.exit_code == 2
    assert "3 problems" in info.value.message


def test_git_source_reads_the_commit_not_the_disk(tmp_path):
    src = source(tmp_path, "system: s\nservices:\n  web: {image: x}\n")
    (tmp_path / "repo" / "gitdeploy.yaml").write_text("system: changed\n")
    assert load_spec(src).system == "s"


def test_rollout_drain_is_a_duration(tmp_path):
    spec = load(
        tmp_path,
        """\
        system: s
        services:
          a: {image: x, rollout: {drain: 250ms}}
          b: {image: x}
        """,
    )
    assert spec.service("a").rollout.drain == 0.25
    assert spec.service("b").rollout.drain == 1.5
