"""Payload shapes (gitdeploy.github.payloads) and git names (gitdeploy.github.gitnames), without a server."""

from __future__ import annotations

import pytest

from gitdeploy.github.events import jobs_for_event
from gitdeploy.github.gitnames import is_branch, is_ref, is_sha
from gitdeploy.github.payloads import PayloadInvalid, check, parse
from tests.fixtures import webhook, webhook_names

EVIL = "--upload-pack=touch /tmp/gitdeploy-pwned"


@pytest.mark.parametrize("name", webhook_names())
def test_every_fixture_has_the_shape_the_bot_reads(name):
    check(name.split("/")[0], webhook(name))


def _set(body: dict, path: str, value: object) -> dict:
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    target[last] = value
    return body


WRONG = [
    ("push/with-new-branch", "repository", "acme/shop", "repository"),
    ("push/with-new-branch", "repository.full_name", 5, "repository.full_name"),
    ("push/with-new-branch", "repository.full_name", "a/b/c", "repository.full_name"),
    ("push/with-new-branch", "repository.full_name", "../..", "repository.full_name"),
    ("push/with-new-branch", "repository.full_name", "acme/..", "repository.full_name"),
    ("push/with-new-branch", "ref", 5, "ref"),
    ("push/with-new-branch", "ref", "refs/heads/" + EVIL, "ref"),
    ("push/with-new-branch", "ref", "refs/heads/a..b", "ref"),
    ("push/with-new-branch", "after", EVIL, "after"),
    ("push/with-new-branch", "after", "6113728F27AE82C7B1A177C8D03F9E96E0ADF246", "after"),
    ("push/with-new-branch", "after", "6113728", "after"),
    ("push/with-new-branch", "before", None, "before"),
    ("push/with-new-branch", "deleted", "no", "deleted"),
    ("push/with-new-branch", "pusher", "Codertocat", "pusher"),
    ("push/with-new-branch", "head_commit", [], "head_commit"),
    ("push/with-new-branch", "head_commit.message", {"a": 1}, "head_commit.message"),
    ("pull_request/opened", "pull_request", "x", "pull_request"),
    ("pull_request/opened", "pull_request.number", "2", "pull_request.number"),
    ("pull_request/opened", "pull_request.number", True, "pull_request.number"),
    ("pull_request/opened", "pull_request.number", 2**70, "pull_request.number"),
    ("pull_request/opened", "pull_request.head", None, "pull_request.head"),
    ("pull_request/opened", "pull_request.head.sha", EVIL, "pull_request.head.sha"),
    ("pull_request/opened", "pull_request.base.ref", "-x", "pull_request.base.ref"),
    ("pull_request/opened", "pull_request.base.ref", ["master"], "pull_request.base.ref"),
    ("pull_request/opened", "pull_request.draft", "yes", "pull_request.draft"),
    ("pull_request/opened", "action", 1, "action"),
    ("issue_comment/created.on-pull-request", "comment", "x", "comment"),
    ("issue_comment/created.on-pull-request", "comment.body", 5, "comment.body"),
    ("issue_comment/created.on-pull-request", "comment.body", "/" + "x" * 70_000, "comment.body"),
    ("issue_comment/created.on-pull-request", "comment.user", "octocat", "comment.user"),
    ("issue_comment/created.on-pull-request", "comment.user.login", None, "comment.user.login"),
    ("issue_comment/created.on-pull-request", "comment.user.login", "../../orgs/acme", "comment.user.login"),
    ("issue_comment/created.on-pull-request", "comment.user.login", "a?b", "comment.user.login"),
    ("issue_comment/created.on-pull-request", "sender.login", "x/y", "sender.login"),
    ("issue_comment/created.on-pull-request", "comment.id", "1", "comment.id"),
    ("issue_comment/created.on-pull-request", "issue.number", 1.5, "issue.number"),
    ("issue_comment/created.on-pull-request", "issue.pull_request", "yes", "issue.pull_request"),
    ("issue_comment/created.on-pull-request", "sender", [], "sender"),
    ("ping/created", "zen", 5, "zen"),
]


@pytest.mark.parametrize(("name", "path", "value", "reason"), WRONG)
def test_a_wrong_shape_names_its_field(name, path, value, reason):
    event = name.split("/")[0]
    body = _set(webhook(name), path, value)
    with pytest.raises(PayloadInvalid) as caught:
        check(event, body)
    assert caught.value.reason == reason, caught.value.message
    if event != "ping":  # the translator refuses it too: nothing reads an unchecked field
        with pytest.raises(PayloadInvalid):
            jobs_for_event(event, body, _config())


@pytest.mark.parametrize("missing", ["repository", "pull_request", "action"])
def test_a_missing_field_is_named(missing):
    body = webhook("pull_request/opened")
    del body[missing]
    with pytest.raises(PayloadInvalid) as caught:
        check("pull_request", body)
    assert caught.value.reason == missing and "is missing" in caught.value.message


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
    (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "too_deep"),
    (b"{", "not_json"),
    (b'{"number": NaN}', "not_json"),
    (b'{"number": Infinity}', "not_json"),
    (b'{"number": ' + b"9" * 5000 + b"}", "not_json"),
    (b"\xff\xfe{}", "not_json"),
])
def test_bodies_that_are_not_json(body, reason):
    with pytest.raises(PayloadInvalid) as caught:
        parse(body)
    assert caught.value.reason == reason


def test_non_objects_and_unknown_events():
    with pytest.raises(PayloadInvalid, match="not a JSON object"):
        check("push", [])
    check("star", {"repository": "anything"})  # not read, so not checked
    assert jobs_for_event("star", {"repository": "anything"}, _config()) == []


@pytest.mark.parametrize("value", ["6113728f27ae82c7b1a177c8d03f9e96e0adf246", "0" * 40])
def test_shas(value):
    assert is_sha(value)


@pytest.mark.parametrize("value", ["6113728", "G" * 40, "A" * 40, " " + "a" * 40, "a" * 41, EVIL, 5, None])
def test_not_shas(value):
    assert not is_sha(value)


@pytest.mark.parametrize("value", ["refs/heads/main", "refs/pull/3/head", "refs/heads/release/1.2",
                                   "refs/tags/v1.0", "refs/heads/feature_x-y"])
def test_refs(value):
    assert is_ref(value)


@pytest.mark.parametrize("value", [
    "main", "refs/heads/" + EVIL, "refs/heads/-x", "refs/heads/a..b", "refs/heads/a b", "refs/heads/a:b",
    "refs/heads/a~1", "refs/heads/a^", "refs/heads/a?", "refs/heads/a*", "refs/heads/a[", "refs/heads/a\\b",
    "refs/heads/x.lock", "refs/heads/.hidden", "refs/heads/a/", "refs//heads", "refs/heads/a.", "refs/heads/@{1}",
    "refs/heads/\x00", "refs/heads/\n", "refs/heads/" + "x" * 300, "", 5,
])
def test_not_refs(value):
    assert not is_ref(value)


def test_branches():
    assert is_branch("main") and is_branch("release/1.2")
    assert not is_branch("-main") and not is_branch(EVIL) and not is_branch("refs/heads/a..b")


def _config():
    from pathlib import Path

    from .conftest import make_config

    return make_config(Path("/nonexistent"))
