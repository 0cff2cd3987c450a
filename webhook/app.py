"""The HTTP face of the bot: receive GitHub webhooks, verify them, queue their jobs. No work here.

    POST /webhooks/github   413 body too large | 401 bad/missing signature | 400 malformed, or a
                            field the bot reads has the wrong shape (gitdeploy.github.payloads;
                            counted in gitdeploy_webhook_invalid_payloads{event, reason})
                            200 ping {"ok", "zen"} | 200 duplicate delivery {"duplicate": true}
                            200 nothing to do {"jobs": []} | 202 queued {"jobs": [ids]}
    GET  /healthz           200 {"ok": true, "queue": {state: n}} | 503 when the queue DB fails
    GET  /metrics           Prometheus exposition of `metrics.registry`
    GET  /, /api/state      the dashboard (webhook/dashboard.py)
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
from urllib.parse import parse_qs

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import RequestEntityTooLarge

from gitdeploy.github.events import jobs_for_event
from gitdeploy.github.payloads import EVENTS, PayloadInvalid, check, parse
from gitdeploy.server.config import ServerConfig
from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import JobQueue
from webhook.dashboard import dashboard_blueprint

log = logging.getLogger(__name__)

MAX_DELIVERY_ID = 128  # GitHub's are GUIDs


def signature_valid(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is GitHub's "sha256=<hex>" HMAC of `body` under `secret`."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def create_app(config: ServerConfig, queue: JobQueue, metrics: Metrics) -> Flask:
    """The Flask app; jobs go to `queue`, counts to `metrics`."""
    config.check_startable()
    metrics.watch_queue(queue)
    secret = config.webhook_secret.reveal().encode()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes

    def answer(event: str, result: str, status: int, **body) -> tuple[Response, int]:
        metrics.deliveries.labels(event, result).inc()
        return jsonify(body), status

    def refuse(event: str, exc: PayloadInvalid) -> tuple[Response, int]:
        metrics.invalid_payloads.labels(event, exc.reason).inc()
        log.warning("refused delivery %s (event %s): %s", _printable(request.headers.get("X-GitHub-Delivery", "")),
                    event, exc.message)
        return answer(event, "invalid", 400, error=exc.message)

    @app.post("/webhooks/github")
    def github_webhook():
        event = request.headers.get("X-GitHub-Event", "")
        label = event if event in EVENTS else "other" if event else "unknown"  # bounded metric labels
        if request.content_length is not None and request.content_length > config.max_body_bytes:
            return answer(label, "too_large", 413, error="request body too large")
        try:
            body = request.get_data(cache=True)
        except RequestEntityTooLarge:
            return answer(label, "too_large", 413, error="request body too large")
        if not config.insecure_no_secret or secret:  # a configured secret is always checked
            if not secret or not signature_valid(secret, body, request.headers.get("X-Hub-Signature-256")):
                log.warning("rejected a delivery with a missing or wrong signature (event %s)", label)
                return answer(label, "bad_signature", 401, error="missing or invalid X-Hub-Signature-256")
        if not event:
            return answer(label, "malformed", 400, error="missing X-GitHub-Event header")
        try:
            payload = _parse(body, request.mimetype)
            if event == "ping":
                check(event, payload)
                return answer(label, "ping", 200, ok=True, zen=payload.get("zen", ""))
            delivery = request.headers.get("X-GitHub-Delivery", "").strip()
            if not delivery or len(delivery) > MAX_DELIVERY_ID:
                return answer(label, "malformed", 400, error="missing or over-long X-GitHub-Delivery header")
            specs = jobs_for_event(event, payload, config)
        except PayloadInvalid as exc:
            return refuse(label, exc)
        accepted = queue.accept(delivery, event, specs)
        jobs = list(accepted.job_ids)
        if accepted.duplicate:
            log.info("delivery %s (%s) seen before; not queued again", delivery, event)
            return answer(label, "duplicate", 200, duplicate=True, delivery=delivery, jobs=jobs)
        if not jobs:
            return answer(label, "ignored", 200, delivery=delivery, jobs=[])
        log.info("delivery %s (%s) queued jobs %s", delivery, event, jobs)
        return answer(label, "accepted", 202, delivery=delivery, jobs=jobs)

    @app.get("/healthz")
    def healthz():
        try:
            stats = queue.stats()
        except sqlite3.Error as exc:
            log.error("health check: the queue database is unusable: %s", exc)
            return jsonify(ok=False, error="queue database unusable"), 503
        return jsonify(ok=True, queue=stats), 200

    @app.get("/metrics")
    def prometheus():
        return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)

    app.register_blueprint(dashboard_blueprint(config, queue))  # GET / and /api/state
    return app


def _parse(body: bytes, mimetype: str) -> object:
    """The JSON payload; GitHub's form encoding puts it in the `payload` field. Raises PayloadInvalid."""
    if mimetype == "application/x-www-form-urlencoded":
        try:
            body = parse_qs(body.decode("utf-8"), strict_parsing=True)["payload"][0].encode()
        except (ValueError, KeyError, IndexError):
            raise PayloadInvalid("not_form", "the form has no `payload` field") from None
    return parse(body)


def _printable(text: str) -> str:
    """A header value fit for one log line (no control characters, bounded)."""
    return "".join(c if c.isprintable() else "?" for c in text[:MAX_DELIVERY_ID])
