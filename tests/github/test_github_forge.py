"""GitHubForge through real PyGithub against the fake GitHub on 127.0.0.1 (pace=False)."""

from __future__ import annotations

import time

import pytest
import requests

from gitdeploy.errors import GitdeployError
from gitdeploy.github.forge import GitHubForge, PullInfo, ReviewInfo, part_header
from gitdeploy.render.markdown import split_markdown
from tests.fakegithub import FakeGitHub
from tests.fixtures import webhook

from .conftest import REPO

HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # PR #2's head in the opened payload
PLAN = "<!-- gitdeploy:plan -->"


def writes(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in fake.calls if c.method != "GET"]


def test_pull_reads_the_seeded_payload(forge: GitHubForge) -> None:
    assert forge.pull(2) == PullInfo(
        number=2,
        head_sha=HEAD,
        head_ref="changes",
        base_ref="master",
        state="open",
        merged=False,
        mergeable=True,
        author="Codertocat",
        title="Update the README with new information.",
        mergeable_state="clean",
        head_repo=REPO,
        base_repo=REPO,
    )


def test_bot_login_is_read_once(forge: GitHubForge, seeded: FakeGitHub) -> None:
    assert forge.bot_login() == "deploy-bot"
    assert forge.bot_login() == "deploy-bot"
    assert len(seeded.state.calls_to("GET", "/user")) == 1


def test_upsert_creates_once_then_edits_in_place(forge: GitHubForge, seeded: FakeGitHub) -> None:
    first = forge.upsert_marked_comment(2, PLAN, ["plan v1"])
    second = forge.upsert_marked_comment(2, PLAN, ["plan v2"])
    third = forge.upsert_marked_comment(2, PLAN, ["plan v2"])  # unchanged: no write at all

    comments = seeded.state.comments(REPO, 2)
    assert [c["body"] for c in comments] == [f"{PLAN}\nplan v2"]
    assert first == second == third
    assert first[0].url.endswith(f"/Codertocat/Hello-World/issues/2#issuecomment-{first[0].id}")
    assert writes(seeded) == [
        ("POST", f"/repos/{REPO}/issues/2/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/{first[0].id}"),
    ]
    assert seeded.state.calls_to("PATCH")[0].body == {"body": f"{PLAN}\nplan v2"}


def test_upsert_leaves_other_peoples_and_other_markers_alone(forge: GitHubForge, seeded: FakeGitHub) -> None:
    seeded.state.add_comment(REPO, 2, f"{PLAN}\nquoted by a human", user="Codertocat")
    seeded.state.add_comment(REPO, 2, "<!-- gitdeploy:apply -->\napplied", user="deploy-bot")
    forge.upsert_marked_comment(2, PLAN, ["mine"])
    bodies = [c["body"] for c in seeded.state.comments(REPO, 2)]
    assert bodies == [f"{PLAN}\nquoted by a human", "<!-- gitdeploy:apply -->\napplied", f"{PLAN}\nmine"]


def test_upsert_split_comment_grows_and_shrinks(forge: GitHubForge, seeded: FakeGitHub) -> None:
    long_plan = "```diff\n" + "".join(f"+ service web-{i}: image changed\n" for i in range(6000)) + "```\n"
    parts = split_markdown(long_plan, reserve=len(PLAN) + 32)
    assert len(parts) >= 3
    refs = forge.upsert_marked_comment(2, PLAN, parts)

    comments = seeded.state.comments(REPO, 2)
    assert [c["id"] for c in comments] == [r.id for r in refs]
    for i, (c, part) in enumerate(zip(comments, parts, strict=True), 1):
        assert c["body"] == part_header(PLAN, i, len(parts)) + part
        assert len(c["body"]) <= 65536
        assert c["body"].count("```") % 2 == 0

    # The plan shrinks to one part: the first comment is edited, the others deleted.
    seeded.state.clear_calls()
    again = forge.upsert_marked_comment(2, PLAN, ["small now"])
    assert again == [refs[0]]
    assert [c["body"] for c in seeded.state.comments(REPO, 2)] == [f"{PLAN}\nsmall now"]
    deleted = [c.path for c in seeded.state.calls_to("DELETE")]
    assert deleted == [f"/repos/{REPO}/issues/comments/{r.id}" for r in refs[1:]]


def test_upsert_deletes_duplicates(forge: GitHubForge, seeded: FakeGitHub) -> None:
    a = seeded.state.add_comment(REPO, 2, f"{PLAN}\nold", user="deploy-bot")
    b = seeded.state.add_comment(REPO, 2, f"{PLAN}\nold twin", user="deploy-bot")
    refs = forge.upsert_marked_comment(2, PLAN, ["new"])
    assert refs[0].id == a["id"]
    assert [c["id"] for c in seeded.state.comments(REPO, 2)] == [a["id"]]
    assert seeded.state.calls_to("DELETE")[0].path.endswith(f"/comments/{b['id']}")


def test_upsert_pages_through_many_comments(forge: GitHubForge, seeded: FakeGitHub) -> None:
    for i in range(75):
        seeded.state.add_comment(REPO, 2, f"chatter {i}")
    forge.upsert_marked_comment(2, PLAN, ["v1"])
    forge.upsert_marked_comment(2, PLAN, ["v2"])
    assert [c["body"] for c in seeded.state.comments(REPO, 2)][-1] == f"{PLAN}\nv2"
    assert len(seeded.state.comments(REPO, 2)) == 76
    assert {c.query.get("page") for c in seeded.state.calls_to("GET", "/issues/2/comments")} == {
        None,
        "2",
        "3",
    }


def test_comment_and_react(forge: GitHubForge, seeded: FakeGitHub) -> None:
    ref = forge.comment(2, "deploying")
    forge.react(ref.id, "eyes")
    forge.react(ref.id, "eyes")  # GitHub answers 200 for a repeat; still one reaction
    forge.react(ref.id, "rocket")
    (comment,) = seeded.state.comments(REPO, 2)
    assert [r["content"] for r in comment["reactions"]] == ["eyes", "rocket"]
    statuses = [c.status for c in seeded.state.calls_to("POST", "/reactions")]
    assert statuses == [201, 200, 201]
    with pytest.raises(ValueError):
        forge.react(ref.id, "thumbsup")


def test_comment_too_long_is_refused_before_sending(forge: GitHubForge, seeded: FakeGitHub) -> None:
    with pytest.raises(ValueError, match="split it first"):
        forge.comment(2, "x" * 65537)
    assert seeded.calls == []


def test_status_truncates_description_and_combines(forge: GitHubForge, seeded: FakeGitHub) -> None:
    forge.set_status(HEAD, "gitdeploy/plan", "pending", "planning", target_url="http://127.0.0.1/plan/1")
    forge.set_status(HEAD, "gitdeploy/plan", "success", "3 changes: " + "web " * 100)
    (first, second) = seeded.state.calls_to("POST", "/statuses/")
    assert first.body == {
        "state": "pending",
        "description": "planning",
        "context": "gitdeploy/plan",
        "target_url": "http://127.0.0.1/plan/1",
    }
    assert len(second.body["description"]) == 140 and second.body["description"].endswith("…")
    assert second.status == 201

    combined = requests.get(
        f"{seeded.base_url}/repos/{REPO}/commits/{HEAD}/status", headers={"Authorization": "token test-token"}
    ).json()
    assert combined["state"] == "success"
    assert [s["context"] for s in combined["statuses"]] == ["gitdeploy/plan"]


def test_deployment_and_status(forge: GitHubForge, seeded: FakeGitHub) -> None:
    forge.set_status(HEAD, "ci", "failure", "red")  # ignored: gitdeploy sends required_contexts=[]
    dep_id = forge.create_deployment(HEAD, "production", "deploy web", payload={"plan": "abc"})
    forge.deployment_status(dep_id, "in_progress", "rolling out")
    forge.deployment_status(dep_id, "success", "healthy", environment_url="http://127.0.0.1:8080/")

    create = seeded.state.calls_to("POST", "/deployments")[0]
    assert create.status == 201
    assert create.body["required_contexts"] == [] and create.body["auto_merge"] is False
    assert create.body["environment"] == "production" and create.body["ref"] == HEAD
    dep = seeded.state.repo(REPO).deployments[dep_id]
    assert [s["state"] for s in dep["statuses"]] == ["in_progress", "success"]
    assert dep["statuses"][-1]["environment_url"] == "http://127.0.0.1:8080/"


def test_deployment_to_unknown_ref_is_a_clean_error(forge: GitHubForge) -> None:
    with pytest.raises(GitdeployError) as err:
        forge.create_deployment("no-such-branch", "production", "x")
    assert "422" in err.value.message and "No ref found for: no-such-branch" in err.value.message


@pytest.mark.parametrize("role", ["admin", "maintain", "write", "triage", "read", "none"])
def test_permission(forge: GitHubForge, seeded: FakeGitHub, role: str) -> None:
    seeded.state.set_permission(REPO, "alice", role)
    assert forge.permission("alice") == role


def test_permission_of_owner_and_stranger(forge: GitHubForge, seeded: FakeGitHub) -> None:
    seeded.state.user("mallory")
    assert forge.permission("Codertocat") == "admin"
    assert forge.permission("mallory") == "none"


def test_team_membership(forge: GitHubForge, seeded: FakeGitHub) -> None:
    seeded.state.add_team_member("acme/ops", "alice")
    seeded.state.add_team_member("acme/ops", "bob", state="pending")
    assert forge.team_member("acme/ops", "alice") is True
    assert forge.team_member("acme/ops", "bob") is False  # invited, not yet a member
    assert forge.team_member("acme/ops", "carol") is False  # GitHub's 404
    assert forge.team_member("acme/dev", "alice") is False
    paths = [c.path for c in seeded.calls if c.method == "GET" and "/teams/" in c.path]
    assert paths[0] == "/orgs/acme/teams/ops/memberships/alice"


def test_reviews_and_red_checks(forge: GitHubForge, seeded: FakeGitHub) -> None:
    seeded.state.add_review(REPO, 2, "alice", "APPROVED", commit_id="0" * 40)
    seeded.state.add_review(REPO, 2, "bob", "CHANGES_REQUESTED")
    seeded.state.add_review(REPO, 2, "carol", "PENDING")
    assert forge.reviews(2) == [ReviewInfo("alice", "APPROVED", "0" * 40),
                                ReviewInfo("bob", "CHANGES_REQUESTED", HEAD)]
    assert forge.red_checks(HEAD) == []
    forge.set_status(HEAD, "ci/test", "failure", "red")
    forge.set_status(HEAD, "ci/lint", "pending", "running")
    forge.set_status(HEAD, "ci/lint", "success", "ok")  # the latest status per context counts
    assert forge.red_checks(HEAD) == ["ci/test (failure)"]


def test_prs_for_commit(forge: GitHubForge, seeded: FakeGitHub) -> None:
    seeded.state.add_pull(REPO, 7, head_sha=HEAD, head_ref="other")
    assert forge.prs_for_commit(HEAD) == [2, 7]
    assert forge.prs_for_commit("f" * 40) == []


def test_merge(forge: GitHubForge, seeded: FakeGitHub) -> None:
    with pytest.raises(GitdeployError, match="moved past"):
        forge.merge(2, "0" * 40)
    sha = forge.merge(2, HEAD, "squash")
    assert len(sha) == 40 and forge.pull(2).merged
    with pytest.raises(GitdeployError, match="cannot be merged: Pull Request is not mergeable"):
        forge.merge(2, HEAD)


def test_issue_open_update_close(forge: GitHubForge, seeded: FakeGitHub) -> None:
    marker = "<!-- gitdeploy:drift:production -->"
    opened = forge.open_or_update_issue(marker, "Drift in production", "web: 1 container differs")
    assert opened.created
    same = forge.open_or_update_issue(marker, "Drift in production", "web: 1 container differs")
    updated = forge.open_or_update_issue(marker, "Drift in production", "web, db: 2 differ")
    assert (same.number, same.created) == (opened.number, False)
    assert updated.number == opened.number
    other = forge.open_or_update_issue("<!-- gitdeploy:drift:staging -->", "Drift in staging", "x")
    assert other.number != opened.number

    assert forge.close_issue(marker, comment="No drift any more.") == opened.number
    assert forge.close_issue(marker) is None  # nothing open any more
    issue = seeded.state.repo(REPO).issues[opened.number]
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert issue["body"] == f"{marker}\nweb, db: 2 differ" and issue["labels"] == ["gitdeploy"]
    assert [c["body"] for c in seeded.state.comments(REPO, opened.number)] == ["No drift any more."]
    edits = [c for c in seeded.state.calls_to("PATCH", f"/issues/{opened.number}")]
    assert len(edits) == 2  # one update (the unchanged call wrote nothing) and the close

    reopened = forge.open_or_update_issue(marker, "Drift in production", "again")
    assert reopened.created and reopened.number not in (opened.number, other.number)


def test_bad_token_is_a_clean_error(seeded: FakeGitHub) -> None:
    forge = GitHubForge("wrong-secret-token", REPO, base_url=seeded.base_url, pace=False, retry=0)
    with pytest.raises(GitdeployError) as err:
        forge.pull(2)
    text = str(err.value)
    assert "401 Bad credentials" in text and "reading pull request #2" in text
    assert "wrong-secret-token" not in text and "Traceback" not in text
    assert err.value.hint
    assert seeded.calls[-1].status == 401


def test_missing_token_or_bad_repo_name_is_a_clean_error() -> None:
    with pytest.raises(GitdeployError, match="no GitHub token"):
        GitHubForge("", REPO)
    with pytest.raises(GitdeployError, match="not a GitHub repository name"):
        GitHubForge("t", "just-a-name")


def test_not_found_is_a_clean_error(forge: GitHubForge, seeded: FakeGitHub) -> None:
    with pytest.raises(GitdeployError, match="404 Not Found while reading pull request #99"):
        forge.pull(99)
    missing = forge.for_repo("Codertocat/Nope")
    with pytest.raises(GitdeployError, match="404") as err:
        missing.comment(2, "hi")
    assert "Codertocat/Nope" in err.value.hint


def test_server_errors_and_unreachable_github(forge: GitHubForge, seeded: FakeGitHub) -> None:
    seeded.state.fail_next("POST", r"/statuses/", 502, {"message": "Server Error"})
    with pytest.raises(GitdeployError, match="GitHub answered 502 while setting status"):
        forge.set_status(HEAD, "gitdeploy/plan", "pending", "x")

    dead = GitHubForge("t", REPO, base_url="http://127.0.0.1:9/api/v3", pace=False, retry=0, timeout=2)
    with pytest.raises(GitdeployError, match="cannot reach GitHub at http://127.0.0.1:9/api/v3"):
        dead.pull(2)


def test_pace_true_keeps_pygithub_pacing(seeded: FakeGitHub) -> None:
    paced = GitHubForge(seeded.token, REPO, base_url=seeded.base_url)
    assert paced.requester._Requester__seconds_between_requests == 0.25
    assert paced.requester._Requester__seconds_between_writes == 1.0
    unpaced = GitHubForge(seeded.token, REPO, base_url=seeded.base_url, pace=False)
    assert unpaced.requester._Requester__seconds_between_requests == 0
    assert unpaced.requester._Requester__seconds_between_writes == 0

    # Two writes really are spaced by PyGithub (1 s), not by the fake.
    paced.comment(2, "one")
    start = time.monotonic()
    paced.comment(2, "two")
    assert 0.5 < time.monotonic() - start < 5


def test_other_payloads_seed_too(fake_github: FakeGitHub) -> None:
    closed = fake_github.state.add_pull_from_payload(webhook("pull_request/closed"))
    forge = GitHubForge(fake_github.token, REPO, base_url=fake_github.base_url, pace=False, retry=0)
    info = forge.pull(closed["number"])
    assert info.state == "closed" and info.mergeable is None
