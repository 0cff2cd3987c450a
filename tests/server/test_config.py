"""Loading the server configuration: defaults, overrides, errors with file:line, secrets hidden."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.server.config import DeployPolicy, load_config, permission_at_least

FULL = """\
listen: 0.0.0.0:9000
webhook_secret: s3cret-value
max_body_bytes: 1000
data_dir: state
workers: 3
bot_login: deployer[bot]
repositories: [acme/shop, acme/infra]
environments:
  production: {branch: main, docker_host: "ssh://deploy@prod", heal: heal}
  staging: {branch: staging}
github: {token: ghp_tokenvalue, base_url: "https://ghe.example/api/v3/", pace: false}
deploy:
  permissions: {min_permission: maintain, users: [alice], teams: [acme/ops]}
  requirements: {approved: false, mergeable: true}
"""

MINIMAL = """\
webhook_secret: x
data_dir: /tmp/gd
repositories: [acme/shop]
environments: {production: {branch: main}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "server.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_full_file(tmp_path):
    c = load_config(write(tmp_path, FULL), environ={})
    assert (c.host, c.port, c.max_body_bytes, c.workers, c.bot_login) == ("0.0.0.0", 9000, 1000, 3, "deployer[bot]")
    assert c.data_dir == tmp_path / "state"
    assert c.repositories == ("acme/shop", "acme/infra")
    prod = c.environment("production")
    assert (prod.branch, prod.docker_host, prod.heal) == ("main", "ssh://deploy@prod", "heal")
    assert c.environment("staging").heal == "report"
    assert c.github.token.reveal() == "ghp_tokenvalue"
    assert (c.github.base_url, c.github.pace) == ("https://ghe.example/api/v3", False)
    assert c.deploy == DeployPolicy("maintain", ("alice",), ("acme/ops",), False, True)


def test_defaults(tmp_path):
    c = load_config(write(tmp_path, MINIMAL), environ={})
    assert (c.host, c.port, c.max_body_bytes, c.workers) == ("127.0.0.1", 8470, 5 * 1024 * 1024, 2)
    assert c.deploy == DeployPolicy()
    assert c.github.base_url == "https://api.github.com" and not c.github.token


def test_environment_overrides(tmp_path):
    (tmp_path / "tok").write_text("from-file\n")
    env = {
        "GITDEPLOY_LISTEN": "[::1]:8999", "GITDEPLOY_WEBHOOK_SECRET": "env-secret",
        "GITDEPLOY_GITHUB_TOKEN_FILE": str(tmp_path / "tok"), "GITDEPLOY_DATA_DIR": str(tmp_path / "d"),
        "GITDEPLOY_WORKERS": "5", "GITDEPLOY_GITHUB_URL": "http://127.0.0.1:1234", "GITDEPLOY_BOT_LOGIN": "me",
    }
    c = load_config(write(tmp_path, MINIMAL), environ=env)
    assert (c.host, c.port, c.workers, c.bot_login) == ("::1", 8999, 5, "me")
    assert c.webhook_secret.reveal() == "env-secret"
    assert c.github.token.reveal() == "from-file"
    assert c.data_dir == tmp_path / "d" and c.github.base_url == "http://127.0.0.1:1234"


def test_secrets_never_show_in_repr(tmp_path):
    c = load_config(write(tmp_path, FULL), environ={})
    for text in (repr(c), str(c), repr(c.github), f"{c.webhook_secret}"):
        assert "s3cret-value" not in text and "ghp_tokenvalue" not in text
    assert "Secret(****)" in repr(c)


def test_no_secret_is_refused_with_a_hint(tmp_path):
    text = MINIMAL.replace("webhook_secret: x\n", "")
    with pytest.raises(GitdeployError) as err:
        load_config(write(tmp_path, text), environ={})
    assert "refuses" in str(err.value) and "insecure_no_secret" in err.value.hint
    c = load_config(write(tmp_path, text + "insecure_no_secret: true\n"), environ={})
    assert c.insecure_no_secret and not c.webhook_secret


def test_problems_are_listed_with_file_and_line(tmp_path):
    text = MINIMAL + textwrap.dedent("""\
        workers: many
        lisen: 1.2.3.4:5
        deploy:
          permissions: {min_permission: owner}
        """)
    path = write(tmp_path, text)
    with pytest.raises(GitdeployError) as err:
        load_config(path, environ={})
    msg = str(err.value)
    assert err.value.exit_code == EXIT_INVALID
    assert f"{path}:5:1: config.workers must be a int" in msg
    assert f"{path}:6:1: unknown key 'lisen'" in msg
    assert f"{path}:8:" in msg and "min_permission must be one of admin, maintain, write, triage, read" in msg
    assert "Traceback" not in msg


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(GitdeployError, match=r"server.yaml:2:"):
        load_config(write(tmp_path, "a: [\nb: ]: x\n"), environ={})
    with pytest.raises(GitdeployError, match="cannot read the server configuration"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_required_sections(tmp_path):
    with pytest.raises(GitdeployError) as err:
        load_config(write(tmp_path, "webhook_secret: x\n"), environ={})
    msg = str(err.value)
    assert "data_dir is required" in msg and "repositories must list" in msg and "environments must name" in msg


def test_permission_order():
    assert permission_at_least("admin", "write") and permission_at_least("write", "write")
    assert not permission_at_least("triage", "write") and not permission_at_least("none", "read")


def test_http_limits_have_defaults_and_are_checked(tmp_path):
    from gitdeploy.server.config import HttpLimits

    assert load_config(write(tmp_path, MINIMAL), environ={}).http == HttpLimits()
    config = load_config(write(tmp_path, MINIMAL + "http: {header_timeout: 2.5, connection_limit: 50}\n"), environ={})
    assert config.http == HttpLimits(header_timeout=2.5, connection_limit=50)
    with pytest.raises(GitdeployError) as caught:
        load_config(write(tmp_path, MINIMAL + "http: {idle_timeout: 0, connection_limit: many, slow: 1}\n"), environ={})
    text = str(caught.value)
    assert "server.yaml:5:8: http.idle_timeout must be 0.1..86400, got 0" in text
    assert "http.connection_limit must be a int" in text and "unknown key 'slow' in http" in text


def test_an_environment_names_its_engine_and_registry(tmp_path):
    text = MINIMAL.replace("environments: {production: {branch: main}}\n", textwrap.dedent("""\
        environments:
          production: {branch: main, engine: swarm, docker_host: "tcp://10.99.0.2:2375", registry: "10.99.0.1:5000/shop/"}
          staging: {branch: staging}
        """))
    c = load_config(write(tmp_path, text), environ={})
    prod, staging = c.environment("production"), c.environment("staging")
    assert (prod.engine, prod.registry, prod.docker_host) == ("swarm", "10.99.0.1:5000/shop", "tcp://10.99.0.2:2375")
    assert (staging.engine, staging.registry) == ("docker", None)


def test_a_bad_engine_or_registry_is_a_problem_with_its_line(tmp_path):
    text = MINIMAL.replace("environments: {production: {branch: main}}\n", textwrap.dedent("""\
        environments:
          production:
            branch: main
            engine: nomad
            registry: "http://reg:5000"
          staging: {branch: staging, engine: 3, registry: "a b"}
        """))
    path = write(tmp_path, text)
    with pytest.raises(GitdeployError) as err:
        load_config(path, environ={})
    msg = str(err.value)
    assert err.value.exit_code == EXIT_INVALID and "Traceback" not in msg
    assert f"{path}:7:5: environments.production.engine must be docker or swarm, got 'nomad'" in msg
    assert f"{path}:8:5: environments.production.registry: registry 'http://reg:5000' is not HOST[:PORT][/PREFIX]" in msg
    assert f"{path}:9:30: environments.staging.engine must be a str, got 3" in msg
    assert f"{path}:9:41: environments.staging.registry: registry 'a b' is not HOST[:PORT][/PREFIX]" in msg


def test_a_swarm_environment_lists_its_nodes_engines_for_the_healer(tmp_path):
    text = MINIMAL.replace("environments: {production: {branch: main}}\n", textwrap.dedent("""\
        environments:
          production:
            branch: main
            engine: swarm
            node_hosts: {node2: "tcp://10.99.0.12:2375", node3: "ssh://deploy@node3"}
          staging: {branch: staging, node_hosts: {node2: 5}}
        """))
    path = write(tmp_path, text)
    with pytest.raises(GitdeployError) as err:
        load_config(path, environ={})
    assert f"{path}:9:43: environments.staging.node_hosts.node2 must be a str, got 5" in str(err.value)
    c = load_config(write(tmp_path, text.replace("{node2: 5}", "{}")), environ={})
    assert c.environment("production").node_hosts == (("node2", "tcp://10.99.0.12:2375"),
                                                      ("node3", "ssh://deploy@node3"))
    assert c.environment("staging").node_hosts == ()
