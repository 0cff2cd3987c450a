"""Every validation rule, with the exact file:line:column each problem is reported at."""

from __future__ import annotations

import pytest

from gitdeploy.spec.load import validate_spec
from gitdeploy.spec.secrets import SecretStore

from .helpers import problems, source


def test_valid_spec_has_no_problems(tmp_path):
    assert problems(tmp_path, "system: s\nservices:\n  web: {image: nginx}\n") == []


def test_missing_spec_file(tmp_path):
    out = problems(tmp_path, None, files={"README": "x"})
    assert len(out) == 1
    assert out[0].startswith("gitdeploy.yaml: there is no gitdeploy.yaml at the root of the commit ")


def test_yaml_syntax_error_has_position(tmp_path):
    assert problems(tmp_path, "system: s\nservices:\n  web: {image: x\n") == [
        "gitdeploy.yaml:4:1: YAML syntax error: expected ',' or '}', but got '<stream end>' "
        "(hint: check indentation, colons and quotes around this spot)"
    ]
    assert problems(tmp_path / "b", "system: s\n  bad: indent\n") == [
        "gitdeploy.yaml:2:6: YAML syntax error: mapping values are not allowed here "
        "(hint: check indentation, colons and quotes around this spot)"
    ]


def test_duplicate_keys_are_all_reported(tmp_path):
    spec = """\
    system: s
    services:
      web: {image: x}
      web: {image: y}
      db:
        image: x
        image: y
    """
    assert problems(tmp_path, spec) == [
        "gitdeploy.yaml:4:3: duplicate key 'web' (first defined at line 3) (hint: remove one of them; YAML keeps only one)",
        "gitdeploy.yaml:7:5: duplicate key 'image' (first defined at line 6) (hint: remove one of them; YAML keeps only one)",
    ]


def test_top_level_not_a_mapping(tmp_path):
    assert problems(tmp_path, "- a\n- b\n") == [
        "gitdeploy.yaml:1:1: gitdeploy.yaml must be a mapping with `system` and `services`, not a list "
        "(hint: start with: system: NAME)"
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "services:\n  web: {image: x}\n",
            "gitdeploy.yaml:1:1: `system` is missing (hint: add `system: NAME` (lowercase letters, digits, '_', '-'))",
        ),
        (
            "system: My_Shop\nservices:\n  web: {image: x}\n",
            "gitdeploy.yaml:1:9: invalid system name 'My_Shop' (hint: use lowercase letters, digits, '_' and '-', starting with a letter or digit (no '.'))",
        ),
        (
            "system: [a]\nservices:\n  web: {image: x}\n",
            "gitdeploy.yaml:1:9: system must be a string, not a list",
        ),
        (
            "system: s\n",
            "gitdeploy.yaml:1:1: gitdeploy.yaml defines no services (hint: add `services:` (and `groups:` if you need them))",
        ),
        (
            "system: s\nkeep: -1\nservices:\n  web: {image: x}\n",
            "gitdeploy.yaml:2:7: keep must be an integer >= 0, not -1",
        ),
    ],
)
def test_top_level_rules(tmp_path, spec, expected):
    assert problems(tmp_path, spec) == [expected]


def test_unknown_and_unsupported_keys_everywhere(tmp_path):
    spec = """\
    system: s
    version: "3.8"
    servics: {}
    x-anchors: {ok: 1}
    services:
      web:
        image: x
        imagee: y
        deploy: {replicas: 2}
        network_mode: host
        privileged: true
        container_name: web1
        healthcheck: {test: x, intervall: 5s}
        rollout: {parralelism: 2}
        x-ok: 1
    groups:
      g:
        enviroment: {A: 1}
        image: x
    """
    assert problems(tmp_path, spec) == [
        "gitdeploy.yaml:2:1: 'version' is not supported by gitdeploy (gitdeploy.yaml) (hint: remove it; gitdeploy.yaml has no version)",
        "gitdeploy.yaml:3:1: unknown key 'servics' in gitdeploy.yaml (hint: did you mean 'services'?)",
        "gitdeploy.yaml:8:5: unknown key 'imagee' in service 'web' (hint: did you mean 'image'?)",
        "gitdeploy.yaml:9:5: 'deploy' is not supported by gitdeploy (service 'web') (hint: write its settings on the service (replicas, rollout, resources, placement, mode, endpoint_mode); "
        "`gitdeploy import` translates a deploy block)",
        "gitdeploy.yaml:10:5: 'network_mode' is not supported by gitdeploy (service 'web') (hint: remove it; every service joins the system's own network)",
        "gitdeploy.yaml:11:5: 'privileged' is not supported by gitdeploy (service 'web') (hint: remove it; gitdeploy does not apply it)",
        "gitdeploy.yaml:12:5: 'container_name' is not supported by gitdeploy (service 'web') (hint: remove it; gitdeploy names containers after the system and service path)",
        "gitdeploy.yaml:13:28: unknown key 'intervall' in healthcheck of service 'web' (hint: did you mean 'interval'?)",
        "gitdeploy.yaml:14:15: unknown key 'parralelism' in rollout of service 'web' (hint: did you mean 'parallelism'?)",
        "gitdeploy.yaml:18:5: unknown key 'enviroment' in group 'g' (hint: did you mean 'environment'?)",
        "gitdeploy.yaml:19:5: 'image' is not supported by gitdeploy (group 'g') (hint: groups only carry: services, groups, environment, labels, rollout, restart, init, drift_ignore)",
    ]


def test_wrong_types(tmp_path):
    spec = """\
    system: s
    services:
      web:
        image: 5
        replicas: "three"
        init: "yes"
        environment: 3
        ports: "80"
        command: {a: b}
        working_dir: srv
        restart: sometimes
        labels: [1]
        stop_grace_period: soon
        healthcheck: {test: [CMD], retries: -1, interval: 5x}
        depends_on: 7
    """
    assert problems(tmp_path, spec) == [
        "gitdeploy.yaml:4:12: image must be a string, not a number",
        "gitdeploy.yaml:5:15: replicas must be an integer >= 0, not a string",
        "gitdeploy.yaml:6:11: init must be true or false, not a string",
        "gitdeploy.yaml:7:18: environment of service 'web' must be a mapping or a list of KEY=VALUE, not a number",
        "gitdeploy.yaml:8:12: ports in service 'web' must be a list, not a string",
        "gitdeploy.yaml:9:14: command of service 'web' must be a string or a list of strings, not a mapping",
        "gitdeploy.yaml:10:18: working_dir must be an absolute path inside the container, not 'srv'",
        "gitdeploy.yaml:11:14: invalid restart policy 'sometimes' in service 'web' (hint: use no, always, on-failure[:N] or unless-stopped)",
        "gitdeploy.yaml:12:14: labels of service 'web' items must be KEY=VALUE strings, not a number",
        "gitdeploy.yaml:13:24: stop_grace_period: invalid duration 'soon' (expected e.g. '1m30s', '500ms', '10s', '1h') (hint: durations look like 1m30s, 500ms, 10s, 1h or a number of seconds)",
        "gitdeploy.yaml:14:25: healthcheck.test must start with CMD (with arguments), CMD-SHELL (with one command) or be [\"NONE\"], not 'CMD'",
        "gitdeploy.yaml:14:41: healthcheck.retries must be an integer >= 0, not -1",
        "gitdeploy.yaml:14:55: healthcheck.interval: invalid duration '5x' (expected e.g. '1m30s', '500ms', '10s', '1h') (hint: durations look like 1m30s, 500ms, 10s, 1h or a number of seconds)",
        "gitdeploy.yaml:15:17: depends_on in service 'web' must be a list or a mapping, not a number",
    ]


def test_replicas_negative(tmp_path):
    spec = "system: s\nservices:\n  web:\n    image: x\n    replicas: -2\n"
    assert problems(tmp_path, spec) == ["gitdeploy.yaml:5:15: replicas must be an integer >= 0, not -2"]


def test_image_and_build_rules(tmp_path):
    spec = """\
    system: s
    services:
      a: {image: Nginx:1}
      b: {image: "nginx:"}
      c: {image: "${IMAGE}"}
      d: {image: x, build: .}
      e: {command: x}
    """
    assert problems(tmp_path, spec, files={"Dockerfile": "FROM x"}) == [
        "gitdeploy.yaml:3:14: invalid image reference 'Nginx:1': the repository name must be lowercase",
        "gitdeploy.yaml:4:14: invalid image reference 'nginx:' (hint: expected [registry[:port]/]name[:tag][@sha256:digest], e.g. ghcr.io/acme/web:1.2)",
        "gitdeploy.yaml:5:14: invalid image reference '${IMAGE}': variable interpolation is not supported (hint: write the image tag into the spec; every change to it is a commit)",
        "gitdeploy.yaml:6:17: service 'd' has both `image` and `build` (hint: keep exactly one of them)",
        "gitdeploy.yaml:7:3: service 'e' has neither `image` nor `build` (hint: add image: NAME:TAG or build: DIRECTORY)",
    ]


def test_ports_rules(tmp_path):
    spec = """\
    system: s
    services:
      a:
        image: x
        ports:
          - "8080:80"
          - "70000:80"
          - "80/icmp"
          - "1.2.3:80:80"
          - {published: 1}
          - "8080:81"
      b:
        image: x
        ports: ["127.0.0.1:8080:80", "9000:80/udp"]
      c:
        image: x
        replicas: 2
        ports: ["9000:80/udp"]
      d:
        image: x
        replicas: 0
        ports: ["8080:80"]
    """
    assert problems(tmp_path, spec) == [
        'gitdeploy.yaml:7:9: invalid port number or range \'70000\' in \'70000:80\' (1-65535) (hint: e.g. "8080:80", "127.0.0.1:8080:80/udp" or "80")',
        'gitdeploy.yaml:8:9: invalid protocol \'icmp\' in port \'80/icmp\' (hint: e.g. "8080:80", "127.0.0.1:8080:80/udp" or "80")',
        'gitdeploy.yaml:9:9: invalid host IP \'1.2.3\' in port \'1.2.3:80:80\' (hint: e.g. "8080:80", "127.0.0.1:8080:80/udp" or "80")',
        "gitdeploy.yaml:10:9: a port needs `target` (the container port)",
        "gitdeploy.yaml:11:9: host port 8080/tcp of service 'a' is already published by itself (hint: publish a different host port)",
        "gitdeploy.yaml:14:13: host port 127.0.0.1:8080/tcp of service 'b' is already published by service 'a' (hint: publish a different host port)",
        "gitdeploy.yaml:18:13: service 'c' publishes host port 9000/udp but has 2 replicas (hint: only one container can hold a host port: use replicas: 1, or publish no host port)",
        "gitdeploy.yaml:18:13: host port 9000/udp of service 'c' is already published by service 'b' (hint: publish a different host port)",
    ]


def test_different_ips_or_protocols_do_not_conflict(tmp_path):
    spec = """\
    system: s
    services:
      a: {image: x, ports: ["127.0.0.1:80:80", "53:53/udp"]}
      b: {image: x, ports: ["127.0.0.2:80:80", "53:53/tcp"]}
    """
    assert problems(tmp_path, spec) == []


def test_volume_rules(tmp_path):
    spec = """\
    system: s
    services:
      a:
        image: x
        volumes:
          - ./data:/data
          - /srv/data:/data
          - /anonymous
          - data:relative
          - data:/x:z
          - {type: bind, source: ., target: /x}
          - {type: tmpfs, target: /x}
    """
    hint = (
        "gitdeploy mounts named volumes only; to ship a file from the repository use `configs`, "
        "for data use a named volume ('data:/path')"
    )
    assert problems(tmp_path, spec) == [
        f"gitdeploy.yaml:6:9: bind mount './data:/data' is not supported (hint: {hint})",
        f"gitdeploy.yaml:7:9: bind mount '/srv/data:/data' is not supported (hint: {hint})",
        "gitdeploy.yaml:8:9: anonymous volume '/anonymous' is not supported (hint: name it: 'NAME:/anonymous')",
        "gitdeploy.yaml:9:9: volume target 'relative' must be an absolute path inside the container",
        "gitdeploy.yaml:10:9: volume option 'z' is not supported by gitdeploy (hint: use ro or rw)",
        f"gitdeploy.yaml:11:16: bind mounts are not supported (hint: {hint})",
        "gitdeploy.yaml:12:16: volume type 'tmpfs' is not supported by gitdeploy (hint: use type: volume)",
    ]


def test_environment_and_labels_rules(tmp_path):
    spec = """\
    system: s
    services:
      a:
        image: x
        environment: [A=1, FROM_HOST]
        labels: {io.gitdeploy.service: evil, ok: 1}
      b:
        image: x
        environment:
          EMPTY:
          NESTED: {a: 1}
    """
    hint = (
        "gitdeploy never copies the deploying host's environment: write the value, "
        "or use `secrets` for secret values"
    )
    assert problems(tmp_path, spec) == [
        f"gitdeploy.yaml:5:24: 'FROM_HOST' in environment of service 'a' has no value (hint: {hint})",
        "gitdeploy.yaml:6:14: label 'io.gitdeploy.service' is reserved for gitdeploy (hint: use a prefix other than 'io.gitdeploy.')",
        f"gitdeploy.yaml:10:7: 'EMPTY' in environment of service 'b' has no value (hint: {hint})",
        "gitdeploy.yaml:11:7: the value of 'NESTED' in environment of service 'b' must be a string, number or boolean, not a mapping",
    ]


def test_names_and_duplicate_paths(tmp_path):
    spec = """\
    system: s
    services:
      shop: {image: x}
      "bad name": {image: x}
    groups:
      shop:
        services:
          web: {image: x}
      other:
        services:
          web: {image: x}
        groups:
          web:
            services:
              x: {image: x}
    """
    assert problems(tmp_path, spec) == [
        "gitdeploy.yaml:4:3: invalid service name 'bad name' (hint: use letters, digits, '_' and '-', starting with a letter or digit (no '.': gitdeploy joins names with dots))",
        "gitdeploy.yaml:6:3: a service and a group are both named 'shop' (the service is at line 3) (hint: rename one of them; a path must name exactly one thing)",
        "gitdeploy.yaml:13:7: a service and a group are both named 'other/web' (the service is at line 11) (hint: rename one of them; a path must name exactly one thing)",
    ]


def test_depends_on_missing_targets(tmp_path):
    spec = """\
    system: s
    services:
      web: {image: x, depends_on: [databse, g/api, g/nope]}
    groups:
      g:
        services:
          api:
            image: x
            depends_on:
              web: {condition: service_completed_successfully}
              cache: {condition: sometimes}
              wbe:
    """
    assert problems(tmp_path, spec) == [
        "gitdeploy.yaml:3:32: service 'web' depends on 'databse', which does not exist (hint: name a service of the same group, a top-level service or a full path)",
        "gitdeploy.yaml:3:48: service 'web' depends on 'g/nope', which does not exist (hint: name a service of the same group, a top-level service or a full path)",
        "gitdeploy.yaml:10:28: 'service_completed_successfully' is not supported by gitdeploy (hint: use service_started or service_healthy)",
        "gitdeploy.yaml:11:30: invalid condition 'sometimes' (hint: use service_started or service_healthy)",
        "gitdeploy.yaml:12:11: service 'g/api' depends on 'wbe', which does not exist (hint: did you mean 'web'?)",
    ]


def test_dependency_cycles_print_the_cycle(tmp_path):
    spec = """\
    system: s
    services:
      a: {image: x, depends_on: [b]}
      b: {image: x, depends_on: [c]}
      c: {image: x, depends_on: [a]}
      self: {image: x, depends_on: [self]}
    groups:
      g:
        services:
          x: {image: x, depends_on: [y]}
          y: {image: x, depends_on: [g/x]}
    """
    assert problems(tmp_path, spec) == [
        "gitdeploy.yaml:3:30: dependency cycle: a -> b -> c -> a (hint: remove one of these depends_on entries)",
        "gitdeploy.yaml:6:33: dependency cycle: self -> self (hint: remove one of these depends_on entries)",
        "gitdeploy.yaml:10:34: dependency cycle: g/x -> g/y -> g/x (hint: remove one of these depends_on entries)",
    ]


@pytest.mark.parametrize("kind", ["git", "worktree"])
def test_paths_that_escape_or_do_not_exist(tmp_path, kind):
    spec = """\
    system: s
    configs:
      outside: {file: ../secret.conf}
    services:
      a:
        image: x
        configs: [/etc/passwd, conf/missing.conf, linked/app.conf, conf]
        env_file: [../.env, missing.env]
      b:
        build: {context: ../other}
      c:
        build: {context: app, dockerfile: ../Dockerfile}
      d:
        build: nope
      e:
        build: {context: app, dockerfile: Missing.Dockerfile}
      f:
        build: linked
    """
    src = source(
        tmp_path,
        spec,
        files={"conf/ok.conf": "x", "real/app.conf": "x", "app/Dockerfile": "FROM x"},
        symlinks={"linked": "real"},
        kind=kind,
    )
    # A commit says where the file must be; the working tree has nothing to commit.
    missing = f" in the {src.label}" + (
        " (hint: commit the file (gitdeploy reads commits, not the working tree))" if kind == "git" else ""
    )
    assert [str(p) for p in validate_spec(src)] == [
        "gitdeploy.yaml:3:19: config 'outside' '../secret.conf' escapes the repository ('..') (hint: use a path inside the repository, without '..')",
        "gitdeploy.yaml:7:15: config '/etc/passwd' is an absolute path (hint: use a path relative to the repository root)",
        f"gitdeploy.yaml:7:28: config 'conf/missing.conf' does not exist{missing}",
        "gitdeploy.yaml:7:47: config 'linked/app.conf' goes through the symlink 'linked' (hint: symlinks could point outside the repository; commit the real file or directory)",
        "gitdeploy.yaml:7:64: config 'conf' is a directory, not a file",
        "gitdeploy.yaml:8:16: env_file '../.env' escapes the repository ('..') (hint: use a path inside the repository, without '..')",
        f"gitdeploy.yaml:8:25: env_file 'missing.env' does not exist{missing}",
        "gitdeploy.yaml:10:22: build context '../other' escapes the repository ('..') (hint: use a path inside the repository, without '..')",
        "gitdeploy.yaml:12:39: dockerfile '../Dockerfile' must be inside the build context (hint: give a path relative to the context, without '..')",
        f"gitdeploy.yaml:14:12: build context 'nope' does not exist{missing}",
        f"gitdeploy.yaml:16:39: dockerfile 'app/Missing.Dockerfile' does not exist{missing}",
        "gitdeploy.yaml:18:12: build context 'linked' goes through the symlink 'linked' (hint: symlinks could point outside the repository; commit the real file or directory)",
    ]


@pytest.mark.parametrize("kind", ["git", "worktree"])
def test_symlinks_inside_a_build_context(tmp_path, kind):
    spec = "system: s\nservices:\n  a:\n    build: app\n"
    out = problems(
        tmp_path,
        spec,
        files={"app/Dockerfile": "FROM x", "app/src/main.py": "", "shared.txt": ""},
        symlinks={
            "app/ok": "src/main.py",
            "app/src/up": "../Dockerfile",
            "app/abs": "/etc/passwd",
            "app/src/out": "../../shared.txt",
        },
        kind=kind,
    )
    hint = "(hint: replace the symlink by the file itself; the build would read files outside the context)"
    assert out == [
        f"gitdeploy.yaml:4:12: the build context 'app' contains the symlink 'app/abs' pointing outside it ('/etc/passwd') {hint}",
        f"gitdeploy.yaml:4:12: the build context 'app' contains the symlink 'app/src/out' pointing outside it ('../../shared.txt') {hint}",
    ]


def test_env_file_problems_point_into_the_env_file(tmp_path):
    spec = "system: s\nservices:\n  a: {image: x, env_file: app.env}\n"
    assert problems(tmp_path, spec, files={"app.env": "OK=1\n\n=novalue\n"}) == [
        "app.env:3:1: invalid line in env file: '=novalue' (hint: write KEY=VALUE (lines starting with # are comments))"
    ]


def test_top_level_declarations(tmp_path):
    spec = """\
    system: s
    configs:
      a: {file: conf/a.conf, external: true}
      b: {}
    secrets:
      pw: {file: ./pw.txt}
      ok: {environment: OK}
    volumes:
      data:
      cache: {driver: nfs}
    networks: {front: {}}
    services:
      web: {image: x}
    """
    assert problems(tmp_path, spec, files={"conf/a.conf": "x"}) == [
        "gitdeploy.yaml:3:26: 'external' is not supported by gitdeploy (config 'a') (hint: remove it; declare the file with `file: PATH` (a file of the repository))",
        "gitdeploy.yaml:4:3: config 'b' has no `file` (hint: add file: PATH (a file of the repository))",
        "gitdeploy.yaml:6:8: 'file' is not supported by gitdeploy (secret 'pw') (hint: secret values never live in the repository; provide them on the deploying host)",
        "gitdeploy.yaml:10:11: 'driver' is not supported by gitdeploy (volume 'cache') (hint: remove it; gitdeploy creates plain local volumes named <system>_<name>)",
        "gitdeploy.yaml:11:1: 'networks' is not supported by gitdeploy (gitdeploy.yaml) (hint: remove it; every system gets its own network)",
    ]


def test_missing_secrets_on_this_host(tmp_path):
    spec = """\
    system: s
    services:
      a: {image: x, secrets: [db_pw, api_key]}
      b:
        image: x
        secrets:
          - {source: db_pw, target: /etc/pw}
    """
    store = SecretStore(directory=tmp_path / "secrets", environ={"GITDEPLOY_SECRET_API_KEY": "k"})
    where = f"{tmp_path / 'secrets' / 'db_pw'} or $GITDEPLOY_SECRET_DB_PW"
    assert problems(tmp_path, spec, secrets=store) == [
        f"gitdeploy.yaml:3:27: secret 'db_pw' of service 'a' is not provided on this host (hint: put its value in {where})",
        f"gitdeploy.yaml:7:9: secret 'db_pw' of service 'b' is not provided on this host (hint: put its value in {where})",
    ]
    assert problems(tmp_path / "again", spec) == []  # without a store, secrets are not checked


def test_configs_rules(tmp_path):
    spec = """\
    system: s
    services:
      a:
        image: x
        configs:
          - {source: a.conf, target: relative}
          - {source: a.conf, mode: 999}
          - {source: a.conf, target: /x}
          - b.conf:/x
    """
    assert problems(tmp_path, spec, files={"a.conf": "", "b.conf": ""}) == [
        "gitdeploy.yaml:6:9: config target 'relative' must be an absolute path inside the container",
        "gitdeploy.yaml:7:32: config mode must be octal permissions like 0444, not 999",
        "gitdeploy.yaml:9:9: two configs are mounted at '/x' ('a.conf' and 'b.conf')",
    ]


def test_service_healthy_needs_a_health_check(tmp_path):
    found = problems(
        tmp_path,
        """\
        system: s
        services:
          db: {image: x}
          api: {image: x, healthcheck: {test: "true"}}
          web:
            image: x
            depends_on: {db: {condition: service_healthy}, api: {condition: service_healthy}}
        """,
    )
    assert found == [
        "gitdeploy.yaml:7:18: service 'web' waits for 'db' to be healthy, but it has no health check "
        "(hint: give 'db' a healthcheck, or use condition: service_started)"
    ]
