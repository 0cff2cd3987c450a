"""Fixtures: a fake GitHub on 127.0.0.1 and a GitHubForge (real PyGithub) pointed at it."""

from __future__ import annotations

import pytest

from gitdeploy.github.forge import GitHubForge
from tests.fakegithub import FakeGitHub
from tests.fakegithub.fixture import fake_github  # noqa: F401 - re-exported fixture
from tests.fixtures import webhook

REPO = "Codertocat/Hello-World"


@pytest.fixture
def seeded(fake_github: FakeGitHub) -> FakeGitHub:  # noqa: F811
    """The fake holding Codertocat/Hello-World and PR #2 from the `opened` webhook payload."""
    fake_github.state.add_pull_from_payload(webhook("pull_request/opened"))
    return fake_github


@pytest.fixture
def forge(seeded: FakeGitHub) -> GitHubForge:
    return GitHubForge(seeded.token, REPO, base_url=seeded.base_url, pace=False, retry=0)
