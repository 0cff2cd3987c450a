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
* Superseded, not replayed. A running job orphaned by a crash whose dedup key has a newer job
  (queued, running or finished) is marked `superseded` instead of requeued; deploy handlers apply
  the same rule to the commit itself (raise `Superseded` when it is no longer the branch head).
* Finishing survives a full disk. `claim` reserves a small outcome slot per job
  (`<queue file>.outcomes/<id>`, allocated before the job starts) and `complete`/`fail`/
  `supersede` first write the outcome into it in place - no new blocks needed - then update the
  row. When the row cannot be written (ENOSPC), readers (`get`, `recent`) already see the final
  state from the slot, the worker retries the row, and `recover` applies the slot instead of
  requeuing: a job that finished is never run again, and never stays `running`.
* Rows are validated on read: a row whose payload is not a JSON object comes back with
  `problem` set (the worker fails it without running it); a file that is not a SQLite database
  is a GitdeployError naming it and how to recover.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.fsutil import storage_error

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "superseded")
FINAL = ("done", "failed", "superseded")
SLOT_BYTES = 4096  # one reserved outcome per running job: state + result (cut to fit)
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
    problem: str = ""  # why the row could not be read ("" when it is fine); the job is never run


class Superseded(GitdeployError):
    """Raised by a handler whose job must not run any more (a newer commit is the head): the
    job ends `superseded` with this message, not `failed`."""


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
        self.slots = self.path.with_name(self.path.name + ".outcomes")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = self._db()
            db.executescript(_SCHEMA)  # idempotent; executescript commits on its own
            bad = [r[0] for r in db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._unreadable(str(exc)) from None
        except OSError as exc:
            self.close()
            raise storage_error(exc, self.path) from None
        if bad != ["ok"]:
            self.close()
            raise self._unreadable("; ".join(bad[:3]))

    def _unreadable(self, why: str) -> GitdeployError:
        if "disk is full" in why or "disk I/O" in why or "readonly" in why:
            return GitdeployError(f"{_sqlite_trouble(why)} opening the job queue {self.path}",
                                  "free space on (or repair) that file system, then start again")
        return GitdeployError(
            f"the job queue {self.path} is not a readable SQLite database ({why})",
            f"stop the server, move it aside (`mv {self.path} {self.path}.broken`) and start again with an "
            f"empty queue; jobs it held are lost (redeliver their webhooks, push again, or salvage rows with "
            f"`sqlite3 {self.path}.broken .recover`)")

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
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # nothing to roll back (the failed COMMIT ended it)
                raise
        except sqlite3.OperationalError as exc:
            trouble = _sqlite_trouble(str(exc))
            if trouble:
                raise GitdeployError(f"{trouble} writing the job queue {self.path}",
                                     "free space on that file system; the server retries by itself") from None
            raise

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

    def withdraw(self, job_id: int, reason: str) -> bool:
        """Take job `job_id` out of the queue (state superseded) if it is still queued; False once a
        worker claimed it. One conditional UPDATE in an IMMEDIATE transaction, so it cannot race a
        claim: either the worker has the job or nobody ever will."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'superseded', finished_at = ?, result = ? WHERE id = ? AND state = 'queued'",
                (self.clock(), reason, job_id),
            )
        return cur.rowcount == 1

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
            self._reserve(row["id"])  # no slot (disk full): the job is not started at all
            try:
                db.execute(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?,"
                    " lease_expires = ?, started_at = ? WHERE id = ?",
                    (owner, now + self.lease_seconds, now, row["id"]),
                )
            except BaseException:
                self._drop_slot(row["id"])
                raise
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

    def supersede(self, job_id: int, owner: str, result: str) -> bool:
        """Mark a running job of `owner` superseded (it must not run: see `Superseded`)."""
        return self._finish(job_id, owner, "superseded", result)

    def _finish(self, job_id: int, owner: str, state: str, result: str) -> bool:
        """Write the outcome to the job's slot, then its row (see the module). Raises when the row
        cannot be written; call `finish_pending` style retries until it returns."""
        now = self.clock()
        self._write_slot(job_id, state, result, now)
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = ?, result = ?, finished_at = ?, lease_owner = NULL, lease_expires = NULL"
                " WHERE id = ? AND state = 'running' AND lease_owner = ?",
                (state, result, now, job_id, owner),
            )
        self._drop_slot(job_id)
        self.notify()  # the environment is free again
        return cur.rowcount == 1

    # --- outcome slots -------------------------------------------------------------------

    def _slot(self, job_id: int) -> Path:
        return self.slots / str(job_id)

    def _reserve(self, job_id: int) -> None:
        """Allocate (or clear) the job's outcome slot; raises GitdeployError when the disk refuses."""
        path = self._slot(job_id)
        try:
            self.slots.mkdir(exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, SLOT_BYTES)
                os.pwrite(fd, b"\0" * SLOT_BYTES, 0)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self._drop_slot(job_id)
            raise storage_error(exc, path, "reserving") from None

    def _write_slot(self, job_id: int, state: str, result: str, now: float) -> None:
        """Overwrite the reserved slot in place (no new blocks); a job without a slot is skipped."""
        try:
            fd = os.open(self._slot(job_id), os.O_WRONLY)
        except OSError:
            return
        try:
            text = result
            while True:
                raw = json.dumps({"state": state, "result": text, "finished_at": now}).encode()
                if len(raw) <= SLOT_BYTES:
                    break
                text = text[: max(0, len(text) - (len(raw) - SLOT_BYTES) - 16)] + " [cut]"
            os.pwrite(fd, raw.ljust(SLOT_BYTES, b"\0"), 0)
            os.fsync(fd)
        except OSError:
            log.exception("writing the outcome slot of job %d failed", job_id)
        finally:
            os.close(fd)

    def _read_slot(self, job_id: int) -> dict[str, Any] | None:
        try:
            raw = self._slot(job_id).read_bytes().rstrip(b"\0")
        except OSError:
            return None
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            return None
        if (not isinstance(data, dict) or data.get("state") not in FINAL or not isinstance(data.get("result"), str)
                or not isinstance(data.get("finished_at"), int | float)):
            return None
        return data

    def _drop_slot(self, job_id: int) -> None:
        try:
            self._slot(job_id).unlink()
        except OSError:
            pass

    def _overlay(self, job: Job) -> Job:
        """A running job whose outcome is in its slot but not yet in its row, as finished."""
        if job.state != "running":
            return job
        done = self._read_slot(job.id)
        if done is None:
            return job
        return replace(job, state=done["state"], result=done["result"], finished_at=float(done["finished_at"]),
                       lease_owner=None, lease_expires=None)

    def recover(self, *, all_running: bool = False) -> list[Job]:
        """Settle orphaned running jobs (see the module docstring); returns them in their new state.

        A job whose outcome is in its slot gets that outcome (it finished; it is not run again).
        Otherwise a job with a newer job of the same dedup key is superseded, and the others are
        requeued once. `all_running=True` treats every running job as orphaned: pass it only
        while holding the data-dir lock, when no other worker can be alive.
        """
        now = self.clock()
        changed = []
        with self._tx() as db:
            for row in db.execute("SELECT * FROM jobs WHERE state = 'running' ORDER BY id").fetchall():
                expired = row["lease_expires"] is not None and row["lease_expires"] < now
                if not (all_running or expired or _owner_dead(row["lease_owner"])):
                    continue
                done = self._read_slot(row["id"])
                newer = None if row["dedup_key"] is None else db.execute(
                    "SELECT id FROM jobs WHERE dedup_key = ? AND id > ? ORDER BY id DESC LIMIT 1",
                    (row["dedup_key"], row["id"])).fetchone()
                finished: float | None = now
                if done is not None:
                    state, note, finished = done["state"], done["result"], float(done["finished_at"])
                elif newer is not None:
                    state = "superseded"
                    note = f"interrupted on attempt {row['attempts']}; superseded by job {newer['id']}, not rerun"
                elif row["attempts"] < MAX_ATTEMPTS:
                    state = "queued"
                    note = f"interrupted on attempt {row['attempts']}; requeued once"
                    finished = None
                else:
                    state = "failed"
                    note = f"interrupted on attempt {row['attempts']}; not retried again"
                db.execute(
                    "UPDATE jobs SET state = ?, result = ?, lease_owner = NULL, lease_expires = NULL,"
                    " finished_at = ? WHERE id = ?",
                    (state, note, finished, row["id"]),
                )
                changed.append(row["id"])
            jobs = [self._job(db, i) for i in changed]
        for i in changed:
            self._drop_slot(i)
        if jobs:
            self.notify()
        return jobs

    # --- reading -------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        row = self._db().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._overlay(_to_job(row)) if row else None

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
        return [self._overlay(_to_job(r)) for r in rows]

    def delivery_count(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]


def _to_job(row: sqlite3.Row) -> Job:
    """The job in `row`; a row that does not parse comes back with `problem` set, never raises."""
    problems = []
    try:
        payload = json.loads(row["payload"])
    except (TypeError, ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        problems.append("its payload is not a JSON object")
        payload = {}

    def num(name: str, kind: type = float) -> Any:
        v = row[name]
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool)):
            return None if v is None else kind(v)
        problems.append(f"{name} is not a number")
        return None

    def text(name: str) -> str | None:
        v = row[name]
        if v is None or isinstance(v, str):
            return v
        problems.append(f"{name} is not text")
        return str(v)

    state = text("state")
    if state not in STATES:
        problems.append(f"unknown state {state!r}")
    return Job(
        id=row["id"], kind=text("kind") or "", environment=text("environment"), dedup_key=text("dedup_key"),
        payload=payload, delivery_id=text("delivery_id"), state=state or "failed",
        attempts=num("attempts", int) or 0, lease_owner=text("lease_owner"), lease_expires=num("lease_expires"),
        created_at=num("created_at") or 0.0, started_at=num("started_at"), finished_at=num("finished_at"),
        result=text("result") or "", problem="; ".join(problems),
    )


def _sqlite_trouble(message: str) -> str:
    """"disk full" / "I/O error" / "read-only file system" for SQLite's words for them ("" otherwise)."""
    m = message.lower()
    if "disk is full" in m:
        return "disk full"
    if "disk i/o error" in m:
        return "I/O error"
    if "readonly" in m or "read-only" in m:
        return "read-only file system"
    return ""
