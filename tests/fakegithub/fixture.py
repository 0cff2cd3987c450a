"""pytest fixture: `fake_github`, a started FakeGitHub, stopped after the test.

Use it from a conftest.py with `from tests.fakegithub.fixture import fake_github  # noqa: F401`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token="test-token", login="deploy-bot") as fake:
        yield fake
