"""Environments on the PR: `/plan ENV` and `/deploy ENV` for an environment other than the base's,
each a section of the PR's one plan comment, each under its own deploy policy."""

from __future__ import annotations

import pytest

from gitdeploy.live import labels
from gitdeploy.render.comments import plan_marker

from .conftest import REPO, Bot, comment_event, pr_event, svc

pytestmark = pytest.mark.docker
PR = 60
STAGING = ("environments: {production: {branch: main},"
           " staging: {branch: staging, deploy: {permissions: {min_permission: triage},"
           " requirements: {approved: false}}}}\n")


@pytest.fixture
def two_envs(tmp_path, fake_github, origin):
    fake_github.state.add_repo(REPO, default_branch="main")
    server = Bot(tmp_path, fake_github, origin)
    text = server.config.read_text().replace("environments: {production: {branch: main}}\n", STAGING)
    server.config.write_text(text)
    server.start()
    yield server
    server.stop()


def say(bot, fake, text: str, user: str) -> str:
    seeded = fake.state.add_comment(REPO, PR, text, user=user)
    [job] = bot.run("issue_comment", comment_event(PR, text, user, seeded["id"]))
    assert job.state == "done", job.result
    bot.wait_idle()
    [reply] = [c["body"] for c in fake.state.comments(REPO, PR) if f"gitdeploy:reply:{seeded['id']}" in c["body"]]
    return reply


def test_plan_and_deploy_another_environment_from_the_pr(two_envs, origin, fake_github, docker_client, system_name):
    bot, fake = two_envs, fake_github
    fake.state.set_permission(REPO, "tina", "triage")
    origin.commit("main", {"system": system_name, "services": {"app": svc()}}, "v1")
    head = origin.commit("feature", {"system": system_name, "services": {"app": svc(), "w": svc()}}, "w")
    fake.state.add_pull(REPO, PR, head_sha=head, head_ref="feature", base_ref="main")

    bot.run("pull_request", pr_event("opened", PR, head))
    assert "unknown environment `nowhere`" in say(bot, fake, "/plan nowhere", "tina")
    reply = say(bot, fake, "/plan staging", "tina")
    assert "`staging` at" in reply and "`production`" not in reply, reply
    [comment] = [c for c in fake.state.comments(REPO, PR) if c["body"].startswith(plan_marker())]
    body = comment["body"]
    assert body.index("plan for `production`") < body.index("plan for `staging`"), body  # one section each
    assert body.count(f"Head: `{head}`") == 2

    # staging's own policy: triage may deploy there without approval; production still refuses
    refused = say(bot, fake, "/deploy", "tina")
    assert "`triage` permission" in refused and "not approved" in refused, refused
    assert "Deploying" in say(bot, fake, "/deploy staging", "tina")
    running = docker_client.containers.list(filters={"label": f"{labels.SYSTEM}={system_name}"})
    assert sorted(c.labels[labels.SERVICE] for c in running) == ["app", "w"]
    assert {c.labels.get(labels.ENV) for c in running} == {"staging"}

    [job] = bot.run("pull_request", pr_event("closed", PR, head))
    assert "plans of production, staging released" in job.result, job.result
