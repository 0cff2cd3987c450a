"""The server's queue under interruption, end to end: real pushes through the real hooks, a real
server subprocess (`python -m webhook`), the real engine. Kill points are driven from
state (the queue's rows, the engine's containers), never from sleeps.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitdeploy.history.notes import attempts, deployed_commit
from gitdeploy.live import labels
from gitdeploy.server.datadir import QUEUE_FILE
from gitdeploy.server.queue import JobQueue
from tests.fullfs import small_fs
from tests.serverproc import ServerProcess
from tests.specrepo import running

from .helpers import bare_with_clone, clean_env, git
from .test_push import write_spec

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]


class HookServer(ServerProcess):
    """A server on the hooks' data directory that runs `git-deploy` jobs (and nothing else)."""

    def __init__(self, tmp: Path, data: Path, handlers: str) -> None:
        super().__init__(tmp, tmp, clean_env(PYTHONPATH=str(REPO)))
        self.handlers = handlers
        self.config = tmp / "server.yaml"
        self.config.write_text(f"listen: 127.0.0.1:{self.port}\ndata_dir: {data}\ninsecure_no_secret: true\n"
                               "workers: 1\nrepositories: [local/spec]\nenvironments: {production: {branch: main}}\n")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "webhook", "--config", str(self.config), "--handlers", self.handlers]


def wait_for(what: str, check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def job(data: Path, job_id: int):
    q = JobQueue(data / QUEUE_FILE)
    try:
        return q.get(job_id)
    finally:
        q.close()


def raw_state(data: Path, job_id: int) -> str | None:
    """The row's own state, as written in the database (no outcome slot applied)."""
    db = sqlite3.connect(f"file:{data / QUEUE_FILE}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None
    finally:
        db.close()


def commit(work: Path, message: str) -> str:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def slow_healthy(work: Path, system: str, version: str) -> None:
    """A service that turns healthy ~4s after it starts: the deploy waits in its health gate."""
    write_spec(work, system, version)
    text = (work / "gitdeploy.yaml").read_text().replace(
        "command:\n    - sleep\n    - '3600'\n",
        "command: [sh, -c, 'sleep 4; touch /tmp/ok; exec sleep 3600']\n"
        "    healthcheck: {test: [CMD, test, -f, /tmp/ok], interval: 0.3s, timeout: 2s, retries: 30}\n")
    assert "touch /tmp/ok" in text, text
    (work / "gitdeploy.yaml").write_text(text)


def test_a_job_interrupted_by_kill9_is_not_replayed_over_a_newer_deploy(tmp_path, system_name, docker_client,
                                                                         base_image):
    data = tmp_path / "data"
    bare, work = bare_with_clone(tmp_path, data)
    server = HookServer(tmp_path, data, "gitdeploy.hooks.jobs:handlers_for").start()
    push_a = None
    try:
        slow_healthy(work, system_name, "A")
        a = commit(work, "A")
        push_a = subprocess.Popen(["git", "push", "-q", "origin", "main"], cwd=work, env=clean_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the kill point: the server's job for A runs and its first container exists
        wait_for("job 1 to run", lambda: (j := job(data, 1)) is not None and j.state == "running")
        # one list call: the SDK's containers.list inspects each container it lists, and one removed
        # in between failed the wait with a 404 (seen once in CI under load)
        wait_for("A's container", lambda: docker_client.api.containers(
            all=True, filters={"label": [f"{labels.SYSTEM}={system_name}", f"{labels.COMMIT}={a}"]}))
        server.kill9()
        _, err_a = push_a.communicate(timeout=120)
        assert push_a.returncode == 0, err_a
        assert "remote: gitdeploy: the server stopped while job 1 was running" in err_a, err_a
        assert "still the head of main" in err_a and "remote: gitdeploy: production is " in err_a, err_a

        # B is pushed while no server runs: the hook deploys it directly
        write_spec(work, system_name, "B")
        b = commit(work, "B")
        pushed = git("push", "-q", "origin", "main", cwd=work, check=False)
        assert pushed.returncode == 0, pushed.stderr
        assert f"remote: deployed {b[:7]}" in pushed.stderr, pushed.stderr
        repo = __import__("git").Repo(bare)
        assert deployed_commit(repo, "production") == b

        # the restarted server must not deploy A over B
        server.start()
        done = wait_for("job 1 to end", lambda: (j := job(data, 1)).state in ("done", "failed", "superseded") and j)
        assert done.state == "superseded", (done, server.output())
        assert f"{b[:7]} is newer on main" in done.result and f"{a[:7]} was not deployed" in done.result
        assert {c.labels[labels.COMMIT] for c in running(docker_client, system_name)} == {b}
        assert deployed_commit(repo, "production") == b
        assert [x.commit for x in attempts(repo, "production") if x.result == "ok"] == [b]
    finally:
        if push_a is not None and push_a.poll() is None:
            push_a.kill()
        server.stop()


def test_a_full_disk_when_a_job_finishes_neither_strands_the_push_nor_replays_the_job(
        tmp_path, system_name, docker_client, base_image):
    with small_fs(tmp_path / "data", "8m") as fs:
        data = fs.root
        bare, work = bare_with_clone(tmp_path, data)
        server = HookServer(tmp_path, data, "tests.hooks.fillhandlers:handlers_for").start()
        try:
            write_spec(work, system_name, "A")
            a = commit(work, "A")
            pushed = git("push", "-q", "origin", "main", cwd=work, check=False,
                         env=clean_env(GITDEPLOY_HOOK_FOLLOW="120"), timeout=180)
            # the push ends with the job's real outcome, read from its slot: the row could not be written
            assert pushed.returncode == 0, pushed.stderr
            assert f"remote: deployed {a[:7]}" in pushed.stderr, pushed.stderr
            assert "stopped following" not in pushed.stderr and "still running" not in pushed.stderr
            assert raw_state(data, 1) == "running"  # the disk really was full when the job finished
            finished = job(data, 1)
            assert finished.state == "done" and finished.result.startswith(f"deployed {a[:7]}")

            # killed before the row is written, restarted with space again: applied, not replayed
            server.kill9()
            fs.free()
            server.start()
            wait_for("the row to be settled", lambda: raw_state(data, 1) == "done")
            settled = job(data, 1)
            assert settled.attempts == 1 and settled.result.startswith(f"deployed {a[:7]}")
            repo = __import__("git").Repo(bare)
            assert [(x.commit, x.result) for x in attempts(repo, "production")] == [(a, "ok")]
        finally:
            server.stop()
            fs.free()


def test_the_hook_stops_following_after_its_stated_bound_and_says_where_the_environment_is(tmp_path, system_name):
    import os

    from gitdeploy.server.datadir import lock_data_dir

    data = tmp_path / "data"
    bare, work = bare_with_clone(tmp_path, data)
    fd = lock_data_dir(data)  # a server "runs" on the data dir, but no worker ever takes the job
    try:
        write_spec(work, system_name, "A")
        commit(work, "A")
        pushed = git("push", "-q", "origin", "main", cwd=work, check=False, timeout=60,
                     env=clean_env(GITDEPLOY_HOOK_FOLLOW="2", GITDEPLOY_HOOK_UNCLAIMED="600"))
    finally:
        os.close(fd)
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: gitdeploy: queued as job 1 on the gitdeploy server; following it for up to 2s" in pushed.stderr
    assert "remote: gitdeploy: stopped following job 1 after 2s; it is still queued" in pushed.stderr
    assert ("remote: gitdeploy: production is never verified (nothing deployed yet); no deploy is running"
            in pushed.stderr), pushed.stderr
