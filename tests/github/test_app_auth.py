"""GitHub App authentication through PyGithub against the fake, which verifies the App's JWT
against its public key (a key pair generated per test session)."""

from __future__ import annotations

import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gitdeploy.errors import GitdeployError
from gitdeploy.github.app import GitHubApp
from gitdeploy.github.forge import Annotation, GitHubForge
from tests.fakegithub import FakeGitHub

from .conftest import REPO

APP_ID, INSTALLATION = 5725, 2311213


def key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture(scope="session")
def app_key() -> tuple[str, str]:
    return key_pair()


@pytest.fixture
def installed(seeded: FakeGitHub, app_key) -> FakeGitHub:
    seeded.state.add_app(APP_ID, "gitdeploy-test", app_key[1])
    seeded.state.add_installation(INSTALLATION, APP_ID, REPO)
    return seeded


def app_forge(fake: FakeGitHub, private: str, installation: int = INSTALLATION) -> tuple[GitHubApp, GitHubForge]:
    app = GitHubApp(APP_ID, private, fake.base_url, pace=False, retry=0)
    return app, GitHubForge("", REPO, base_url=fake.base_url, pace=False, retry=0,
                            auth=app.installation_auth(installation), bot_login=app.login())


def test_an_app_acts_as_its_bot_account_with_installation_tokens(installed: FakeGitHub, app_key) -> None:
    app, forge = app_forge(installed, app_key[0])
    assert app.login() == "gitdeploy-test[bot]" and app.installation_for(REPO) == INSTALLATION
    forge.upsert_marked_comment(2, "<!-- m -->", ["one"])
    forge.upsert_marked_comment(2, "<!-- m -->", ["two"])
    [comment] = installed.state.comments(REPO, 2)
    assert comment["user"] == "gitdeploy-test[bot]" and comment["body"] == "<!-- m -->\ntwo"
    assert len(installed.state.calls_to("POST", f"/app/installations/{INSTALLATION}/access_tokens")) == 1
    assert installed.state.calls_to("GET", "/user") == []  # an installation may not read /user
    assert forge.is_app


def test_installation_tokens_are_refreshed_before_they_expire(installed: FakeGitHub, app_key) -> None:
    installed.state.token_ttl = 22  # PyGithub renews 20 s before the expiry GitHub states
    _, forge = app_forge(installed, app_key[0])
    forge.pull(2)
    forge.pull(2)
    assert len(installed.state.calls_to("POST", "/access_tokens")) == 1  # cached
    time.sleep(2.5)
    forge.pull(2)
    assert len(installed.state.calls_to("POST", "/access_tokens")) == 2  # renewed, and the new one works
    assert len(installed.state.issued_tokens()) == 2


def test_the_fake_refuses_a_jwt_signed_by_another_key(installed: FakeGitHub) -> None:
    stranger, _ = key_pair()
    app, forge = app_forge_lazy(installed, stranger)
    with pytest.raises(GitdeployError) as exc:
        app.login()
    assert "401" in exc.value.message and "private key" in exc.value.hint
    with pytest.raises(GitdeployError):
        forge.pull(2)
    assert installed.state.issued_tokens() == []
    r = requests.post(f"{installed.base_url}/app/installations/{INSTALLATION}/access_tokens",
                      headers={"Authorization": f"Bearer {installed.token}"})
    assert r.status_code == 401  # a personal token is not an App's JWT


def app_forge_lazy(fake: FakeGitHub, private: str) -> tuple[GitHubApp, GitHubForge]:
    app = GitHubApp(APP_ID, private, fake.base_url, pace=False, retry=0)
    return app, GitHubForge("", REPO, base_url=fake.base_url, pace=False, retry=0,
                            auth=app.installation_auth(INSTALLATION), bot_login="x[bot]")


def test_another_apps_installation_is_not_found(installed: FakeGitHub, app_key) -> None:
    installed.state.add_app(99, "other", key_pair()[1])
    installed.state.add_installation(77, 99, REPO)
    _, forge = app_forge(installed, app_key[0], installation=77)
    with pytest.raises(GitdeployError, match="404"):
        forge.pull(2)


def test_check_run_with_many_annotations_and_a_long_summary(installed: FakeGitHub, app_key) -> None:
    _, forge = app_forge(installed, app_key[0])
    head = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    run = forge.start_check(head, "gitdeploy/plan", "production: planning")
    notes = [Annotation("gitdeploy.yaml", i, f"problem {i}", column=3, details="a hint") for i in range(1, 121)]
    forge.finish_check(run, "failure", "production: spec invalid (120 problems)", "x" * 70_000, notes)
    with installed.state.lock:
        rec = installed.state.repo(REPO).check_runs[run]
    assert (rec["status"], rec["conclusion"], rec["creator"]) == ("completed", "failure", "gitdeploy-test[bot]")
    assert len(rec["output"]["summary"]) == 65_535 and rec["output"]["summary"].endswith("…")
    assert [a["start_line"] for a in rec["output"]["annotations"]] == list(range(1, 121))
    assert rec["output"]["annotations"][0]["raw_details"] == "a hint"
    assert len(installed.state.calls_to("PATCH", f"/check-runs/{run}")) == 3  # 50 + 50 + 20


def test_a_token_cannot_write_check_runs(seeded: FakeGitHub) -> None:
    forge = GitHubForge(seeded.token, REPO, base_url=seeded.base_url, pace=False, retry=0)
    assert not forge.is_app
    with pytest.raises(GitdeployError, match="403"):
        forge.start_check("ec26c3e57ca3a959ca5aad62de7213c562f8c821", "gitdeploy/plan", "x")
