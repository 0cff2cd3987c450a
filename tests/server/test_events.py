"""Webhook -> jobs, against GitHub's own example payloads."""

from __future__ import annotations

import pytest

from gitdeploy.github.events import jobs_for_event

from .conftest import payload

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened"])
def test_pull_request_activity_plans_the_environment_of_its_base(config, action):
    (job,) = jobs_for_event("pull_request", payload(f"pull_request/{action}"), config)
    assert (job.kind, job.environment) == ("plan", "production")
    assert job.payload == {"repo": "Codertocat/Hello-World", "pr": 2, "head_sha": SHA, "base_ref": "master",
                           "action": action, "draft": False, "fork": False, "environment": "production",
                           "installation": 1}
    assert job.dedup_key == "plan:Codertocat/Hello-World#2:production"


def test_ready_for_review_plans(config):
    p = payload("pull_request/opened")
    p["action"] = "ready_for_review"
    assert [j.kind for j in jobs_for_event("pull_request", p, config)] == ["plan"]


def test_a_pr_against_a_branch_without_environment_is_not_planned(config):
    p = payload("pull_request/opened")
    p["pull_request"]["base"]["ref"] = "feature"
    assert jobs_for_event("pull_request", p, config) == []


def test_closed_unmerged_releases_and_merged_does_nothing(config):
    closed = payload("pull_request/closed")
    assert closed["pull_request"]["merged"] is False
    (job,) = jobs_for_event("pull_request", closed, config)
    assert (job.kind, job.environment, job.payload["pr"]) == ("release", "production", 2)
    closed["pull_request"]["merged"] = True
    assert jobs_for_event("pull_request", closed, config) == []


def test_other_pull_request_actions_are_ignored(config):
    p = payload("pull_request/opened")
    p["action"] = "labeled"
    assert jobs_for_event("pull_request", p, config) == []


def test_push_to_an_environment_branch_deploys(config):
    p = payload("push/with-new-branch")
    (job,) = jobs_for_event("push", p, config)
    assert (job.kind, job.environment, job.key()) == ("deploy", "production", "deploy:production")
    assert job.payload["sha"] == p["after"] == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert job.payload["pusher"] == "Codertocat"
    assert job.payload["message"] == "Initial commit"


def test_pushes_that_deploy_nothing(config):
    assert jobs_for_event("push", payload("push/tag"), config) == []  # a tag
    p = payload("push/with-new-branch")
    p["ref"] = "refs/heads/feature"
    assert jobs_for_event("push", p, config) == []
    p = payload("push/with-new-branch")
    p.update(deleted=True, after="0" * 40)
    assert jobs_for_event("push", p, config) == []


def test_two_environments_on_one_branch_both_deploy(config):
    from dataclasses import replace

    from gitdeploy.server.config import Environment

    config = replace(config, environments=(Environment("a", "master"), Environment("b", "master")))
    assert [j.environment for j in jobs_for_event("push", payload("push/with-new-branch"), config)] == ["a", "b"]


def pr_comment(body: str, login: str = "Codertocat", user_type: str = "User") -> dict:
    p = payload("issue_comment/created")
    p["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    p["comment"]["body"] = body
    p["comment"]["user"]["login"] = login
    p["comment"]["user"]["type"] = user_type
    p["sender"]["login"] = login
    p["sender"]["type"] = user_type
    return p


def test_a_slash_comment_on_a_pr_is_a_command(config):
    (job,) = jobs_for_event("issue_comment", pr_comment("/deploy production --now\nplease"), config)
    assert job.kind == "command" and job.environment is None
    assert job.payload == {"repo": "Codertocat/Hello-World", "pr": 1, "command": "deploy",
                           "args": ["production", "--now"], "author": "Codertocat",
                           "author_association": "OWNER", "comment_id": 492700400}


@pytest.mark.parametrize("name", ["issue_comment/created", "issue_comment/created.with-organization"])
def test_comments_on_plain_issues_are_ignored(config, name):
    p = payload(name)
    p["comment"]["body"] = "/deploy"
    assert "pull_request" not in p["issue"]
    assert jobs_for_event("issue_comment", p, config) == []


def test_comments_that_are_not_commands_or_come_from_bots_are_ignored(config):
    assert jobs_for_event("issue_comment", pr_comment("You are totally right!"), config) == []
    assert jobs_for_event("issue_comment", pr_comment("/ plan"), config) == []
    assert jobs_for_event("issue_comment", pr_comment("/plan", login="gitdeploy[bot]"), config) == []
    assert jobs_for_event("issue_comment", pr_comment("/plan", login="GitDeploy[BOT]"), config) == []
    assert jobs_for_event("issue_comment", pr_comment("/plan", login="renovate", user_type="Bot"), config) == []
    edited = pr_comment("/plan")
    edited["action"] = "edited"
    assert jobs_for_event("issue_comment", edited, config) == []


def test_ping_review_and_unknown_events_do_nothing(config):
    assert jobs_for_event("ping", payload("ping/created"), config) == []
    assert jobs_for_event("pull_request_review", payload("pull_request_review/submitted"), config) == []
    assert jobs_for_event("star", {"repository": {"full_name": "Codertocat/Hello-World"}}, config) == []


def test_repositories_outside_the_allow_list_are_ignored(config, caplog):
    p = payload("push/with-new-branch")
    p["repository"]["full_name"] = "evil/fork"
    assert jobs_for_event("push", p, config) == []
    assert "evil/fork" in caplog.text
    p["repository"]["full_name"] = "codertocat/hello-world"  # GitHub names are case-insensitive
    assert len(jobs_for_event("push", p, config)) == 1
