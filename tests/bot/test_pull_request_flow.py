"""A pull request's whole life through the bot, against the real server, fake GitHub and engine:
plan on open, the same comment updated on push, refusals with reasons, /deploy before merge,
the merge push deploys, /rollback reverts the merge and deploys the revert."""

from __future__ import annotations

import pytest

from gitdeploy.live import labels
from gitdeploy.render.comments import plan_marker

from .conftest import REPO, comment_event, git, pr_event, push_event, svc

pytestmark = pytest.mark.docker
PR = 7


def containers(client, system: str) -> dict[str, str]:
    """service path -> commit label of the running containers."""
    out = {}
    for c in client.containers.list(filters={"label": f"{labels.SYSTEM}={system}"}):
        out[c.labels[labels.SERVICE]] = c.labels[labels.COMMIT]
    return out


def deployed(bot) -> str:
    """The commit the bot's mirror records as deployed (and verified) to production."""
    return git(bot.data / "mirrors" / REPO.split("/")[0] / (REPO.split("/")[1] + ".git"),
               "rev-parse", "refs/gitdeploy/production")


def statuses(fake, sha: str, context: str) -> list[tuple[str, str]]:
    with fake.state.lock:
        return [(s["state"], s["description"]) for s in fake.state.repo(REPO).statuses.get(sha, [])
                if s["context"] == context]


def move_head(fake, sha: str) -> None:
    with fake.state.lock:
        fake.state.repo(REPO).issues[PR]["head_sha"] = sha
    fake.state.associate_commit(REPO, sha, PR)


def reactions(fake, comment_id: int) -> list[str]:
    with fake.state.lock:
        return [r["content"] for r in fake.state.repo(REPO).comments[comment_id]["reactions"]]


def ask(bot, fake, text: str, user: str) -> tuple[str, list[str]]:
    """Comment `text` on the PR as `user`; returns the bot's reply and the reactions it left."""
    seeded = fake.state.add_comment(REPO, PR, text, user=user)
    bot.run("issue_comment", comment_event(PR, text, user, seeded["id"]))
    replies = [c["body"] for c in fake.state.comments(REPO, PR) if f"gitdeploy:reply:{seeded['id']}" in c["body"]]
    assert len(replies) == 1, fake.state.comments(REPO, PR)
    return replies[0], reactions(fake, seeded["id"])


def plan_comments(fake) -> list[dict]:
    return [c for c in fake.state.comments(REPO, PR) if c["body"].startswith(plan_marker("production"))]


def test_pull_request_lifecycle(bot, origin, fake_github, docker_client, base_image, system_name):
    fake = fake_github
    fake.state.set_permission(REPO, "octocat", "write")
    fake.state.set_permission(REPO, "mallory", "read")
    fake.state.set_permission(REPO, "hubot", "write")  # reviews count from write access or more
    base = origin.commit("main", {"system": system_name, "services": {"app": svc()}}, "v1")
    head1 = origin.commit("feature", {"system": system_name, "services": {"app": svc(), "worker": svc()}}, "add worker")
    fake.state.add_pull(REPO, PR, head_sha=head1, head_ref="feature", base_ref="main", user="octocat", title="Worker")

    # PR opened -> one plan comment, status success with the summary
    [job] = bot.run("pull_request", pr_event("opened", PR, head1))
    assert job.state == "done", job.result
    [comment] = plan_comments(fake)
    body = comment["body"]
    assert f"Head: `{head1}`" in body
    assert "2 to create" in body, body
    assert "| + | `app` | **create** | 0 → 1 |" in body and "| + | `worker` | **create** | 0 → 1 |" in body
    assert statuses(fake, head1, "gitdeploy/plan")[-1] == ("success", "production: 2 to create")

    # a second push -> the same comment, edited in place
    head2 = origin.commit("feature", {"system": system_name,
                                      "services": {"app": svc(), "worker": svc(replicas=2)}}, "two workers")
    move_head(fake, head2)
    bot.run("pull_request", pr_event("synchronize", PR, head2))
    [again] = plan_comments(fake)
    assert again["id"] == comment["id"]
    assert f"Head: `{head2}`" in again["body"] and head1 not in again["body"]
    assert "| + | `worker` | **create** | 0 → 2 |" in again["body"]

    # /deploy without write permission: refused with the reason, nothing deployed
    reply, reacted = ask(bot, fake, "/deploy", "mallory")
    assert "refused" in reply and "`read` permission" in reply and "`write` or more is required" in reply
    assert "not approved" in reply  # every reason is listed
    assert reacted == ["eyes", "-1"]
    assert containers(docker_client, system_name) == {}

    # the head moved without a new plan: /deploy is refused as stale, even when approved
    head3 = origin.commit("feature", {"system": system_name,
                                      "services": {"app": svc(), "worker": svc(replicas=1)}}, "one worker")
    move_head(fake, head3)
    fake.state.add_review(REPO, PR, "hubot", "APPROVED", commit_id=head3)
    reply, reacted = ask(bot, fake, "/deploy", "octocat")
    assert "plan is stale" in reply and head2[:12] in reply and head3[:12] in reply, reply
    assert reacted == ["eyes", "-1"]
    assert containers(docker_client, system_name) == {}

    # /plan, then /deploy: approved, mergeable, write, current plan -> deployed before merge
    reply, reacted = ask(bot, fake, "/plan", "octocat")
    assert reacted == ["eyes", "+1"] and head3[:12] in reply
    assert f"Head: `{head3}`" in plan_comments(fake)[0]["body"]
    reply, reacted = ask(bot, fake, "/deploy", "octocat")
    assert reacted == ["eyes", "+1"], reply
    assert "Deploying" in reply
    bot.wait_idle()
    assert containers(docker_client, system_name) == {"app": head3, "worker": head3}
    results = [c["body"] for c in fake.state.comments(REPO, PR) if "gitdeploy deploy to `production`" in c["body"]]
    assert len(results) == 1 and "✅" in results[0] and "(comment by octocat)" in results[0]

    # the merge is pushed to main -> deployed at the merge commit, statuses, deployment, PR comment
    merge = origin.merge("feature", PR)
    with fake.state.lock:
        fake.state.repo(REPO).issues[PR].update(state="closed", merged=True, merge_commit_sha=merge)
    fake.state.associate_commit(REPO, merge, PR)
    [job] = bot.run("push", push_event("main", base, merge))
    assert job.state == "done", job.result
    # same tree as the deployed head: nothing is replaced, the merge is recorded as deployed
    assert containers(docker_client, system_name) == {"app": head3, "worker": head3}
    assert deployed(bot) == merge
    assert [s for s, _ in statuses(fake, merge, "gitdeploy/deploy")] == ["pending", "success"]
    with fake.state.lock:
        deps = [d for d in fake.state.repo(REPO).deployments.values() if d["sha"] == merge]
        assert len(deps) == 1 and deps[0]["environment"] == "production"
        assert [s["state"] for s in deps[0]["statuses"]] == ["in_progress", "success"]
    merged_result = [c["body"] for c in fake.state.comments(REPO, PR) if f"Commit: `{merge}`" in c["body"]]
    assert len(merged_result) == 1 and "✅" in merged_result[0] and "(push by Codertocat)" in merged_result[0]

    # /rollback on the merged PR: a revert commit on main, pushed to the origin and deployed
    reply, reacted = ask(bot, fake, "/rollback", "octocat")
    assert reacted == ["eyes", "+1"], reply
    bot.wait_idle()
    revert = origin.head("main")
    assert revert != merge and revert[:12] in reply
    assert set(containers(docker_client, system_name)) == {"app"}  # the worker is gone again
    assert deployed(bot) == revert
    assert git(origin.bare, "show", "-s", "--format=%s", revert) == f"Revert #{PR}: Worker"
