"""Who may pull the levers from a PR comment: permission, user allow-list and team allow-list,
looked up through the real client against the fake GitHub."""

from __future__ import annotations

from types import SimpleNamespace

from gitdeploy.github.commands import _operator
from gitdeploy.server.config import DeployPolicy
from tests.fakegithub import FakeGitHub

from .conftest import REPO


def test_team_members_pass_the_allow_list(forge, seeded: FakeGitHub) -> None:
    bot = SimpleNamespace(config=SimpleNamespace(deploy=DeployPolicy(users=("dora",), teams=("acme/ops",))))
    for user in ("dora", "alice", "eve"):
        seeded.state.set_permission(REPO, user, "write")
    seeded.state.add_team_member("acme/ops", "alice")
    seeded.state.clear_calls()
    assert _operator(bot, forge, "dora") == []  # named: no team look-up needed
    assert not [c for c in seeded.calls if "/teams/" in c.path]
    assert _operator(bot, forge, "alice") == []
    [why] = _operator(bot, forge, "eve")
    assert "not in the deploy allow-list" in why and "team acme/ops" in why
