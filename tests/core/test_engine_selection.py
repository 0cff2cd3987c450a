"""Engine selection on the command line: `--engine docker|swarm` and `--registry` (or
GITDEPLOY_ENGINE / GITDEPLOY_REGISTRY) reach the shared Context; `validate` judges the spec for
that engine unless told otherwise; bad values are exit-2 messages, never tracebacks."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gitdeploy.cli import cli
from gitdeploy.pipeline import Context
from tests.spec.helpers import commit_repo, write_repo

PLACED = """\
system: s
services:
  web:
    image: x
    placement:
      constraints: [node.role == worker]
"""

UNSET = {"GITDEPLOY_ENGINE": None, "GITDEPLOY_REGISTRY": None}


def context_of(args: list[str], env: dict[str, str | None] | None = None, monkeypatch=None) -> Context:
    """The Context the `gitdeploy` group builds from `args` (and the environment), as commands get it."""
    for name, value in {**UNSET, **(env or {})}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with cli.make_context("gitdeploy", [*args, "status"]) as ctx:
        ctx.invoke(cli.callback, **ctx.params)
        return ctx.obj


def test_the_global_options_and_their_variables_reach_the_context(tmp_path, monkeypatch):
    base = ["--data-dir", str(tmp_path)]
    default = context_of(base, monkeypatch=monkeypatch)
    assert (default.engine_kind, default.registry) == ("docker", None)
    given = context_of([*base, "--engine", "swarm", "--registry", "10.99.0.1:5000/team/"], monkeypatch=monkeypatch)
    assert (given.engine_kind, given.registry) == ("swarm", "10.99.0.1:5000/team")
    from_env = context_of(base, {"GITDEPLOY_ENGINE": "swarm", "GITDEPLOY_REGISTRY": "reg.example:5000"},
                          monkeypatch=monkeypatch)
    assert (from_env.engine_kind, from_env.registry) == ("swarm", "reg.example:5000")
    option_wins = context_of([*base, "--engine", "docker"], {"GITDEPLOY_ENGINE": "swarm"}, monkeypatch=monkeypatch)
    assert option_wins.engine_kind == "docker"


@pytest.mark.parametrize(("args", "env", "said"), [
    (["--registry", "http://reg:5000"], {}, "Invalid value for '--registry': registry 'http://reg:5000' is not "
                                            "HOST[:PORT][/PREFIX]; for example --registry"),
    ([], {"GITDEPLOY_REGISTRY": "reg:5000/UPPER"}, "registry 'reg:5000/UPPER' is not HOST[:PORT][/PREFIX]"),
    (["--engine", "nomad"], {}, "Invalid value for '--engine': 'nomad' is not one of 'docker', 'swarm'"),
    ([], {"GITDEPLOY_ENGINE": "kubernetes"}, "'kubernetes' is not one of 'docker', 'swarm'"),
])
def test_bad_engine_or_registry_is_a_usage_error(tmp_path, args, env, said):
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), *args, "validate"], env={**UNSET, **env})
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output


def test_validate_judges_the_spec_for_the_global_engine(tmp_path):
    root = tmp_path / "repo"
    write_repo(root, PLACED)
    commit_repo(root)
    base = ["--repo", str(root), "--data-dir", str(tmp_path / "data")]
    run = CliRunner().invoke

    refused = run(cli, [*base, "validate"], env=UNSET)
    assert refused.exit_code == 2
    assert "gitdeploy.yaml:5:5: placement is honoured only by the swarm engine" in refused.output
    accepted = run(cli, [*base, "--engine", "swarm", "validate", "--json"], env=UNSET)
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(accepted.output) | {"commit": None} == {
        "valid": True, "engine": "swarm", "system": "s", "services": 1, "commit": None}
    from_env = run(cli, [*base, "validate"], env={**UNSET, "GITDEPLOY_ENGINE": "swarm"})
    assert from_env.exit_code == 0 and "valid for the swarm engine" in from_env.output
    local_wins = run(cli, [*base, "--engine", "swarm", "validate", "--engine", "docker"], env=UNSET)
    assert local_wins.exit_code == 2 and "placement is honoured only by the swarm engine" in local_wins.output
    local_swarm = run(cli, [*base, "validate", "--engine", "swarm"], env=UNSET)
    assert local_swarm.exit_code == 0 and "valid for the swarm engine" in local_swarm.output
