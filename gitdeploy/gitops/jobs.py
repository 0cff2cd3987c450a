"""Hook deploys through the server's durable queue: the job, its handler and following it.

A hook that finds a server running on its data directory enqueues a `git-deploy` job instead
of deploying itself, so pushes, webhooks and repairs of one environment run one at a time, in
order, and survive a crash of the hook. The handler writes the deploy's lines to
`<data dir>/jobs/<id>.log`; the hook prints that file as it grows until the job ends.

    payload: {"repo": "/abs/path/spec.git", "sha": "...", "ref": "refs/heads/main",
              "environment": "production", "pusher": "..."}
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.gitops.report import Emit, deploy_told
from gitdeploy.pipeline import Context
from gitdeploy.server.queue import Job, JobQueue, JobSpec
from gitdeploy.server.serve import LOCK_FILE, QUEUE_FILE

KIND = "git-deploy"
FINAL = ("done", "failed", "superseded")


def log_path(data_dir: Path, job_id: int) -> Path:
    return data_dir / "jobs" / f"{job_id}.log"


def server_running(data_dir: Path) -> bool:
    """True while a gitdeploy server holds the data directory's lock (see server.serve)."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def enqueue(data_dir: Path, repo: Path, sha: str, ref: str, env: str, pusher: str) -> int:
    """Queue a deploy of `sha` to `env`; it supersedes older queued deploys of `env`."""
    queue = JobQueue(data_dir / QUEUE_FILE)
    try:
        return queue.enqueue(JobSpec(KIND, {"repo": str(repo), "sha": sha, "ref": ref, "environment": env,
                                            "pusher": pusher}, env, f"deploy:{env}"))
    finally:
        queue.close()


def follow(data_dir: Path, job_id: int, emit: Emit, *, timeout: float = 1800.0, poll: float = 0.2) -> Job | None:
    """Emit the job's log lines as they appear until it ends (or `timeout`); returns the last state."""
    queue = JobQueue(data_dir / QUEUE_FILE)
    path = log_path(data_dir, job_id)
    offset, pending = 0, b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            job = queue.get(job_id)
            try:
                with path.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except OSError:
                chunk = b""
            offset += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                emit(line.decode(errors="replace"))
            if job is None or job.state in FINAL or time.monotonic() > deadline:
                if pending and job is not None and job.state in FINAL:
                    emit(pending.decode(errors="replace"))
                return job
            time.sleep(poll)
    finally:
        queue.close()


def handle(data_dir: Path) -> Callable[[Job], str]:
    """The `git-deploy` handler for a server whose data directory is `data_dir`."""

    def run(job: Job) -> str:
        p = job.payload
        path = log_path(data_dir, job.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", buffering=1) as log:
            def emit(line: str) -> None:
                log.write(line + "\n")

            if job.attempts > 1:
                emit(f"(attempt {job.attempts}: the server restarted during the first one)")
            ctx = Context(repo=Path(p["repo"]), env=p["environment"], data_dir=data_dir)
            try:
                result = deploy_told(ctx, p["sha"], p.get("pusher") or "hook", emit)
            except GitdeployError as exc:
                emit(f"error: {exc.message}")
                if exc.hint:
                    emit(f"  hint: {exc.hint}")
                raise
            finally:
                if ctx.client is not None:
                    ctx.client.close()
        if not result.ok:
            raise GitdeployError(result.headline)
        return result.headline

    return run


def handlers(data_dir: Path) -> Mapping[str, Callable[[Job], str]]:
    """The job handlers this package adds to a server (merge them into its registry)."""
    return {KIND: handle(data_dir)}


def stderr_emit(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
