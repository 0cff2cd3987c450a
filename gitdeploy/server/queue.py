"""A durable job queue in SQLite: accepted webhooks survive crashes, and jobs recover by themselves.

Guarantees (what the tests check):

* `accept(delivery, event, specs)` records the X-GitHub-Delivery id and enqueues its jobs in ONE
  transaction (synchronous=FULL, WAL): once it returns, a crash cannot lose the event. A delivery
  id seen before is acknowledged as a duplicate and nothing is enqueued.
* Jobs with a dedup key supersede older *queued* jobs with the same key (a `deploy` job's key
  defaults to ``deploy:<environment>``, so a new push makes older queued deploys `superseded`).
  Running jobs are never superseded.
* `claim` is atomic (BEGIN IMMEDIATE) and takes the oldest queued job whose environment has no
  running job, so the jobs of one environment run one at a time, in order. Jobs without an
  environment run in parallel. Each claim increments `attempts` and sets a lease.
* Recovery. A job is `running` only while its worker holds it; if the process dies (kill -9,
  power loss) the row stays `running`. `recover()` finds such orphans - every running job when
  the caller holds the data-dir lock (the server does: no other server can be alive), otherwise
  those whose lease expired or whose owner pid is gone on this host - and requeues each one
  ONCE: a job whose attempts is below MAX_ATTEMPTS (2) goes back to `queued` (keeping its id and
  position); claiming it again makes attempts 2. A job interrupted on its second attempt is
  marked `failed` ("interrupted twice") instead of looping. So a job killed mid-run runs again
  exactly once; its handler may therefore see the same job twice, which is safe because handlers
  are idempotent (deploys converge to the same state; comments are updated in place).
* Handler failures are results, not interruptions: `fail()` is final, nothing retries it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "done", "failed", "superseded")
MAX_ATTEMPTS = 2
DEFAULT_LEASE_SECONDS = 15 * 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id          TEXT PRIMARY KEY,            -- X-GitHub-Delivery
    event       TEXT NOT NULL,               -- X-GitHub-Event
    received_at REAL NOT NULL,
    job_ids     TEXT NOT NULL                -- JSON list of the jobs it enqueued
);
CREATE TABLE IF NOT EXISTS jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    environment   TEXT,
    dedup_key     TEXT,
    payload       TEXT NOT NULL,
    delivery_id   TEXT REFERENCES deliveries(id),
    state         TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','superseded')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_expires REAL,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    result        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS jobs_by_env ON jobs (environment, state);
CREATE INDEX IF NOT EXISTS jobs_by_dedup ON jobs (dedup_key, state);
"""


@dataclass(frozen=True)
class JobSpec:
    """A job to enqueue: what to do (kind + payload) and where (environment)."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    environment: str | None = None
    dedup_key: str | None = None

    def key(self) -> str | None:
        """The dedup key in effect: explicit, or ``deploy:<env>`` for deploy jobs."""
        if self.dedup_key is None and self.kind == "deploy" and self.environment:
            return f"deploy:{self.environment}"
        return self.dedup_key


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    environment: str | None
    dedup_key: str | None
    payload: dict[str, Any]
    delivery_id: str | None
    state: str
    attempts: int
    lease_owner: str | None
    lease_expires: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: str


@dataclass(frozen=True)
class Accepted:
    """The outcome of `accept`: the job ids of this delivery (the original ones for a duplicate)."""

    delivery_id: str
    duplicate: bool
    job_ids: tuple[int, ...]


# Tells this process apart from an earlier one with the same pid (pid 1 in every container).
_PROCESS_TOKEN = uuid.uuid4().hex[:8]


def process_owner(tag: str = "") -> str:
    """A lease-owner string for this process (host:pid:random[:tag])."""
    base = f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_TOKEN}"
    return f"{base}:{tag}" if tag else base



def _owner_dead(owner: str | None) -> bool:
    """True when `owner` names a process on this host that no longer exists."""
    if not owner:
        return True
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False  # another host (or unknown format): only the lease can tell
    if int(parts[1]) == os.getpid():
        return parts[2] != _PROCESS_TOKEN
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobQueue:
    """The queue over one SQLite file. Thread-safe: one connection per thread."""

    def __init__(self, path: str | os.PathLike, *, clock: Callable[[], float] = time.time,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.path = Path(path)
        self.clock = clock
        self.lease_seconds = lease_seconds
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        # Wakes idle workers when something becomes claimable (enqueue, or an environment frees).
        self._wakeup = threading.Condition()
        self._generation = 0
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db().executescript(_SCHEMA)  # idempotent; executescript commits on its own

    # --- connections ---------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # an acknowledged delivery survives power loss
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._conns_lock:
                self._conns.append(db)
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: takes the write lock up front, so read-then-write is atomic."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        with self._wakeup:
            self._closed = True
            self._wakeup.notify_all()
        with self._conns_lock:
            for db in self._conns:
                db.close()
            self._conns.clear()
        self._local = threading.local()

    # --- wake-ups ------------------------------------------------------------------------

    def generation(self) -> int:
        """A counter bumped whenever work may have become claimable; pass it to wait_for_work."""
        with self._wakeup:
            return self._generation

    def wait_for_work(self, seen: int, timeout: float) -> None:
        """Block until the generation moves past `seen`, the queue closes, or `timeout` passes."""
        with self._wakeup:
            self._wakeup.wait_for(lambda: self._generation != seen or self._closed, timeout)

    def notify(self) -> None:
        with self._wakeup:
            self._generation += 1
            self._wakeup.notify_all()

    # --- producing -----------------------------------------------------------------------

    def accept(self, delivery_id: str, event: str, specs: Iterable[JobSpec]) -> Accepted:
        """Record a delivery and enqueue its jobs atomically; a known delivery id enqueues nothing."""
        now = self.clock()
        with self._tx() as db:
            row = db.execute("SELECT job_ids FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
            if row is not None:
                return Accepted(delivery_id, True, tuple(json.loads(row["job_ids"])))
            db.execute("INSERT INTO deliveries (id, event, received_at, job_ids) VALUES (?, ?, ?, '[]')",
                       (delivery_id, event, now))
            ids = [self._insert(db, spec, delivery_id, now) for spec in specs]
            db.execute("UPDATE deliveries SET job_ids = ? WHERE id = ?", (json.dumps(ids), delivery_id))
        if ids:
            self.notify()
        return Accepted(delivery_id, False, tuple(ids))

    def enqueue(self, spec: JobSpec) -> int:
        """Enqueue one job outside any delivery (CLI, scheduler, follow-up jobs); returns its id."""
        with self._tx() as db:
            job_id = self._insert(db, spec, None, self.clock())
        self.notify()
        return job_id

    def _insert(self, db: sqlite3.Connection, spec: JobSpec, delivery_id: str | None, now: float) -> int:
        key = spec.key()
        cur = db.execute(
            "INSERT INTO jobs (kind, environment, dedup_key, payload, delivery_id, state, created_at)"
            " VALUES (?, ?, ?, ?, ?, 'queued', ?)",
            (spec.kind, spec.environment, key, json.dumps(spec.payload, sort_keys=True), delivery_id, now),
        )
        job_id = cur.lastrowid
        if key is not None:
            db.execute(
                "UPDATE jobs SET state = 'superseded', finished_at = ?, result = ?"
                " WHERE dedup_key = ? AND state = 'queued' AND id < ?",
                (now, f"superseded by job {job_id}", key, job_id),
            )
        return job_id

    def cancel(self, dedup_key: str, reason: str) -> int:
        """Mark the queued jobs with `dedup_key` superseded (e.g. a PR closed); returns how many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'superseded', finished_at = ?, result = ?"
                " WHERE dedup_key = ? AND state = 'queued'",
                (self.clock(), reason, dedup_key),
            )
        return cur.rowcount

    # --- consuming -----------------------------------------------------------------------

    def claim(self, owner: str, kinds: Iterable[str] | None = None) -> Job | None:
        """Atomically take the oldest claimable job (optionally only of `kinds`), or None."""
        now = self.clock()
        kind_filter, args = "", []
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return None
            kind_filter = f" AND j.kind IN ({', '.join('?' * len(kinds))})"
            args = kinds
        with self._tx() as db:
            row = db.execute(
                "SELECT j.id FROM jobs j WHERE j.state = 'queued'" + kind_filter +
                " AND (j.environment IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r"
                "      WHERE r.state = 'running' AND r.environment = j.environment))"
                " ORDER BY j.id LIMIT 1",
                args,
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?,"
                " lease_expires = ?, started_at = ? WHERE id = ?",
                (owner, now + self.lease_seconds, now, row["id"]),
            )
            return self._job(db, row["id"])

    def renew(self, owner_prefix: str) -> int:
        """Extend the leases of running jobs whose owner starts with `owner_prefix`; returns how many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET lease_expires = ? WHERE state = 'running' AND substr(lease_owner, 1, ?) = ?",
                (self.clock() + self.lease_seconds, len(owner_prefix), owner_prefix),
            )
            return cur.rowcount

    def complete(self, job_id: int, owner: str, result: str = "") -> bool:
        """Mark a running job of `owner` done; False when it was not ours any more."""
        return self._finish(job_id, owner, "done", result)

    def fail(self, job_id: int, owner: str, result: str) -> bool:
        """Mark a running job of `owner` failed with `result` (final: failures are not retried)."""
        return self._finish(job_id, owner, "failed", result)

    def _finish(self, job_id: int, owner: str, state: str, result: str) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = ?, result = ?, finished_at = ?, lease_owner = NULL, lease_expires = NULL"
                " WHERE id = ? AND state = 'running' AND lease_owner = ?",
                (state, result, self.clock(), job_id, owner),
            )
        self.notify()  # the environment is free again
        return cur.rowcount == 1

    def recover(self, *, all_running: bool = False) -> list[Job]:
        """Requeue orphaned running jobs (see the module docstring); returns them in their new state.

        `all_running=True` treats every running job as orphaned: pass it only while holding the
        data-dir lock, when no other worker can be alive.
        """
        now = self.clock()
        changed = []
        with self._tx() as db:
            for row in db.execute("SELECT * FROM jobs WHERE state = 'running' ORDER BY id").fetchall():
                expired = row["lease_expires"] is not None and row["lease_expires"] < now
                if not (all_running or expired or _owner_dead(row["lease_owner"])):
                    continue
                if row["attempts"] < MAX_ATTEMPTS:
                    state = "queued"
                    note = f"interrupted on attempt {row['attempts']}; requeued once"
                    finished = None
                else:
                    state = "failed"
                    note = f"interrupted on attempt {row['attempts']}; not retried again"
                    finished = now
                db.execute(
                    "UPDATE jobs SET state = ?, result = ?, lease_owner = NULL, lease_expires = NULL,"
                    " finished_at = ? WHERE id = ?",
                    (state, note, finished, row["id"]),
                )
                changed.append(row["id"])
            jobs = [self._job(db, i) for i in changed]
        if jobs:
            self.notify()
        return jobs

    # --- reading -------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        row = self._db().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _to_job(row) if row else None

    def _job(self, db: sqlite3.Connection, job_id: int) -> Job:
        return _to_job(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

    def stats(self) -> dict[str, int]:
        """Number of jobs per state (every state present, zero included)."""
        counts = dict.fromkeys(STATES, 0)
        for row in self._db().execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            counts[row["state"]] = row["n"]
        return counts

    def recent(self, limit: int = 50, state: str | None = None) -> list[Job]:
        """The newest jobs first (optionally only in `state`)."""
        if state is None:
            rows = self._db().execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self._db().execute("SELECT * FROM jobs WHERE state = ? ORDER BY id DESC LIMIT ?", (state, limit))
        return [_to_job(r) for r in rows]

    def delivery_count(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]


def _to_job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"], kind=row["kind"], environment=row["environment"], dedup_key=row["dedup_key"],
        payload=json.loads(row["payload"]), delivery_id=row["delivery_id"], state=row["state"],
        attempts=row["attempts"], lease_owner=row["lease_owner"], lease_expires=row["lease_expires"],
        created_at=row["created_at"], started_at=row["started_at"], finished_at=row["finished_at"],
        result=row["result"],
    )
