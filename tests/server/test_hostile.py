"""Hostile input against the real server (`python -m webhook`, waitress, real HMAC).

Signed deliveries of the wrong shape are 400 with the field named, never 500, never a traceback
in the log, counted in /metrics by reason, and queue nothing.
"""

from __future__ import annotations

import json
import re
import urllib.parse

import requests

from tests.fixtures import webhook

from .conftest import sign

EVIL = "--upload-pack=touch /tmp/gitdeploy-pwned"


def _with(name: str, **changes) -> dict:
    body = webhook(name)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = body
        for key in parents:
            target = target[key]
        target[last] = value
    return body


HOSTILE = [  # (event, body, reason counted in /metrics)
    ("push", _with("push/with-new-branch", repository="acme/shop"), "repository"),
    ("push", _with("push/with-new-branch", ref=5), "ref"),
    ("push", _with("push/with-new-branch", after=EVIL), "after"),
    ("push", _with("push/with-new-branch", ref=f"refs/heads/{EVIL}"), "ref"),
    ("issue_comment", _with("issue_comment/created.on-pull-request", comment="x"), "comment"),
    ("issue_comment", _with("issue_comment/created.on-pull-request", issue__number="1"), "issue.number"),
    ("pull_request", _with("pull_request/opened", pull_request__head__sha=EVIL), "pull_request.head.sha"),
    ("pull_request", _with("pull_request/opened", pull_request__base=[]), "pull_request.base"),
    ("ping", _with("ping/created", zen={"a": 1}), "zen"),
    ("push", b"[" * 100_000 + b"]" * 100_000, "too_deep"),
    ("pull_request", b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "too_deep"),
    ("push", b'{"after": NaN}', "not_json"),
    ("push", b"[1, 2]", "not_object"),
]


def test_signed_deliveries_of_the_wrong_shape_are_400_and_counted(make_server):
    server = make_server(sleep=0)
    server.start()
    for n, (event, body, reason) in enumerate(HOSTILE):
        r = server.deliver(event, body, f"hostile-{n}")
        assert r.status_code == 400, (event, reason, r.status_code, r.text)
        assert r.json()["error"], r.text
        if reason not in ("too_deep", "not_json", "not_object"):
            assert reason in r.json()["error"]
    # GitHub's form encoding without a payload field
    raw = urllib.parse.urlencode({"nothing": "here"}).encode()
    r = requests.post(f"{server.url}/webhooks/github", data=raw, timeout=10, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": "form-1", "X-Hub-Signature-256": sign(raw),
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400, r.text
    # a made-up event name is not a new metric series per request
    assert server.deliver("x" * 40, {"repository": 5}, "odd-1").status_code == 200

    assert sum(server.stats().values()) == 0  # nothing queued
    metrics = requests.get(f"{server.url}/metrics", timeout=5).text
    for event, _, reason in HOSTILE:
        assert re.search(rf'gitdeploy_webhook_invalid_payloads_total\{{event="{event}",reason="{re.escape(reason)}"\}} [1-9]',
                         metrics), (event, reason)
    assert 'gitdeploy_webhook_invalid_payloads_total{event="push",reason="not_form"} 1.0' in metrics
    assert 'gitdeploy_webhook_deliveries_total{event="push",result="invalid"} 8.0' in metrics
    assert 'event="other",result="ignored"' in metrics and "x" * 40 not in metrics

    # the good ones still work after all that
    r = server.deliver("push", webhook("push/with-new-branch"), "good-1")
    assert r.status_code == 202, r.text
    server.wait_idle(done=1)
    server.stop()
    log = server.output()
    assert "Traceback" not in log and " 500 " not in log and EVIL not in log, log
    assert "refused delivery hostile-0 (event push): push: repository must be an object" in log


def test_a_valid_signature_does_not_make_a_deep_body_a_crash(make_server):
    """The 100,000-deep body, as form data too (GitHub's other content type)."""
    server = make_server(sleep=0)
    server.start()
    raw = urllib.parse.urlencode({"payload": "[" * 100_000 + "]" * 100_000}).encode()
    r = requests.post(f"{server.url}/webhooks/github", data=raw, timeout=10, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": "deep-form", "X-Hub-Signature-256": sign(raw),
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and json.loads(r.text)["error"] == "the JSON is nested too deeply"
    server.stop()
    assert "Traceback" not in server.output()
