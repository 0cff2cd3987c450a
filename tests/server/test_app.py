"""The webhook app through Flask's test client: signatures, limits, dedup, health, metrics."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import JobQueue
from webhook.app import create_app, signature_valid

from .conftest import SECRET, payload, sign


@pytest.fixture
def queue(config):
    q = JobQueue(config.data_dir / "queue.sqlite3")
    yield q
    q.close()


@pytest.fixture
def client(config, queue):
    return create_app(config, queue, Metrics()).test_client()


def post(client, event: str, body: bytes | dict, delivery: str = "d-1", signature: str | None = "auto", **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json", **headers}
    if signature == "auto":
        h["X-Hub-Signature-256"] = sign(raw)
    elif signature is not None:
        h["X-Hub-Signature-256"] = signature
    return client.post("/webhooks/github", data=raw, headers=h)


def test_signature_check():
    body = b'{"a": 1}'
    assert signature_valid(SECRET.encode(), body, sign(body))
    assert not signature_valid(SECRET.encode(), body, sign(body, "other"))
    assert not signature_valid(SECRET.encode(), body, None)
    assert not signature_valid(SECRET.encode(), body, "sha1=" + sign(body)[7:])


def test_a_signed_push_is_queued_with_202(client, queue):
    r = post(client, "push", payload("push/with-new-branch"))
    assert r.status_code == 202
    (job_id,) = r.json["jobs"]
    job = queue.get(job_id)
    assert (job.kind, job.environment, job.state, job.delivery_id) == ("deploy", "production", "queued", "d-1")


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage", sign(b"other body")])
def test_missing_or_wrong_signature_is_401_and_queues_nothing(client, queue, signature):
    r = post(client, "push", payload("push/with-new-branch"), signature=signature)
    assert r.status_code == 401
    assert queue.stats()["queued"] == 0 and queue.delivery_count() == 0


def test_a_replayed_delivery_is_processed_once(client, queue):
    first = post(client, "push", payload("push/with-new-branch"), delivery="same")
    again = post(client, "push", payload("push/with-new-branch"), delivery="same")
    assert first.status_code == 202
    assert again.status_code == 200 and again.json == {"duplicate": True, "delivery": "same", "jobs": first.json["jobs"]}
    assert queue.stats()["queued"] == 1


def test_ping(client, queue):
    r = post(client, "ping", payload("ping/created"))
    assert r.status_code == 200 and r.json == {"ok": True, "zen": "Anything added dilutes everything else."}
    assert queue.delivery_count() == 0


def test_ignored_events_are_recorded_but_queue_nothing(client, queue):
    r = post(client, "issue_comment", payload("issue_comment/created"))
    assert r.status_code == 200 and r.json["jobs"] == []
    assert queue.delivery_count() == 1 and queue.stats()["queued"] == 0


def test_too_large_is_413(config, queue):
    client = create_app(replace(config, max_body_bytes=100), queue, Metrics()).test_client()
    r = post(client, "push", payload("push/with-new-branch"))
    assert r.status_code == 413 and queue.delivery_count() == 0


def test_malformed_requests_are_400(client, queue):
    assert post(client, "push", b"{not json").status_code == 400
    assert post(client, "push", b"[1, 2]").status_code == 400
    assert post(client, "push", payload("push/with-new-branch"), delivery="").status_code == 400
    assert post(client, "", payload("push/with-new-branch")).status_code == 400
    assert queue.delivery_count() == 0


def test_form_encoded_payloads_are_accepted(client, queue):
    from urllib.parse import urlencode

    raw = urlencode({"payload": json.dumps(payload("push/with-new-branch"))}).encode()
    r = post(client, "push", raw, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 202


def test_insecure_mode_accepts_unsigned_deliveries(config, queue):
    from gitdeploy.server.config import Secret

    insecure = replace(config, webhook_secret=Secret(), insecure_no_secret=True)
    client = create_app(insecure, queue, Metrics()).test_client()
    assert post(client, "push", payload("push/with-new-branch"), signature=None).status_code == 202


def test_no_secret_without_insecure_refuses_to_build(config, queue):
    from gitdeploy.errors import GitdeployError
    from gitdeploy.server.config import Secret

    with pytest.raises(GitdeployError, match="refuses"):
        create_app(replace(config, webhook_secret=Secret()), queue, Metrics())


def test_healthz(client, queue, config):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["ok"] and r.json["queue"]["queued"] == 0
    queue.close()
    (config.data_dir / "queue.sqlite3").unlink()
    (config.data_dir / "queue.sqlite3").mkdir()  # the DB is gone and cannot be recreated
    assert client.get("/healthz").status_code == 503


def test_metrics(client, queue):
    post(client, "push", payload("push/with-new-branch"), delivery="a")
    post(client, "push", payload("push/with-new-branch"), delivery="a")
    post(client, "push", payload("push/with-new-branch"), delivery="b", signature=None)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'gitdeploy_webhook_deliveries_total{event="push",result="accepted"} 1.0' in text
    assert 'gitdeploy_webhook_deliveries_total{event="push",result="duplicate"} 1.0' in text
    assert 'gitdeploy_webhook_deliveries_total{event="push",result="bad_signature"} 1.0' in text
    assert 'gitdeploy_queue_jobs{state="queued"} 1.0' in text
    assert "gitdeploy_job_duration_seconds" in text
