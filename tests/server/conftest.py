"""Shared helpers for the server tests: a config, real webhook payloads, HMAC signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from gitdeploy.server.config import Environment, Secret, ServerConfig

# GitHub's example payloads live in shared/ beside the repository (as on the developers' machines and CI).
PAYLOADS = Path(__file__).resolve().parents[3] / "shared" / "github-webhooks"
SECRET = "It's a Secret to Everybody"


def payload(name: str) -> dict:
    """A real GitHub example payload: payload("push") or payload("push/with-new-branch")."""
    path = PAYLOADS / name / "payload.json" if "/" not in name else PAYLOADS / f"{name}.payload.json"
    return json.loads(path.read_text())


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
