"""The fake GitHub itself: GitHub's status codes and JSON shapes, over plain HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.fakegithub import FakeGitHub

from .conftest import REPO

AUTH = {"Authorization": "token test-token"}
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def test_answers_with_and_without_the_api_v3_prefix(seeded: FakeGitHub) -> None:
    with_prefix = requests.get(f"{seeded.url}/api/v3/repos/{REPO}", headers=AUTH)
    without = requests.get(f"{seeded.url}/repos/{REPO}", headers=AUTH)
    assert with_prefix.status_code == without.status_code == 200
    assert with_prefix.json()["url"] == f"{seeded.url}/api/v3/repos/{REPO}"
    assert without.json()["url"] == f"{seeded.url}/repos/{REPO}"
    assert with_prefix.json()["default_branch"] == "master"
    assert [c.path for c in seeded.calls] == [f"/repos/{REPO}", f"/repos/{REPO}"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "Requires authentication"), ({"Authorization": "token nope"}, "Bad credentials")],
)
def test_401(seeded: FakeGitHub, headers: dict, message: str) -> None:
    r = requests.get(f"{seeded.base_url}/repos/{REPO}", headers=headers)
    assert r.status_code == 401
    assert r.json()["message"] == message and "documentation_url" in r.json()


def test_bearer_is_accepted(seeded: FakeGitHub) -> None:
    r = requests.get(f"{seeded.base_url}/user", headers={"Authorization": "Bearer test-token"})
    assert r.status_code == 200
    assert r.json()["login"] == "deploy-bot" and r.json()["type"] == "User"


def test_what_a_token_creates_is_its_accounts(seeded: FakeGitHub) -> None:
    """Comments, issues and reactions carry the login of the token that made them, as on GitHub."""
    seeded.state.add_token("hubot-token", "hubot")
    for token in ("test-token", "hubot-token"):
        h = {"Authorization": f"token {token}"}
        r = requests.post(f"{seeded.base_url}/repos/{REPO}/issues/2/comments", json={"body": "hi"}, headers=h)
        assert r.status_code == 201
        r = requests.post(f"{seeded.base_url}/repos/{REPO}/issues", json={"title": "t"}, headers=h)
        assert r.status_code == 201
    assert [c["user"] for c in seeded.state.comments(REPO, 2)] == ["deploy-bot", "hubot"]
    with seeded.state.lock:
        authors = [i["user"] for i in seeded.state.repo(REPO).issues.values() if not i["is_pull"]]
    assert authors == ["deploy-bot", "hubot"]
    with pytest.raises(ValueError, match="App"):
        seeded.state.add_token("t2", "gitdeploy[bot]")  # a personal token never acts as an App


@pytest.mark.parametrize(
    "path", [f"/repos/{REPO}/pulls/99", "/repos/nobody/nothing", f"/repos/{REPO}/no/such/route", "/"]
)
def test_404_shape(seeded: FakeGitHub, path: str) -> None:
    r = requests.get(seeded.base_url + path, headers=AUTH)
    assert r.status_code == 404
    assert r.json() == {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


def test_pull_request_shape(seeded: FakeGitHub) -> None:
    pr = requests.get(f"{seeded.base_url}/repos/{REPO}/pulls/2", headers=AUTH).json()
    for key in (
        "url",
        "id",
        "node_id",
        "html_url",
        "number",
        "state",
        "title",
        "body",
        "created_at",
        "merged",
    ):
        assert key in pr
    assert pr["user"]["login"] == "Codertocat" and pr["user"]["type"] == "User"
    assert pr["head"]["sha"] == HEAD and pr["head"]["ref"] == "changes" and pr["base"]["ref"] == "master"
    assert pr["created_at"].endswith("Z") and pr["mergeable_state"] == "clean"
    issue = requests.get(f"{seeded.base_url}/repos/{REPO}/issues/2", headers=AUTH).json()
    assert issue["pull_request"]["url"] == pr["url"]


def test_comment_lifecycle_and_limits(seeded: FakeGitHub) -> None:
    url = f"{seeded.base_url}/repos/{REPO}/issues/2/comments"
    created = requests.post(url, json={"body": "hi"}, headers=AUTH)
    assert created.status_code == 201 and created.headers["Location"] == created.json()["url"]
    too_long = requests.post(url, json={"body": "x" * 65537}, headers=AUTH)
    assert too_long.status_code == 422
    assert too_long.json()["message"] == "Validation Failed"
    assert too_long.json()["errors"][0]["message"] == "body is too long (maximum is 65536 characters)"
    assert requests.post(url, json={"body": "x" * 65536}, headers=AUTH).status_code == 201
    assert requests.post(url, json={}, headers=AUTH).status_code == 422
    comment = created.json()["url"]
    assert requests.patch(comment, json={"body": "edited"}, headers=AUTH).json()["body"] == "edited"
    assert requests.delete(comment, headers=AUTH).status_code == 204
    assert requests.get(comment, headers=AUTH).status_code == 404
    bad = requests.post(url, data="{not json", headers=AUTH)
    assert bad.status_code == 400 and bad.json()["message"] == "Problems parsing JSON"


def test_statuses_validate_and_combine(seeded: FakeGitHub) -> None:
    url = f"{seeded.base_url}/repos/{REPO}/statuses/{HEAD}"
    assert requests.post(url, json={"state": "nope"}, headers=AUTH).status_code == 422
    assert (
        requests.post(url, json={"state": "success", "description": "d" * 141}, headers=AUTH).status_code
        == 422
    )
    assert requests.post(f"{seeded.base_url}/repos/{REPO}/statuses/nosuch", json={"state": "success"},
                         headers=AUTH).status_code == 422  # fmt: skip
    requests.post(url, json={"state": "success", "context": "a"}, headers=AUTH)
    requests.post(url, json={"state": "pending", "context": "b"}, headers=AUTH)
    requests.post(url, json={"state": "success", "context": "b"}, headers=AUTH)
    combined = requests.get(f"{seeded.base_url}/repos/{REPO}/commits/{HEAD}/status", headers=AUTH).json()
    assert combined["state"] == "success" and combined["total_count"] == 2
    listed = requests.get(f"{seeded.base_url}/repos/{REPO}/commits/{HEAD}/statuses", headers=AUTH).json()
    assert [(s["context"], s["state"]) for s in listed] == [
        ("b", "success"),
        ("b", "pending"),
        ("a", "success"),
    ]
    requests.post(url, json={"state": "failure", "context": "a"}, headers=AUTH)
    combined = requests.get(f"{seeded.base_url}/repos/{REPO}/commits/{HEAD}/status", headers=AUTH).json()
    assert combined["state"] == "failure"


def test_merge_status_codes(seeded: FakeGitHub) -> None:
    seeded.state.add_pull(REPO, 5, mergeable=False)
    url = f"{seeded.base_url}/repos/{REPO}/pulls"
    assert requests.put(f"{url}/5/merge", json={}, headers=AUTH).status_code == 405
    assert requests.put(f"{url}/2/merge", json={"merge_method": "octopus"}, headers=AUTH).status_code == 422
    assert requests.put(f"{url}/2/merge", json={"sha": "0" * 40}, headers=AUTH).status_code == 409
    ok = requests.put(f"{url}/2/merge", json={"sha": HEAD}, headers=AUTH)
    assert ok.status_code == 200 and ok.json()["merged"] is True
    again = requests.put(f"{url}/2/merge", json={}, headers=AUTH)
    assert again.status_code == 405 and again.json()["message"] == "Pull Request is not mergeable"


def test_check_runs(seeded: FakeGitHub) -> None:
    url = f"{seeded.base_url}/repos/{REPO}/check-runs"
    refused = requests.post(url, json={"name": "plan", "head_sha": HEAD}, headers=AUTH)
    assert refused.status_code == 403  # a personal token: only an App writes check runs
    seeded.state.add_app(1, "ci", "unused")
    seeded.state.add_installation(2, 1, REPO)
    token, _ = seeded.state.issue_installation_token(2)
    app_auth = {"Authorization": f"token {token}"}
    assert requests.post(url, json={"name": "plan"}, headers=app_auth).status_code == 422
    run = requests.post(url, json={"name": "plan", "head_sha": HEAD, "status": "in_progress"}, headers=app_auth)
    assert run.status_code == 201 and run.json()["status"] == "in_progress"
    done = requests.patch(f"{url}/{run.json()['id']}", json={"conclusion": "success",
                          "output": {"title": "ok", "summary": "2 changes"}}, headers=app_auth)  # fmt: skip
    assert done.json()["status"] == "completed" and done.json()["conclusion"] == "success"
    assert done.json()["output"]["summary"] == "2 changes"
    assert requests.patch(f"{url}/{run.json()['id']}", json={"status": "completed", "conclusion": None},
                          headers=app_auth).status_code == 422  # fmt: skip
    note = {"path": "gitdeploy.yaml", "start_line": 5, "end_line": 5, "annotation_level": "failure", "message": "x"}
    for n, total in ((1, 1), (2, 3)):  # annotations accumulate over updates
        r = requests.patch(f"{url}/{run.json()['id']}", json={"output": {"title": "t", "summary": "s",
                           "annotations": [note] * n}}, headers=app_auth)  # fmt: skip
        assert r.status_code == 200 and r.json()["output"]["annotations_count"] == total
    listed = requests.get(f"{url}/{run.json()['id']}/annotations", headers=app_auth).json()
    assert len(listed) == 3 and listed[0]["start_line"] == 5
    bad = requests.patch(f"{url}/{run.json()['id']}", json={"output": {"title": "t", "summary": "s",
                         "annotations": [{**note, "annotation_level": "error"}]}}, headers=app_auth)  # fmt: skip
    assert bad.status_code == 422


def test_deployment_refused_while_statuses_fail(seeded: FakeGitHub) -> None:
    requests.post(f"{seeded.base_url}/repos/{REPO}/statuses/{HEAD}", json={"state": "failure", "context": "ci"},
                  headers=AUTH)  # fmt: skip
    url = f"{seeded.base_url}/repos/{REPO}/deployments"
    refused = requests.post(url, json={"ref": "changes"}, headers=AUTH)
    assert refused.status_code == 409
    assert refused.json()["message"] == "Conflict: Commit status checks failed for changes."
    created = requests.post(url, json={"ref": "changes", "required_contexts": [], "environment": "staging"},
                            headers=AUTH)  # fmt: skip
    assert created.status_code == 201 and created.json()["sha"] == HEAD
    assert created.json()["production_environment"] is False
    listed = requests.get(url, params={"environment": "staging"}, headers=AUTH).json()
    assert [d["id"] for d in listed] == [created.json()["id"]]


def test_pagination_link_header(seeded: FakeGitHub) -> None:
    for i in range(5):
        seeded.state.add_comment(REPO, 2, f"c{i}")
    r = requests.get(
        f"{seeded.base_url}/repos/{REPO}/issues/2/comments", params={"per_page": 2}, headers=AUTH
    )
    assert [c["body"] for c in r.json()] == ["c0", "c1"]
    assert 'rel="next"' in r.headers["Link"] and 'rel="last"' in r.headers["Link"]
    nxt = r.links["next"]["url"]
    assert [c["body"] for c in requests.get(nxt, headers=AUTH).json()] == ["c2", "c3"]


def test_issues_filter_by_state_and_labels(seeded: FakeGitHub) -> None:
    seeded.state.add_issue(REPO, "drift", labels=["gitdeploy"])
    seeded.state.add_issue(REPO, "old", labels=["gitdeploy"], state="closed")
    url = f"{seeded.base_url}/repos/{REPO}/issues"
    titles = [i["title"] for i in requests.get(url, params={"labels": "gitdeploy"}, headers=AUTH).json()]
    assert titles == ["drift"]
    everything = requests.get(url, params={"state": "all"}, headers=AUTH).json()
    assert len(everything) == 3 and any("pull_request" in i for i in everything)  # PRs are issues too


def test_recorded_calls_carry_query_body_and_time(seeded: FakeGitHub) -> None:
    requests.post(f"{seeded.base_url}/repos/{REPO}/issues/2/comments?x=1", json={"body": "b"}, headers=AUTH)
    (call,) = seeded.calls
    assert (call.method, call.path, call.query, call.body, call.status) == (
        "POST", f"/repos/{REPO}/issues/2/comments", {"x": "1"}, {"body": "b"}, 201,
    )  # fmt: skip
    assert call.time > 0
