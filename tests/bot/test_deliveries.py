"""The bot's edges: an invalid spec, deliveries it must refuse or ignore, a closed PR, a crash."""

from __future__ import annotations

import time

import pytest
import requests

from gitdeploy.deploy import freeze
from gitdeploy.github.planstore import PlanStore, open_plans
from gitdeploy.render.comments import plan_marker

from .conftest import REPO, comment_event, pr_event, svc

pytestmark = pytest.mark.docker

BROKEN = """system: {system}
services:
  app:
    image: gitdeploy/busybox:1
    replicas: many
"""


def plan_statuses(fake, sha: str) -> list[tuple[str, str]]:
    with fake.state.lock:
        return [(s["state"], s["description"]) for s in fake.state.repo(REPO).statuses.get(sha, [])
                if s["context"] == "gitdeploy/plan"]


def test_invalid_spec_fails_the_status_and_lists_every_problem(bot, origin, fake_github, system_name):
    origin.commit("main", {"system": system_name, "services": {"app": svc()}}, "v1")
    head = origin.commit("broken", BROKEN.format(system=system_name), "oops")
    fake_github.state.add_pull(REPO, 3, head_sha=head, head_ref="broken", base_ref="main")
    [job] = bot.run("pull_request", pr_event("opened", 3, head, "broken"))
    assert job.state == "done", job.result
    state, description = plan_statuses(fake_github, head)[-1]
    assert state == "failure" and "gitdeploy.yaml:5:" in description, description
    [comment] = [c for c in fake_github.state.comments(REPO, 3) if c["body"].startswith(plan_marker("production"))]
    assert "The spec is invalid" in comment["body"] and "`gitdeploy.yaml:5:15`" in comment["body"], comment["body"]
    assert "Traceback" not in comment["body"]
    stored = PlanStore(bot.data).get(REPO, 3, "production")
    assert stored and not stored.ok and stored.head_sha == head
    # the dashboard lists the open PR's plan; closing the PR releases it
    assert [p["pr"] for p in open_plans(bot.data)] == [3]
    [job] = bot.run("pull_request", pr_event("closed", 3, head, "broken"))
    assert job.state == "done" and "released" in job.result
    assert open_plans(bot.data) == []


def test_refused_and_ignored_deliveries_queue_nothing(bot, fake_github):
    fake_github.state.add_pull(REPO, 4, head_ref="x", base_ref="main")
    # a wrong signature: 401, nothing accepted
    r = bot.deliver("pull_request", pr_event("opened", 4, "a" * 40), signature="sha256=" + "0" * 64)
    assert r.status_code == 401
    # a comment on a plain issue (the example payload as GitHub sends it)
    issue = fake_github.state.add_issue(REPO, "a bug")
    r = bot.deliver("issue_comment", comment_event(issue["number"], "/deploy", "octocat", 1, on_pr=False))
    assert r.status_code == 200 and r.json()["jobs"] == []
    # the bot's own comment, and any Bot account's
    for login, kind in (("gitdeploy[bot]", "User"), ("dependabot[bot]", "Bot")):
        r = bot.deliver("issue_comment", comment_event(4, "/deploy", login, 2, user_type=kind))
        assert r.status_code == 200 and r.json()["jobs"] == [], login
    assert bot.jobs() == []
    assert not any(requests.get(f"{bot.url}/healthz", timeout=5).json()["queue"].values())
    assert fake_github.state.calls_to() == []  # the bot said nothing to GitHub


def test_unknown_command_gets_the_help(bot, fake_github):
    fake_github.state.add_pull(REPO, 5, head_ref="y", base_ref="main")
    seeded = fake_github.state.add_comment(REPO, 5, "/shipit now", user="octocat")
    [job] = bot.run("issue_comment", comment_event(5, "/shipit now", "octocat", seeded["id"]))
    assert job.state == "done"
    [reply] = [c["body"] for c in fake_github.state.comments(REPO, 5) if "gitdeploy:reply" in c["body"]]
    assert "Unknown command `/shipit`" in reply and "`/deploy [ENV...]`" in reply and "`/rollback`" in reply
    with fake_github.state.lock:
        assert [r["content"] for r in fake_github.state.repo(REPO).comments[seeded["id"]]["reactions"]] == [
            "eyes", "confused"]


def test_kill_9_with_queued_plans_then_restart_plans_each_pr_exactly_once(bot, origin, fake_github, system_name):
    origin.commit("main", {"system": system_name, "services": {"app": svc()}}, "v1")
    heads = {}
    for n in range(10, 16):
        heads[n] = origin.commit(f"pr{n}", {"system": system_name, "services": {"app": svc(), f"s{n}": svc()}},
                                 f"pr {n}")
        fake_github.state.add_pull(REPO, n, head_sha=heads[n], head_ref=f"pr{n}", base_ref="main")
    ids = []
    for n, head in heads.items():
        r = bot.deliver("pull_request", pr_event("opened", n, head, f"pr{n}"))
        assert r.status_code == 202
        ids += r.json()["jobs"]
    time.sleep(0.2)
    bot.kill9()
    at_kill = {j.id: j.state for j in bot.jobs()}
    assert any(state in ("queued", "running") for state in at_kill.values()), at_kill  # the crash left work
    bot.start()
    jobs = bot.wait(ids, timeout=120)
    assert all(j.state == "done" for j in jobs), [(j.id, j.state, j.result) for j in jobs]
    assert all(j.attempts <= 2 for j in jobs)
    for n, head in heads.items():
        plans = [c for c in fake_github.state.comments(REPO, n) if c["body"].startswith(plan_marker("production"))]
        assert len(plans) == 1, (n, plans)  # a re-run edits the comment, never duplicates it
        assert f"Head: `{head}`" in plans[0]["body"] and "2 to create" in plans[0]["body"]
        assert plan_statuses(fake_github, head)[-1][0] == "success"


def test_freeze_and_unfreeze_from_a_comment(bot, fake_github):
    fake_github.state.set_permission(REPO, "octocat", "maintain")
    fake_github.state.add_pull(REPO, 6, head_ref="z", base_ref="main")

    def say(text: str, user: str = "octocat") -> str:
        seeded = fake_github.state.add_comment(REPO, 6, text, user=user)
        [job] = bot.run("issue_comment", comment_event(6, text, user, seeded["id"]))
        assert job.state == "done", job.result
        return [c["body"] for c in fake_github.state.comments(REPO, 6) if f"reply:{seeded['id']}" in c["body"]][0]

    assert "froze `production`: incident 42" in say("/freeze incident 42")
    brake = freeze.frozen(bot.data, "production")
    assert brake and brake.who == "octocat" and brake.reason == "incident 42"
    assert "`none` permission" in say("/unfreeze", user="stranger")  # not a collaborator
    assert freeze.frozen(bot.data, "production")
    assert "unfroze `production`" in say("/unfreeze")
    assert freeze.frozen(bot.data, "production") is None
