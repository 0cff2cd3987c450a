"""The latest plan per pull request and environment, in SQLite in the data directory.

`/deploy` checks a stored plan against the PR's current head (a plan for an older head is
stale); the dashboard lists the open PRs' plans (`open_plans`). A closed PR's plan is released.
The bot also remembers the GitHub deployment it created for a deploy job, so a job re-run after
a crash reports on the same deployment instead of creating a second one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORE_FILE = "bot.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    repo        TEXT NOT NULL,
    pr          INTEGER NOT NULL,
    environment TEXT NOT NULL,
    head_sha    TEXT NOT NULL,
    ok          INTEGER NOT NULL,      -- 0: the spec was invalid or planning failed
    summary     TEXT NOT NULL,
    markdown    TEXT NOT NULL,
    plan_json   TEXT NOT NULL,         -- plan_to_dict output, or {} when planning failed
    title       TEXT NOT NULL DEFAULT '',
    url         TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'released')),
    updated     REAL NOT NULL,
    PRIMARY KEY (repo, pr, environment)
);
CREATE TABLE IF NOT EXISTS deployments (
    job_key     TEXT PRIMARY KEY,      -- "<job id>:<environment>:<sha>"
    deployment  INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class StoredPlan:
    repo: str
    pr: int
    environment: str
    head_sha: str
    ok: bool
    summary: str
    markdown: str
    plan: dict[str, Any]
    title: str
    url: str
    state: str
    updated: float


class PlanStore:
    """Plans and deployment ids over `<data dir>/bot.sqlite3`. Thread-safe (a connection per thread)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / STORE_FILE
        self._local = threading.local()
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    def save(self, repo: str, pr: int, environment: str, head_sha: str, *, ok: bool, summary: str,
             markdown: str, plan: dict[str, Any] | None = None, title: str = "", url: str = "") -> None:
        """Store (replace) the plan of `pr` for `environment`; it is open again if it was released."""
        self._db().execute(
            "INSERT OR REPLACE INTO plans (repo, pr, environment, head_sha, ok, summary, markdown, plan_json,"
            " title, url, state, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
            (repo.lower(), pr, environment, head_sha, int(ok), summary, markdown, json.dumps(plan or {}),
             title, url, time.time()),
        )

    def get(self, repo: str, pr: int, environment: str) -> StoredPlan | None:
        row = self._db().execute("SELECT * FROM plans WHERE repo = ? AND pr = ? AND environment = ?",
                                 (repo.lower(), pr, environment)).fetchone()
        return _plan(row) if row else None

    def release(self, repo: str, pr: int, environment: str) -> bool:
        """Mark the plan released (its PR closed); False when there was no open one."""
        cur = self._db().execute(
            "UPDATE plans SET state = 'released', updated = ? WHERE repo = ? AND pr = ? AND environment = ?"
            " AND state = 'open'", (time.time(), repo.lower(), pr, environment))
        return cur.rowcount == 1

    def plans_for(self, repo: str, pr: int) -> list[StoredPlan]:
        """The open plans of `pr`, one per environment planned."""
        rows = self._db().execute("SELECT * FROM plans WHERE repo = ? AND pr = ? AND state = 'open'",
                                  (repo.lower(), pr)).fetchall()
        return [_plan(r) for r in rows]

    def open_plans(self) -> list[StoredPlan]:
        rows = self._db().execute("SELECT * FROM plans WHERE state = 'open' ORDER BY updated DESC").fetchall()
        return [_plan(r) for r in rows]

    def deployment_for(self, job_key: str) -> int | None:
        row = self._db().execute("SELECT deployment FROM deployments WHERE job_key = ?", (job_key,)).fetchone()
        return row[0] if row else None

    def remember_deployment(self, job_key: str, deployment: int) -> None:
        self._db().execute("INSERT OR REPLACE INTO deployments (job_key, deployment) VALUES (?, ?)",
                           (job_key, deployment))


def _plan(row: sqlite3.Row) -> StoredPlan:
    return StoredPlan(row["repo"], row["pr"], row["environment"], row["head_sha"], bool(row["ok"]), row["summary"],
                      row["markdown"], json.loads(row["plan_json"]), row["title"], row["url"], row["state"],
                      row["updated"])


def open_plans(data_dir: Path) -> list[dict[str, Any]]:
    """The open PRs' latest plans for the dashboard, newest first, in gitops.overview's shape:
    {"repo", "pr", "title", "env", "head_sha", "url", "updated", "ok", "summary", "plan"}."""
    if not (data_dir / STORE_FILE).exists():
        return []
    return [
        {"repo": p.repo, "pr": p.pr, "title": p.title, "env": p.environment, "head_sha": p.head_sha, "url": p.url,
         "updated": p.updated, "ok": p.ok, "summary": p.summary, "plan": p.plan}
        for p in PlanStore(data_dir).open_plans()
    ]
