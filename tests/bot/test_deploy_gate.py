"""`/deploy` is refused for every reason branch protection would refuse a merge, each named in
the reply: through the real server, PyGithub and the fake GitHub (no plan is needed to be
refused, so no engine either)."""

from __future__ import annotations

import pytest

from .conftest import REPO, comment_event

HEAD = "d" * 40
OLD = "e" * 40
PR = 30


def ask_deploy(bot, fake, user: str = "octocat") -> str:
    seeded = fake.state.add_comment(REPO, PR, "/deploy", user=user)
    [job] = bot.run("issue_comment", comment_event(PR, "/deploy", user, seeded["id"]))
    assert job.state == "done", job.result
    [reply] = [c["body"] for c in fake.state.comments(REPO, PR) if f"gitdeploy:reply:{seeded['id']}" in c["body"]]
    return reply


def read_only_approver(fake) -> str:
    fake.state.set_permission(REPO, "mallory", "read")
    fake.state.add_review(REPO, PR, "mallory", "APPROVED")
    return "@mallory's approval does not count (`read` permission"


def changes_requested(fake) -> str:
    fake.state.add_review(REPO, PR, "hubot", "APPROVED")
    fake.state.set_permission(REPO, "carol", "maintain")
    fake.state.add_review(REPO, PR, "carol", "CHANGES_REQUESTED", commit_id=OLD)
    return "@carol requested changes"


def red_required_check(fake) -> str:
    fake.state.add_review(REPO, PR, "hubot", "APPROVED")
    fake.state.protect(REPO, "main", ["ci/test"])
    with fake.state.lock:
        fake.state.repo(REPO).statuses[HEAD] = [{"context": "ci/test", "state": "failure", "id": 1,
                                                 "sha": HEAD, "description": "3 tests failed", "target_url": None,
                                                 "creator": "ci", "created_at": "2026-01-01T00:00:00Z"}]
    return "(`blocked`: a required check or review is missing); `clean` is required\n- not green on the head: `ci/test (failure)`"


def draft(fake) -> str:
    fake.state.add_review(REPO, PR, "hubot", "APPROVED")
    with fake.state.lock:
        fake.state.repo(REPO).issues[PR]["draft"] = True
    return "the pull request is a draft"


def stale_approval(fake) -> str:
    fake.state.add_review(REPO, PR, "hubot", "APPROVED", commit_id=OLD)
    return f"@hubot approved an older commit `{OLD[:12]}`"


@pytest.mark.parametrize("seed", [read_only_approver, changes_requested, red_required_check, draft, stale_approval])
def test_each_refusal_reason_is_named(bot, fake_github, seed):
    fake = fake_github
    fake.state.set_permission(REPO, "octocat", "write")
    fake.state.set_permission(REPO, "hubot", "write")
    fake.state.add_pull(REPO, PR, head_sha=HEAD, head_ref="gate", base_ref="main")
    expected = seed(fake)
    reply = ask_deploy(bot, fake)
    assert "🚫 `/deploy` refused" in reply and expected in reply, reply
    assert fake.state.calls_to("POST", "/deployments") == []
    assert [j.kind for j in bot.jobs()] == ["command"]  # nothing was queued to deploy


def test_every_reason_at_once(bot, fake_github):
    fake = fake_github
    fake.state.set_permission(REPO, "mallory", "read")
    fake.state.add_pull(REPO, PR, head_sha=HEAD, head_ref="gate", base_ref="main", draft=True)
    changes_requested(fake)
    read_only_approver(fake)
    reply = ask_deploy(bot, fake, user="mallory")
    for part in ("`read` permission on this repository", "draft", "@carol requested changes",
                 "@mallory's approval does not count", "no plan for `production`"):
        assert part in reply, (part, reply)
