"""The bot end to end: `gitdeploy serve` in a subprocess (waitress, real HMAC), real PyGithub
against the fake GitHub, a local bare repository as the spec repository's URL, the real engine.

Payloads are the repository's fixtures in GitHub's shapes (tests/fixtures/github) with SHAs,
refs, numbers and bodies adapted; a PR comment is GitHub's shape of one (`issue.pull_request`).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from gitdeploy.server.queue import JobQueue
from tests.fakegithub.fixture import fake_github  # noqa: F401 - re-exported fixture
from tests.server.conftest import SECRET, payload
from tests.serverproc import ServerProcess
from tests.specrepo import svc as _svc

ROOT = Path(__file__).resolve().parents[2]
REPO = "Codertocat/Hello-World"
FINISHED = ("done", "failed", "superseded")


def svc(**kw) -> dict:
    """The shared busybox service, with a short gate."""
    return _svc("0.2s", **kw)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


class Origin:
    """The spec repository 'on GitHub': a bare repository plus a clone to commit and push from."""

    def __init__(self, tmp: Path) -> None:
        self.bare = tmp / "origin.git"
        self.work = tmp / "work"
        git(tmp, "init", "-q", "--bare", "-b", "main", str(self.bare))
        git(tmp, "clone", "-q", str(self.bare), str(self.work))
        git(self.work, "checkout", "-q", "-b", "main")

    def commit(self, branch: str, spec: dict | str, message: str = "change", files: dict | None = None) -> str:
        """Commit gitdeploy.yaml (and `files`: path -> text) on `branch` (created from main) and
        push it; returns the SHA."""
        branches = git(self.work, "branch", "--list", branch)
        git(self.work, "checkout", "-q", *(() if branches else ("-b",)), branch)
        text = spec if isinstance(spec, str) else json.dumps(spec, indent=2)  # JSON is YAML
        (self.work / "gitdeploy.yaml").write_text(text)
        for path, content in (files or {}).items():
            (self.work / path).parent.mkdir(parents=True, exist_ok=True)
            (self.work / path).write_text(content)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", branch)
        return git(self.work, "rev-parse", "HEAD")

    def merge(self, branch: str, number: int) -> str:
        git(self.work, "checkout", "-q", "main")
        git(self.work, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number} from {branch}", branch)
        git(self.work, "push", "-q", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")

    def head(self, branch: str) -> str:
        return git(self.bare, "rev-parse", f"refs/heads/{branch}")


class Bot(ServerProcess):
    """`gitdeploy serve` over a data dir, pointed at the fake GitHub and the origin repository."""

    log_name = "bot"

    def __init__(self, tmp: Path, fake, origin: Origin, workers: int = 2, github: str | None = None,
                 extra: str = "") -> None:
        """`github` replaces the github: mapping (default: the fake's token); `extra` adds config lines."""
        super().__init__(tmp, ROOT, {**os.environ, "GITDEPLOY_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(ROOT)})
        self.fake = fake
        self.data = tmp / "data"
        self.config = tmp / "server.yaml"
        self.config.write_text(
            f"listen: 127.0.0.1:{self.port}\ndata_dir: {self.data}\nworkers: {workers}\n"
            f"repositories: [{{name: {REPO}, url: {origin.bare}}}]\n"
            "environments: {production: {branch: main}}\n"
            + (github or f"github: {{token: {fake.token}, base_url: {fake.base_url}, pace: false}}") + "\n"
            + extra
        )

    def command(self) -> list[str]:
        return [sys.executable, "-c", "from gitdeploy.cli import main; main()", "serve", "--config",
                str(self.config), "--no-watch"]

    def deliver(self, event: str, body: dict, signature: str | None = "auto") -> requests.Response:
        return self.post(event, body, str(uuid.uuid4()), signature)

    def run(self, event: str, body: dict, timeout: float = 60) -> list:
        """Deliver and wait until the jobs it queued are finished; returns them."""
        r = self.deliver(event, body)
        assert r.status_code in (200, 202), r.text
        return self.wait(r.json().get("jobs", []), timeout)

    def wait(self, ids: list[int], timeout: float = 60) -> list:
        queue = JobQueue(self.data / "queue.sqlite3")
        try:
            deadline = time.monotonic() + timeout
            while True:
                jobs = [queue.get(i) for i in ids]
                if all(j.state in FINISHED for j in jobs):
                    return jobs
                assert time.monotonic() < deadline, f"jobs not finished: {jobs}\n{self.output()}"
                time.sleep(0.05)
        finally:
            queue.close()

    def jobs(self) -> list:
        queue = JobQueue(self.data / "queue.sqlite3")
        try:
            return queue.recent(1000)
        finally:
            queue.close()

    def wait_idle(self, timeout: float = 60) -> list:
        """Wait until nothing is queued or running (follow-up deploy jobs included)."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs()
            if all(j.state in FINISHED for j in jobs):
                return jobs
            assert time.monotonic() < deadline, f"jobs not finished: {jobs}\n{self.output()}"
            time.sleep(0.05)


# -- payloads ------------------------------------------------------------------------------------

def pr_event(action: str, number: int, head_sha: str, head_ref: str = "feature", base: str = "main",
             merged: bool = False, head_repo: str | None = None) -> dict:
    """A pull_request delivery; `head_repo` names the fork the head comes from."""
    body = copy.deepcopy(payload(f"pull_request/{'opened' if action != 'closed' else 'closed'}"))
    body["action"] = action
    body["number"] = number
    pr = body["pull_request"]
    pr.update(number=number, state="closed" if action == "closed" else "open", merged=merged)
    pr["head"].update(sha=head_sha, ref=head_ref)
    pr["base"].update(ref=base)
    if head_repo:
        owner, name = head_repo.split("/")
        pr["head"]["repo"].update(full_name=head_repo, name=name, fork=True)
        pr["head"]["repo"]["owner"] = {**pr["head"]["repo"]["owner"], "login": owner}
        pr["head"].update(label=f"{owner}:{head_ref}")
    return body


def comment_event(number: int, text: str, user: str, comment_id: int, on_pr: bool = True,
                  user_type: str = "User") -> dict:
    body = copy.deepcopy(payload("issue_comment/created.on-pull-request" if on_pr else "issue_comment/created"))
    body["issue"]["number"] = number
    if on_pr:
        body["issue"]["pull_request"]["url"] = f"https://api.github.com/repos/{REPO}/pulls/{number}"
    body["comment"].update(id=comment_id, body=text)
    body["comment"]["user"].update(login=user, type=user_type)
    body["sender"].update(login=user, type=user_type)
    return body


def push_event(branch: str, before: str, after: str, pusher: str = "Codertocat") -> dict:
    body = copy.deepcopy(payload("push/tag"))
    body.update(ref=f"refs/heads/{branch}", before=before, after=after, created=False, deleted=False)
    body["pusher"]["name"] = pusher
    body["head_commit"] = {"id": after, "message": "merge"}
    return body


@pytest.fixture
def origin(tmp_path) -> Origin:
    return Origin(tmp_path)


@pytest.fixture
def bot(tmp_path, fake_github, origin):  # noqa: F811
    fake_github.state.add_repo(REPO, default_branch="main")
    server = Bot(tmp_path, fake_github, origin).start()
    yield server
    server.stop()
