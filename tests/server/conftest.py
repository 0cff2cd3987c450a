"""Shared helpers for the server tests: a config, webhook payloads (tests/fixtures), HMAC signatures."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from gitdeploy.server.config import Environment, Secret, ServerConfig
from tests.fixtures import webhook

SECRET = "It's a Secret to Everybody"


def payload(name: str) -> dict:
    """A webhook payload in GitHub's shape (tests/fixtures/github): payload("push/with-new-branch")."""
    return webhook(name)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def make_config(data_dir: Path, **overrides) -> ServerConfig:
    values = dict(
        data_dir=data_dir,
        repositories=("Codertocat/Hello-World",),
        environments=(Environment("production", "master"), Environment("staging", "staging")),
        webhook_secret=Secret(SECRET),
    )
    values.update(overrides)
    return ServerConfig(**values)


@pytest.fixture
def config(tmp_path) -> ServerConfig:
    return make_config(tmp_path / "data")


@pytest.fixture
def make_server(tmp_path):
    """make_server(sleep=..., **kw): a `python -m webhook` subprocess (tests/server/process.py)."""
    from .process import Server  # here, not at the top: process imports this module

    servers: list[Server] = []

    def make(**kw) -> Server:
        servers.append(Server(tmp_path, **kw))
        return servers[-1]

    yield make
    for s in servers:
        s.stop()
