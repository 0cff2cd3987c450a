"""A small pool of worker threads that run queued jobs through the handler registry.

A handler is `Callable[[Job], str]`: it does the job and returns the result text stored with
it (e.g. "deployed 1a2b3c4 to production"). Raising marks the job `failed`: a GitdeployError
stores its message and hint; any other exception stores "<Type>: <message>" and logs the
traceback server-side. Handlers must be idempotent - a job interrupted by a crash runs again once.

A handler raising `Superseded` ends its job `superseded` (the job must not run any more, e.g. a
newer commit is the branch head). A job whose row is unreadable (`Job.problem`) fails without
running. When the outcome cannot be written (disk full), it is kept in memory and retried on
every pass of the worker loop; meanwhile the queue's outcome slot already shows it (see
gitdeploy.server.queue), so the job neither stays `running` to readers nor runs again.

Only kinds with a handler are claimed; jobs of other kinds wait in the queue for a server that
has one. Idle workers sleep on the queue's wake-up (enqueue, a job finishing) with a fallback
timeout for jobs enqueued by another process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from gitdeploy.errors import GitdeployError
from gitdeploy.fsutil import is_storage_error, storage_error
from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import Job, JobQueue, Superseded, process_owner

log = logging.getLogger(__name__)

Handler = Callable[[Job], str]


class WorkerPool:
    """`workers` threads claiming jobs from `queue` and dispatching them by kind to `handlers`."""

    def __init__(self, queue: JobQueue, handlers: Mapping[str, Handler], metrics: Metrics | None = None,
                 *, workers: int = 2, idle_timeout: float = 2.0, heartbeat: float | None = None) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.metrics = metrics
        self.workers = workers
        self.idle_timeout = idle_timeout
        # Renew leases well before they expire, so a long job is never mistaken for an orphan.
        self.heartbeat = heartbeat if heartbeat is not None else max(1.0, queue.lease_seconds / 4)
        self.owner_prefix = process_owner()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending: dict[int, tuple[str, str, str]] = {}  # job id -> (owner, state, text) not yet in the row
        self._pending_lock = threading.Lock()
        self._said: set[int] = set()

    def start(self) -> None:
        log.info("starting %d worker(s) for job kinds: %s", self.workers, ", ".join(sorted(self.handlers)) or "(none)")
        for i in range(self.workers):
            # Daemon threads: a handler stuck past stop()'s timeout must not keep the process alive;
            # its job stays `running` and is recovered at the next start.
            t = threading.Thread(target=self._run, args=(f"{self.owner_prefix}:w{i}",),
                                 name=f"gitdeploy-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        hb = threading.Thread(target=self._renew_leases, name="gitdeploy-lease-heartbeat", daemon=True)
        hb.start()
        self._threads.append(hb)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop claiming, let running jobs finish (up to `timeout`); True when all threads ended.

        A job still running after the timeout stays `running` in the queue and is recovered at
        the next start.
        """
        self._stop.set()
        self.queue.notify()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if not self.flush_pending():
            log.warning("outcomes of job(s) %s are only in their outcome slots; the next start applies them",
                        ", ".join(map(str, sorted(self._pending))))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("workers still busy after %.0fs: %s", timeout, ", ".join(alive))
        return not alive

    def _run(self, owner: str) -> None:
        while not self._stop.is_set():
            seen = self.queue.generation()
            self.flush_pending()
            try:
                job = self.queue.claim(owner, self.handlers)
            except GitdeployError as exc:  # a full disk: said plainly, tried again
                log.warning("cannot claim a job: %s; retrying", exc.message)
                job = None
            except Exception:  # noqa: BLE001 - a DB hiccup must not kill the worker
                log.exception("claiming a job failed; retrying")
                job = None
            if job is None:
                self.queue.wait_for_work(seen, self.idle_timeout)
                continue
            self.run_job(job, owner)

    def run_job(self, job: Job, owner: str) -> None:
        """Run one claimed job and record its outcome; never raises for a handler failure."""
        log.info("job %d (%s%s) started, attempt %d", job.id, job.kind,
                 f" @ {job.environment}" if job.environment else "", job.attempts)
        started = time.monotonic()
        try:
            if job.problem:
                raise GitdeployError(f"unreadable queue row: {job.problem}; not run")
            result = self.handlers[job.kind](job)
            outcome, text = "done", "" if result is None else str(result)
        except Superseded as exc:
            outcome, text = "superseded", str(exc)
            log.info("job %d (%s) superseded: %s", job.id, job.kind, exc.message)
        except GitdeployError as exc:
            outcome, text = "failed", str(exc)
            log.warning("job %d (%s) failed: %s", job.id, job.kind, exc)
        except Exception as exc:  # noqa: BLE001 - recorded as the job's failure; the worker lives on
            if is_storage_error(exc):  # a full or failing disk, said as such
                outcome, text = "failed", str(storage_error(exc))
                log.warning("job %d (%s) failed: %s", job.id, job.kind, text)
            else:
                outcome, text = "failed", f"{type(exc).__name__}: {exc}"
                log.exception("job %d (%s) raised", job.id, job.kind)
        seconds = time.monotonic() - started
        with self._pending_lock:
            self._pending[job.id] = (owner, outcome, text)
        self.flush_pending()
        if self.metrics is not None:
            self.metrics.job_finished(job.kind, job.environment, outcome, seconds)
        log.info("job %d (%s) %s in %.2fs", job.id, job.kind, outcome, seconds)

    def flush_pending(self) -> bool:
        """Write the outcomes not yet in their rows; True when none is left."""
        with self._pending_lock:
            for job_id, (owner, outcome, text) in sorted(self._pending.items()):
                record = {"done": self.queue.complete, "failed": self.queue.fail,
                          "superseded": self.queue.supersede}[outcome]
                try:
                    if not record(job_id, owner, text):
                        log.warning("job %d finished but was no longer leased to this worker", job_id)
                except GitdeployError as exc:
                    if job_id not in self._said:  # once per job: this is retried every pass
                        log.warning("recording the outcome of job %d: %s (kept; retrying)", job_id, exc.message)
                        self._said.add(job_id)
                    continue
                except Exception:  # noqa: BLE001 - kept in memory (and in its slot); retried
                    log.exception("recording the outcome of job %d failed", job_id)
                    continue
                del self._pending[job_id]
                self._said.discard(job_id)
            return not self._pending

    def _renew_leases(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                self.queue.renew(self.owner_prefix)
            except Exception:  # noqa: BLE001
                log.exception("renewing job leases failed")
