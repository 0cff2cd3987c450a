"""The pure parts of the bot: who may run commands, what /deploy needs, the repository URL config."""

from __future__ import annotations

import pytest

from gitdeploy.deploy.freeze import Brake
from gitdeploy.errors import GitdeployError, Problem
from gitdeploy.forge.comments import invalid_comment, invalid_summary
from gitdeploy.forge.planstore import StoredPlan
from gitdeploy.forge.policy import deploy_refusals, operator_refusals
from gitdeploy.server.config import DeployPolicy, load_config

HEAD = "b" * 40


def stored(sha: str = HEAD, ok: bool = True) -> StoredPlan:
    return StoredPlan("acme/shop", 1, "production", sha, ok, "1 to create", "", {}, "", "", "open", 0.0)


def test_operators_need_the_permission_and_the_allow_list():
    policy = DeployPolicy()
    assert operator_refusals(policy, "octocat", "write") == []
    assert operator_refusals(policy, "octocat", "admin") == []
    [why] = operator_refusals(policy, "mallory", "triage")
    assert "`triage` permission" in why and "`write` or more" in why
    listed = DeployPolicy(users=("Octocat",))
    assert operator_refusals(listed, "octocat", "write") == []
    assert "allow-list" in operator_refusals(listed, "hubot", "admin")[0]
    teams = DeployPolicy(users=("octocat",), teams=("acme/ops",))
    [why] = operator_refusals(teams, "hubot", "admin")
    assert why == "@hubot is not in the deploy allow-list (`deploy.permissions.users`, team acme/ops)"
    assert operator_refusals(teams, "hubot", "admin", ["acme/ops"]) == []
    assert operator_refusals(teams, "hubot", "admin", ["acme/other"]) != []  # only the policy's teams count
    assert "permission" in operator_refusals(teams, "hubot", "read", ["acme/ops"])[0]  # a team is not a role


def test_deploy_needs_approval_mergeability_a_current_plan_and_no_freeze():
    policy = DeployPolicy()
    ok = dict(env="production", head_sha=HEAD, approved=True, mergeable=True, plan=stored(), frozen=None)
    assert deploy_refusals(policy, **ok) == []
    assert "not approved" in deploy_refusals(policy, **{**ok, "approved": False})[0]
    assert "not mergeable" in deploy_refusals(policy, **{**ok, "mergeable": False})[0]
    assert "not worked out yet" in deploy_refusals(policy, **{**ok, "mergeable": None})[0]
    assert "no plan" in deploy_refusals(policy, **{**ok, "plan": None})[0]
    stale = deploy_refusals(policy, **{**ok, "plan": stored("a" * 40)})[0]
    assert "stale" in stale and "a" * 12 in stale and HEAD[:12] in stale
    assert "failed" in deploy_refusals(policy, **{**ok, "plan": stored(ok=False)})[0]
    assert "frozen by ann" in deploy_refusals(policy, **{**ok, "frozen": Brake("ann", "release", 0)})[0]
    relaxed = DeployPolicy(require_approved=False, require_mergeable=False)
    assert deploy_refusals(relaxed, **{**ok, "approved": None, "mergeable": None}) == []


def test_invalid_spec_wording_lists_every_problem_at_its_location():
    problems = [Problem("unknown key 'imgae'", "gitdeploy.yaml", 4, 5, "did you mean 'image'?"),
                Problem("replicas must be an integer", "gitdeploy.yaml", 9, 15)]
    text = invalid_comment("production", HEAD, problems)
    assert f"Head: `{HEAD}`" in text and "(2 problems)" in text
    assert "- `gitdeploy.yaml:4:5`: unknown key 'imgae' (hint: did you mean 'image'?)" in text
    assert "- `gitdeploy.yaml:9:15`: replicas must be an integer" in text
    assert invalid_summary(problems) == "spec invalid (2 problems): gitdeploy.yaml:4:5: unknown key 'imgae'"


def test_repositories_may_name_their_clone_url(tmp_path):
    path = tmp_path / "server.yaml"
    path.write_text("data_dir: data\nwebhook_secret: s\nenvironments: {production: {branch: main}}\n"
                    "repositories: [acme/shop, {name: acme/web, url: /srv/git/web.git}]\n")
    config = load_config(path, environ={})
    assert config.repositories == ("acme/shop", "acme/web")
    assert config.repository_url("acme/web") == "/srv/git/web.git"
    assert config.repository_url("ACME/Shop") == "https://github.com/ACME/Shop.git"
    path.write_text("data_dir: data\nwebhook_secret: s\nenvironments: {production: {branch: main}}\n"
                    "repositories: [{url: /x.git, branch: main}]\n")
    with pytest.raises(GitdeployError) as exc:
        load_config(path, environ={})
    assert "unknown key 'branch'" in exc.value.message and "name is required" in exc.value.message
