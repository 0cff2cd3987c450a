"""A local fake of GitHub's REST API for tests and benchmarks (see server.py for usage)."""

from .server import PREFIX, FakeGitHub, create_app
from .state import Call, State

__all__ = ["PREFIX", "Call", "FakeGitHub", "State", "create_app"]
