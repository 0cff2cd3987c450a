"""Hook deploys through the server's durable queue: the job, its handler and following it.

A hook that finds a server running on its data directory enqueues a `git-deploy` job instead
of deploying itself, so pushes, webhooks and repairs of one environment run one at a time, in
order, and survive a crash of the hook. The handler writes the deploy's lines to
`<data dir>/jobs/<id>.log`; the hook prints that file as it grows until the job ends, the
server stops, or `follow_seconds()` pass - then it says what state the environment is in.

The queue never replays the past: a job whose commit is no longer the head of its branch (a
newer push landed, e.g. while the server was down and the job waited to be requeued) ends
`superseded` without deploying.

    payload: {"repo": "/abs/path/spec.git", "sha": "...", "ref": "refs/heads/main",
              "environment": "production", "pusher": "...",
              "engine": "docker", "registry": null, "docker_host": null}

The engine keys say where the hook would have deployed itself (its --engine, --registry and
--docker-host, or the environment's git config): the server deploys there, not to its own engine.
The repository's git config is read again when the job runs, and wins (see repoconfig).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.hooks import repoconfig
from gitdeploy.hooks.report import Emit, deploy_told
from gitdeploy.pipeline import Context
from gitdeploy.render.lines import error_lines, retry_line
from gitdeploy.server.datadir import QUEUE_FILE, server_running
from gitdeploy.server.queue import Job, JobQueue, JobSpec, Superseded
from gitdeploy.spec.engines import DEFAULT_ENGINE

log = logging.getLogger(__name__)

KIND = "git-deploy"
FINAL = ("done", "failed", "superseded")
WITHDRAWN = "withdrawn by the hook"


def unclaimed_seconds() -> float:
    """How long a hook waits for a worker to claim its job ($GITDEPLOY_HOOK_UNCLAIMED, default 20):
    idle workers look every 2 s, so longer means busy workers or a server without this handler."""
    try:
        return float(os.environ.get("GITDEPLOY_HOOK_UNCLAIMED", "20"))
    except ValueError:
        return 20.0


def follow_seconds() -> float:
    """How long a hook follows its job at most ($GITDEPLOY_HOOK_FOLLOW, default 900 = 15 minutes);
    the job goes on without it afterwards."""
    try:
        return max(1.0, float(os.environ.get("GITDEPLOY_HOOK_FOLLOW", "900")))
    except ValueError:
        return 900.0


def log_path(data_dir: Path, job_id: int) -> Path:
    return data_dir / "jobs" / f"{job_id}.log"


def engine_of(ctx: Context) -> dict[str, str | None]:
    """The payload keys that say which engine `ctx` deploys to."""
    return {"engine": ctx.engine_kind, "registry": ctx.registry, "docker_host": ctx.docker_host}


def enqueue(data_dir: Path, repo: Path, sha: str, ref: str, env: str, pusher: str,
            engine: Mapping[str, str | None] | None = None) -> int:
    """Queue a deploy of `sha` to `env` (on `engine`, see engine_of); it supersedes older queued
    deploys of `env`."""
    queue = JobQueue(data_dir / QUEUE_FILE)
    try:
        return queue.enqueue(JobSpec(KIND, {"repo": str(repo), "sha": sha, "ref": ref, "environment": env,
                                            "pusher": pusher, **(engine or {})}, env, f"deploy:{env}"))
    finally:
        queue.close()


def withdraw(data_dir: Path, job_id: int, reason: str) -> bool:
    """Take a job that is still queued out of the queue; False once a worker claimed it."""
    queue = JobQueue(data_dir / QUEUE_FILE)
    try:
        return queue.withdraw(job_id, reason)
    finally:
        queue.close()


def follow(data_dir: Path, job_id: int, emit: Emit, *, timeout: float | None = None, poll: float = 0.2,
           unclaimed: float | None = None) -> Job | None:
    """Emit the job's log lines as they appear until it ends, the server stops, or `timeout`
    (default `follow_seconds()`) passes; returns the job's last state (still running in the
    last two cases: tell them apart with `server_running`).

    With `unclaimed`, a job no worker has claimed after that many seconds is withdrawn (see
    `withdraw`) and returned as such: the server may lack a `git-deploy` handler.
    """
    timeout = follow_seconds() if timeout is None else timeout
    queue = JobQueue(data_dir / QUEUE_FILE)
    path = log_path(data_dir, job_id)
    offset, pending = 0, b""
    started = time.monotonic()
    deadline = started + timeout
    try:
        while True:
            job = queue.get(job_id)
            if (unclaimed is not None and job is not None and job.state == "queued"
                    and time.monotonic() - started > unclaimed
                    and withdraw(data_dir, job_id, f"{WITHDRAWN}: no worker claimed it within {unclaimed:g}s")):
                return queue.get(job_id)
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
            if (job is None or job.state in FINAL or time.monotonic() > deadline
                    or not server_running(data_dir)):
                if pending and job is not None and job.state in FINAL:
                    emit(pending.decode(errors="replace"))
                return queue.get(job_id) if job is not None and job.state not in FINAL else job
            time.sleep(poll)
    finally:
        queue.close()


def handle(data_dir: Path) -> Callable[[Job], str]:
    """The `git-deploy` handler for a server whose data directory is `data_dir`."""

    def run(job: Job) -> str:
        p = job.payload
        emit = _JobLog(log_path(data_dir, job.id))
        try:
            if job.attempts > 1:
                emit(retry_line(job.attempts))
            newer = newer_head(Path(p["repo"]), p.get("ref") or "", p["sha"])
            if newer:
                emit(f"gitdeploy: {newer}")
                raise Superseded(newer)
            ctx = repoconfig.environment_context(Context(
                repo=Path(p["repo"]), env=p["environment"], data_dir=data_dir, docker_host=p.get("docker_host"),
                engine_kind=p.get("engine") or DEFAULT_ENGINE, registry=p.get("registry")), p["environment"])
            try:
                result = deploy_told(ctx, p["sha"], p.get("pusher") or "hook", emit)
            except GitdeployError as exc:
                for line in error_lines(exc.message, exc.hint, prefix=""):
                    emit(line)
                raise
            finally:
                ctx.close()
        finally:
            emit.close()
        if not result.ok:
            raise GitdeployError(result.headline)
        return result.headline

    return run


def newer_head(repo: Path, ref: str, sha: str) -> str:
    """Why deploying `sha` from `ref` would replay the past ("" when `sha` is still its head).

    A deploy job runs only while its commit is the head of its branch: a newer push has its own
    job (or deployed directly while no server ran), and going back is a commit (`git revert`).
    """
    if not ref.startswith("refs/heads/"):
        return ""  # not a branch push: asked for explicitly
    out = subprocess.run(["git", "--git-dir", str(repo), "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"],
                         capture_output=True, text=True, check=False, timeout=60)
    head = out.stdout.strip()
    branch = ref.removeprefix("refs/heads/")
    if out.returncode != 0 or not head:
        return f"superseded: branch {branch} is gone; {sha[:7]} was not deployed"
    if head != sha:
        return f"superseded: {head[:7]} is newer on {branch} (the head now); {sha[:7]} was not deployed"
    return ""


class _JobLog:
    """The job's log file as an Emit that never raises: a full disk ends the log, not the deploy."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None
        self._broken = False

    def __call__(self, line: str) -> None:
        if self._broken:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", buffering=1)
            self._file.write(line + "\n")
        except OSError as exc:
            self._broken = True
            log.warning("the log of %s stops here: %s", self.path, exc)

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass


def handlers(data_dir: Path) -> Mapping[str, Callable[[Job], str]]:
    """The job handlers this package adds to a server (merge them into its registry)."""
    return {KIND: handle(data_dir)}


def handlers_for(config: Any) -> Mapping[str, Callable[[Job], str]]:
    """`python -m webhook --handlers gitdeploy.hooks.jobs:handlers_for`: hook deploys only."""
    return handlers(config.data_dir)


def stderr_emit(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
