"""Everything the dashboard shows, as one JSON-ready dict (read only; nothing is changed).

Per registered spec repository (see repoconfig) and environment: the deployed commit (from
refs/gitdeploy/<env>, else the commit label of running containers), the branch head, freeze,
lock and halt, the live services, the history (git notes) and stored PR plans; plus the server
queue. Every part fails on its own: an unreachable engine leaves `services_error`, not a 500.
Each environment is read on its own engine: `context_for(repo, env)` gives the pipeline context
(and so the engine: the server config's `docker_host` of that environment) to read it with.

PR plans come from the bot's plan store (gitdeploy.github.planstore.open_plans), one per open PR
and environment: {"repo", "pr", "title", "env", "head_sha", "url", "updated", "ok", "summary", "plan"}.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import git

from gitdeploy.deploy import freeze
from gitdeploy.deploy.lock import holder
from gitdeploy.errors import GitdeployError
from gitdeploy.github.planstore import open_plans
from gitdeploy.heal.status import drift_status
from gitdeploy.history.notes import attempts, deployed_commit
from gitdeploy.hooks import repoconfig
from gitdeploy.pipeline import Context
from gitdeploy.render.status import service_rows
from gitdeploy.server.queue import JobQueue
from gitdeploy.spec.load import load_spec
from gitdeploy.spec.scheduling import ENGINES
from gitdeploy.spec.source import GitSource

HISTORY_LIMIT = 25
JOBS_LIMIT = 15
DRIFT_SECONDS = 10.0

# (spec repository, environment) -> the context to read it with (its engine); raises GitdeployError
ContextFor = Callable[[Path, str], Context]


def overview(data_dir: Path, context_for: ContextFor | None, queue: JobQueue | None) -> dict[str, Any]:
    """The dashboard's state: {"generated", "data_dir", "repositories": [...], "queue": {...}, "plans": [...]}.
    Without `context_for` no engine is asked (no services, no drift)."""
    return {
        "generated": time.time(),
        "data_dir": str(data_dir),
        "repositories": [_repository(data_dir, context_for, path) for path in repoconfig.registered(data_dir)],
        "queue": _queue(queue),
        "plans": _plans(data_dir),
    }


def _repository(data_dir: Path, context_for: ContextFor | None, path: Path) -> dict[str, Any]:
    repo = git.Repo(path)
    envs = repoconfig.environments(repo)
    return {"path": str(path), "name": path.name.removesuffix(".git"),
            "environments": [_environment(data_dir, context_for, repo, env, branch)
                             for env, branch in sorted(envs.items())]}


def _environment(data_dir: Path, context_for: ContextFor | None, repo: git.Repo, env: str,
                 branch: str) -> dict[str, Any]:
    head = _rev(repo, f"refs/heads/{branch}")
    deployed = deployed_commit(repo, env)
    spec_at = deployed or head
    system, wanted = _spec_summary(repo.git_dir, spec_at) if spec_at else ("", {})
    live, services_error, ctx = None, "", None
    if system and context_for is not None:
        try:
            ctx = context_for(Path(repo.git_dir), env)
            live = ctx.engine().analyze(system, env)
        except GitdeployError as exc:
            services_error = exc.message
    source = "ref" if deployed else ""
    if not deployed and live:  # no record yet: what the running containers say
        commits = {c.commit for c in live.containers if c.running and c.commit}
        if len(commits) == 1:
            deployed, source = commits.pop(), "containers"
    lock = holder(data_dir, env)
    frozen = freeze.frozen(data_dir, env)
    halted = freeze.halted(data_dir, env, system) if system else None
    return {
        "name": env, "branch": branch, "system": system,
        "head": _commit(repo, head), "deployed": _commit(repo, deployed), "deployed_source": source,
        "frozen": asdict(frozen) if frozen else None, "halted": asdict(halted) if halted else None,
        "lock": asdict(lock) if lock else None,
        "services": service_rows(live, wanted) if live is not None else [], "services_error": services_error,
        "drift": _drift(ctx) if ctx and live and live.containers else None,
        "history": [_attempt(repo, a) for a in attempts(repo, env)[:HISTORY_LIMIT]],
    }


_drift_cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}


def _drift(ctx: Context) -> dict[str, Any] | None:
    """The drift line of `gitdeploy status` (gitdeploy.heal), at most every DRIFT_SECONDS per environment:
    a check inspects every container, too much for a page that polls every 2 s."""
    key = (str(ctx.repo), ctx.env)
    cached = _drift_cache.get(key)
    if cached and time.monotonic() - cached[0] < DRIFT_SECONDS:
        return cached[1]
    try:
        value = drift_status(ctx)
    except GitdeployError as exc:
        value = {"items": None, "line": f"drift: unknown ({exc.message})"}
    except Exception as exc:  # noqa: BLE001 - the page must render; the check is someone else's bug
        value = {"items": None, "line": f"drift: unknown ({type(exc).__name__}: {exc})"}
    _drift_cache[key] = (time.monotonic(), value)
    return value


def _rev(repo: git.Repo, ref: str) -> str | None:
    try:
        return repo.git.rev_parse("--verify", "-q", ref + "^{commit}") or None
    except git.GitCommandError:
        return None


def _commit(repo: git.Repo, sha: str | None) -> dict[str, Any] | None:
    if not sha:
        return None
    try:
        c = repo.commit(sha)
    except (ValueError, git.BadName):
        return {"sha": sha, "short": sha[:7], "subject": "(commit not found)", "author": "", "time": 0}
    return {"sha": c.hexsha, "short": c.hexsha[:7], "subject": _text(c.summary), "author": c.author.name,
            "time": c.committed_date}


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode(errors="replace")


@lru_cache(maxsize=256)
def _spec_summary(git_dir: str, sha: str) -> tuple[str, dict[str, int]]:
    """(system, {service: replicas}) of the spec at `sha`, for whichever engine it is written for
    (`placement` is valid for a swarm environment only); commits never change, so it is cached."""
    for engine in ENGINES:
        try:
            spec = load_spec(GitSource(git.Repo(git_dir), sha), None, engine)
        except GitdeployError:
            continue
        return spec.system, {s.path: s.replicas for s in spec.services}
    return "", {}


def _attempt(repo: git.Repo, a) -> dict[str, Any]:
    info = _commit(repo, a.commit) or {}
    return {"commit": a.commit, "short": a.commit[:7], "subject": info.get("subject", ""), "trigger": a.trigger,
            "who": a.who, "started": a.started, "duration": round(a.duration, 2), "result": a.result,
            "summary": a.summary, "verified": a.verified, "failure": a.failure}


def _queue(queue: JobQueue | None) -> dict[str, Any] | None:
    if queue is None:
        return None
    jobs = [{"id": j.id, "kind": j.kind, "environment": j.environment, "state": j.state, "attempts": j.attempts,
             "created": j.created_at, "started": j.started_at, "finished": j.finished_at, "result": j.result,
             "sha": str(j.payload.get("sha") or j.payload.get("head_sha") or "")[:7],
             "who": j.payload.get("pusher") or j.payload.get("author") or ""}
            for j in queue.recent(JOBS_LIMIT)]
    return {"stats": queue.stats(), "recent": jobs}


def _plans(data_dir: Path) -> list[dict[str, Any]]:
    try:
        return open_plans(data_dir)
    except sqlite3.Error as exc:
        return [{"pr": 0, "title": f"the plan store is unreadable: {exc}", "ok": False, "summary": ""}]
