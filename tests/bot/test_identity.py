"""The bot recognizes its own comments and issues by the identity GitHub gives its token.

The fake attributes every comment and issue to the account of the token that wrote it (a user
account for a personal token, as on GitHub), so these fail when the bot assumes a name such as
`gitdeploy[bot]` instead of asking GitHub who it is.
"""

from __future__ import annotations

import uuid

import pytest

from gitdeploy.github.bot import Bot
from gitdeploy.github.notify import github_issue_notifier
from gitdeploy.heal.loop import DriftNotice
from gitdeploy.heal.model import Drift
from gitdeploy.render.comments import plan_marker
from gitdeploy.render.drift import issue_marker
from gitdeploy.server.config import Environment, GithubConfig, Secret, ServerConfig

from .conftest import REPO, comment_event, pr_event, svc

PR = 21


def plan_comments(fake, number: int = PR) -> list[dict]:
    return [c for c in fake.state.comments(REPO, number) if c["body"].startswith(plan_marker("production"))]


@pytest.mark.docker
def test_many_deliveries_leave_exactly_one_plan_comment_edited_in_place(bot, origin, fake_github, system_name):
    fake = fake_github
    fake.state.set_permission(REPO, "octocat", "write")
    origin.commit("main", {"system": system_name, "services": {"app": svc()}}, "v1")
    head1 = origin.commit("ident", {"system": system_name, "services": {"app": svc(), "a": svc()}}, "one")
    fake.state.add_pull(REPO, PR, head_sha=head1, head_ref="ident", base_ref="main", draft=True)

    opened = pr_event("opened", PR, head1, "ident")
    opened["pull_request"]["draft"] = True
    bot.run("pull_request", opened)
    [first] = plan_comments(fake)
    # GitHub redelivers: once with the same delivery id (deduplicated), once as a new delivery
    delivery = str(uuid.uuid4())
    for _ in range(2):
        r = bot.post("pull_request", opened, delivery)
        assert r.status_code in (200, 202), r.text
        bot.wait(r.json().get("jobs", []))
    bot.run("pull_request", opened)
    head2 = origin.commit("ident", {"system": system_name, "services": {"app": svc(), "b": svc()}}, "two")
    with fake.state.lock:
        fake.state.repo(REPO).issues[PR].update(head_sha=head2, draft=False)
    fake.state.associate_commit(REPO, head2, PR)
    bot.run("pull_request", pr_event("synchronize", PR, head2, "ident"))
    bot.run("pull_request", pr_event("ready_for_review", PR, head2, "ident"))
    bot.run("pull_request", pr_event("labeled", PR, head2, "ident"))
    seeded = fake.state.add_comment(REPO, PR, "/plan", user="octocat")
    [job] = bot.run("issue_comment", comment_event(PR, "/plan", "octocat", seeded["id"]))
    assert job.state == "done", job.result
    bot.wait_idle()

    [last] = plan_comments(fake)
    assert last["id"] == first["id"] and last["user"] == "deploy-bot"  # the token's account
    assert f"Head: `{head2}`" in last["body"] and "`b`" in last["body"], last["body"]
    posts = fake.state.calls_to("POST", f"/issues/{PR}/comments")
    plan_posts = [c for c in posts if c.body["body"].startswith(plan_marker("production"))]
    assert len(plan_posts) == 1, plan_posts
    assert fake.state.calls_to("PATCH", f"/issues/comments/{first['id']}")  # edited, not re-posted
    assert len(fake.state.calls_to("GET", "/user")) == 1  # asked once, then remembered
    # the /plan reply is one comment too, and the bot's own comments never run as commands
    replies = [c for c in fake.state.comments(REPO, PR) if f"gitdeploy:reply:{seeded['id']}" in c["body"]]
    assert len(replies) == 1 and replies[0]["user"] == "deploy-bot"


def notice(env: str, *services: str, commit: str = "c" * 40) -> DriftNotice:
    drifts = tuple(Drift(s, f"{s}-1", "id", "exited", "state", "running", "exited", "stopped by hand")
                   for s in services)
    return DriftNotice(env, "shop", commit, drifts, (), {s: 0.0 for s in services})


def test_one_drift_issue_per_environment_opened_updated_and_closed(tmp_path, fake_github):
    """The watcher's notifier through the bot's own forge (token mode, identity from GitHub)."""
    fake = fake_github
    fake.state.add_repo(REPO)
    config = ServerConfig(
        data_dir=tmp_path, repositories=(REPO,), environments=(Environment("production", "main"),),
        github=GithubConfig(Secret(fake.token), fake.base_url, pace=False))
    # someone quoted the marker in an issue of their own: never the bot's to edit or close
    fake.state.add_issue(REPO, "copy", f"{issue_marker('production')}\nquoted", labels=["gitdeploy", "drift"])
    notify = github_issue_notifier(Bot(config).issue_forge(REPO))

    def drift_issues(env: str) -> list[dict]:
        with fake.state.lock:
            return [dict(i) for i in fake.state.repo(REPO).issues.values()
                    if not i["is_pull"] and i["user"] == "deploy-bot"
                    and (i["body"] or "").startswith(issue_marker(env))]

    notify(notice("production", "web"))
    notify(notice("production", "web"))  # unchanged: nothing written
    notify(notice("production", "web", "db"))
    notify(notice("staging", "web"))
    [issue] = drift_issues("production")
    assert issue["state"] == "open" and "2 item(s)" in issue["title"], issue
    assert len(drift_issues("staging")) == 1
    assert len(fake.state.calls_to("PATCH", f"/issues/{issue['number']}")) == 1  # updated once
    notify(notice("production"))  # resolved
    [issue] = drift_issues("production")
    assert issue["state"] == "closed"
    assert [i["state"] for i in drift_issues("staging")] == ["open"]
    with fake.state.lock:
        quoted = [i for i in fake.state.repo(REPO).issues.values() if i["user"] == "octocat"]
    assert [i["state"] for i in quoted] == ["open"]
    notify(notice("production", "web"))  # drift again: a new issue (the closed one stays closed)
    assert [i["state"] for i in drift_issues("production")] == ["closed", "open"]
    assert len(fake.state.calls_to("GET", "/user")) == 1


def test_a_configured_bot_login_is_used_without_asking(tmp_path, fake_github):
    fake = fake_github
    fake.state.add_pull(REPO, 3)
    config = ServerConfig(
        data_dir=tmp_path, repositories=(REPO,), environments=(Environment("production", "main"),),
        bot_login="Deploy-Bot", github=GithubConfig(Secret(fake.token), fake.base_url, pace=False))
    forge = Bot(config).forge(REPO)
    forge.upsert_marked_comment(3, "<!-- m -->", ["one"])
    forge.upsert_marked_comment(3, "<!-- m -->", ["two"])  # logins compare case-insensitively
    assert [c["body"] for c in fake.state.comments(REPO, 3)] == ["<!-- m -->\ntwo"]
    assert fake.state.calls_to("GET", "/user") == []
