"""Conformance of the repository's webhook fixtures with GitHub's real example payloads.

The suite runs on tests/fixtures/github alone. When a checkout of GitHub's examples
(octokit/webhooks' payload examples, laid out as <event>/<name>.payload.json) is at
$GITDEPLOY_GITHUB_WEBHOOKS or at ../shared/github-webhooks beside this repository, these tests
check that every fixture is a faithful subset of its real counterpart (same fields, same JSON
types), that every real example passes the bot's payload schema, and that both give the same
jobs. Without the examples they are skipped (.ci/run runs them in a second, short pass).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from gitdeploy.github.events import jobs_for_event
from gitdeploy.github.payloads import check
from tests.fixtures import webhook, webhook_names

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(os.environ.get("GITDEPLOY_GITHUB_WEBHOOKS") or ROOT.parent / "shared" / "github-webhooks")

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"GitHub's example payloads are not at {EXAMPLES} "
                                "(set GITDEPLOY_GITHUB_WEBHOOKS to a checkout of them)")

# fixture -> real example; the PR comment is GitHub's issue_comment example on a pull request
REAL = {
    "ping/created": "ping/payload.json",
    "push/tag": "push/payload.json",
    "push/with-new-branch": "push/with-new-branch.payload.json",
    "issue_comment/created": "issue_comment/created.payload.json",
    "issue_comment/created.with-organization": "issue_comment/created.with-organization.payload.json",
    "issue_comment/created.on-pull-request": "issue_comment/created.payload.json",
    "pull_request_review/submitted": "pull_request_review/submitted.payload.json",
    **{f"pull_request/{a}": f"pull_request/{a}.payload.json" for a in ("opened", "synchronize", "reopened", "closed")},
}
ADDED = {"issue_comment/created.on-pull-request": {"issue.pull_request"}}  # what GitHub adds on a PR
# fixtures of events the examples do not cover (a GitHub App's), written from GitHub's webhook reference
NO_EXAMPLE = {"check_run/rerequested", "installation/created", "installation_repositories/added"}


def real(name: str) -> dict:
    return json.loads((EXAMPLES / REAL[name]).read_text())


def kind(value: object) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def differences(fixture: object, example: object, path: str, skip: set[str]) -> list[str]:
    """Where `fixture` is not a subset of `example` with the same JSON types."""
    if path.lstrip(".") in skip:
        return []
    if fixture is None or example is None:  # e.g. a body GitHub sent as null
        return [] if fixture is None or example is None else [path]
    if kind(fixture) != kind(example):
        return [f"{path or '(root)'}: {kind(fixture)} here, {kind(example)} in GitHub's example"]
    if isinstance(fixture, dict):
        out = []
        for key, value in fixture.items():
            if key not in example and f"{path}.{key}".lstrip(".") not in skip:
                out.append(f"{path}.{key}: not in GitHub's example")
            elif key in example:
                out += differences(value, example[key], f"{path}.{key}", skip)
        return out
    if isinstance(fixture, list) and fixture and example:
        return differences(fixture[0], example[0], f"{path}[0]", skip)
    return []


def test_every_real_example_has_a_fixture():
    examples = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.json")}
    assert examples <= set(REAL.values()), f"examples without a fixture: {examples - set(REAL.values())}"
    assert set(REAL) | NO_EXAMPLE == set(webhook_names())


@pytest.mark.parametrize("name", sorted(REAL))
def test_each_fixture_has_the_shape_of_github_s_example(name):
    assert differences(webhook(name), real(name), "", ADDED.get(name, set())) == []


@pytest.mark.parametrize("name", sorted(REAL))
def test_github_s_examples_pass_the_schema_and_make_the_same_jobs(name, config):
    event = name.split("/")[0]
    example = real(name)
    check(event, example)
    if name == "issue_comment/created.on-pull-request":  # the example is on an issue; put it on a PR
        example = copy.deepcopy(example)
        example["issue"]["pull_request"] = webhook(name)["issue"]["pull_request"]
        example["comment"]["body"] = webhook(name)["comment"]["body"]
    assert jobs_for_event(event, example, config) == jobs_for_event(event, webhook(name), config)
