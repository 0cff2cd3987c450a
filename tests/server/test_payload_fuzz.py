"""Property: whatever JSON value sits in any field the bot reads, a signed delivery is answered
200, 202 or 400 - never 500 - and every 400 is counted in /metrics by its reason."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitdeploy.github.payloads import SCHEMAS
from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import JobQueue
from tests.fixtures import webhook
from webhook.app import create_app

from .conftest import make_config, sign

FIXTURE = {"push": "push/with-new-branch", "pull_request": "pull_request/opened",
           "issue_comment": "issue_comment/created.on-pull-request", "ping": "ping/created"}


def paths(schema: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every field a schema constrains, as key paths."""
    out = []
    for key, sub in schema.get("properties", {}).items():
        out.append((*prefix, key))
        out += paths(sub, (*prefix, key))
    return out


FIELDS = [(event, path) for event in FIXTURE for path in paths(SCHEMAS[event])]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
    | st.sampled_from(["", "--upload-pack=x", "refs/heads/main", "a" * 40, "main", "acme/shop", "/deploy"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("fuzz") / "data")
    queue = JobQueue(config.data_dir / "queue.sqlite3")
    metrics = Metrics()
    yield create_app(config, queue, metrics).test_client(), metrics
    queue.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=json_values, drop=st.booleans())
def test_any_value_in_any_read_field_is_never_a_500(app, field, value, drop):
    client, metrics = app
    event, path = field
    body = webhook(FIXTURE[event])
    target = body
    for key in path[:-1]:
        target = target.setdefault(key, {})  # e.g. `installation`, which only an App's deliveries carry
    if drop:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    raw = json.dumps(body).encode()
    before = sum(s.value for m in metrics.invalid_payloads.collect() for s in m.samples if s.name.endswith("_total"))
    r = client.post("/webhooks/github", data=raw, headers={
        "X-GitHub-Event": event, "X-GitHub-Delivery": str(uuid.uuid4()), "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(raw)})
    assert r.status_code in (200, 202, 400), (field, value, r.status_code)
    after = sum(s.value for m in metrics.invalid_payloads.collect() for s in m.samples if s.name.endswith("_total"))
    assert after - before == (1 if r.status_code == 400 else 0)
