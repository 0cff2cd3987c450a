"""The pure parts of the bot: who may run commands, what /deploy needs, the repository URL config."""

from __future__ import annotations

import pytest

from gitdeploy.deploy.freeze import Brake
from gitdeploy.errors import GitdeployError, Problem
from gitdeploy.github.forge import ReviewInfo
from gitdeploy.github.planstore import StoredPlan
from gitdeploy.github.policy import PullGate, deploy_refusals, operator_refusals, pull_refusals
from gitdeploy.render.comments import invalid_comment, invalid_summary
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


def test_deploy_needs_a_current_plan_and_no_freeze():
    policy = DeployPolicy()
    ok = dict(env="production", head_sha=HEAD, plan=stored(), frozen=None)
    assert deploy_refusals(policy, **ok) == []
    assert "no plan" in deploy_refusals(policy, **{**ok, "plan": None})[0]
    stale = deploy_refusals(policy, **{**ok, "plan": stored("a" * 40)})[0]
    assert "stale" in stale and "a" * 12 in stale and HEAD[:12] in stale
    assert "failed" in deploy_refusals(policy, **{**ok, "plan": stored(ok=False)})[0]
    assert "frozen by ann" in deploy_refusals(policy, **{**ok, "frozen": Brake("ann", "release", 0)})[0]


def gate(*reviews: tuple[str, str] | tuple[str, str, str], **kw) -> PullGate:
    values = dict(head_sha=HEAD, draft=False, mergeable=True, mergeable_state="clean",
                  reviews=tuple(ReviewInfo(r[0], r[1], r[2] if len(r) > 2 else HEAD) for r in reviews),
                  permissions={"alice": "write", "bob": "admin", "carol": "maintain", "mallory": "read"})
    values.update(kw)
    return PullGate(**values)


@pytest.mark.parametrize(
    ("reviews", "approved"),
    [
        ([], False),
        ([("alice", "APPROVED")], True),
        ([("alice", "APPROVED"), ("bob", "CHANGES_REQUESTED")], False),
        ([("bob", "CHANGES_REQUESTED"), ("bob", "APPROVED"), ("alice", "COMMENTED")], True),
        ([("alice", "APPROVED"), ("alice", "COMMENTED")], True),
        ([("alice", "APPROVED"), ("alice", "DISMISSED")], False),
        ([("alice", "COMMENTED")], False),
        ([("mallory", "APPROVED")], False),  # read-only: does not count
        ([("alice", "APPROVED"), ("mallory", "CHANGES_REQUESTED")], True),  # neither does this
    ],
)
def test_approval_verdicts(reviews: list, approved: bool):
    assert (pull_refusals(DeployPolicy(), gate(*reviews)) == []) is approved


def test_each_pull_refusal_is_worded_and_listed_at_once():
    policy = DeployPolicy()
    [why] = pull_refusals(policy, gate(("mallory", "APPROVED")))
    assert why == (f"the pull request is not approved for its head `{HEAD[:12]}` by someone with write access "
                   "(@mallory's approval does not count (`read` permission; `write` or more counts))")
    [why] = pull_refusals(policy, gate(("alice", "APPROVED", "a" * 40)))
    assert "@alice approved an older commit `aaaaaaaaaaaa`" in why
    assert pull_refusals(policy, gate(("alice", "APPROVED"), ("carol", "CHANGES_REQUESTED", "a" * 40))) == [
        "@carol requested changes"]  # a standing request for changes, whatever commit it was on
    [why] = pull_refusals(policy, gate(("alice", "APPROVED"), draft=True, mergeable_state="draft"))
    assert "draft" in why
    blocked = pull_refusals(policy, gate(("alice", "APPROVED"), mergeable_state="blocked",
                                         red_checks=("ci/test (failure)",)))
    assert blocked == ["the pull request may not be merged as it is: GitHub blocks merging it (`blocked`: a "
                       "required check or review is missing); `clean` is required",
                       "not green on the head: `ci/test (failure)`"]
    assert "conflicts" in pull_refusals(policy, gate(("alice", "APPROVED"), mergeable=False))[0]
    assert "not worked out yet" in pull_refusals(policy, gate(("alice", "APPROVED"), mergeable=None))[0]
    unstable = gate(("alice", "APPROVED"), mergeable_state="unstable")
    assert "`unstable`" in pull_refusals(policy, unstable)[0]
    assert pull_refusals(DeployPolicy(mergeable_states=("clean", "unstable")), unstable) == []
    everything = pull_refusals(policy, gate(("bob", "CHANGES_REQUESTED"), draft=True, mergeable=False))
    assert len(everything) == 4, everything  # draft, changes requested, not approved, not mergeable
    relaxed = DeployPolicy(require_approved=False, require_mergeable=False)
    assert pull_refusals(relaxed, gate(mergeable=None, mergeable_state="blocked")) == []


def test_mergeable_states_are_configurable(tmp_path):
    path = tmp_path / "server.yaml"
    base = "data_dir: d\nwebhook_secret: s\nenvironments: {production: {branch: main}}\nrepositories: [a/b]\n"
    path.write_text(base)
    assert load_config(path, environ={}).deploy.mergeable_states == ("clean",)
    path.write_text(base + "deploy: {requirements: {mergeable_states: [clean, unstable, has_hooks]}}\n")
    assert load_config(path, environ={}).deploy.mergeable_states == ("clean", "unstable", "has_hooks")
    path.write_text(base + "deploy: {requirements: {mergeable_states: [blocked]}}\n")
    with pytest.raises(GitdeployError, match="'blocked' is not one of clean, unstable, has_hooks"):
        load_config(path, environ={})


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


def test_a_pr_from_another_repository_or_a_deleted_fork_is_a_fork(tmp_path):
    from gitdeploy.github.events import jobs_for_event
    from gitdeploy.server.config import Environment, ServerConfig
    from tests.fixtures import webhook

    config = ServerConfig(tmp_path, ("Codertocat/Hello-World",), (Environment("production", "master"),))
    body = webhook("pull_request/opened")
    [job] = jobs_for_event("pull_request", body, config)
    assert job.payload["fork"] is False
    body["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World"
    assert jobs_for_event("pull_request", body, config)[0].payload["fork"] is True
    body["pull_request"]["head"]["repo"] = None  # GitHub sends null once the fork is deleted
    assert jobs_for_event("pull_request", body, config)[0].payload["fork"] is True


def test_an_environment_may_have_its_own_deploy_policy(tmp_path):
    path = tmp_path / "server.yaml"
    path.write_text("data_dir: d\nwebhook_secret: s\nrepositories: [a/b]\n"
                    "deploy: {permissions: {min_permission: maintain}}\n"
                    "environments:\n  production: {branch: main}\n"
                    "  qa: {branch: qa, deploy: {permissions: {min_permission: triage}, requirements: {approved: false}}}\n")
    config = load_config(path, environ={})
    production, qa = config.environments
    assert config.policy(production) == DeployPolicy(min_permission="maintain")
    assert config.policy(qa) == DeployPolicy(min_permission="triage", require_approved=False)
    path.write_text(path.read_text().replace("min_permission: triage", "min_permission: boss"))
    with pytest.raises(GitdeployError, match="environments.qa.deploy.permissions.min_permission must be one of"):
        load_config(path, environ={})
