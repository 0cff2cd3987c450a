"""The worker pool with real (small) handlers: dispatch, failures, per-environment order, stop."""

from __future__ import annotations

import threading
import time

import pytest

from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import Job, JobQueue, JobSpec
from gitdeploy.server.worker import WorkerPool


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def queue(tmp_path):
    q = JobQueue(tmp_path / "q.sqlite3")
    yield q
    q.close()


def test_jobs_run_and_record_results_and_metrics(queue):
    ran: list[int] = []

    def ok(job: Job) -> str:
        ran.append(job.id)
        return f"planned {job.payload['pr']}"

    def crash(job: Job) -> str:
        raise ValueError("bad payload")

    metrics = Metrics()
    pool = WorkerPool(queue, {"plan": ok, "command": crash}, metrics, workers=2)
    pool.start()
    try:
        a = queue.enqueue(JobSpec("plan", {"pr": 1}, "prod"))
        b = queue.enqueue(JobSpec("command", {"pr": 1}))
        c = queue.enqueue(JobSpec("plan", {"pr": 2}, "prod"))
        wait_until(lambda: queue.stats()["queued"] == 0 and queue.stats()["running"] == 0)
    finally:
        assert pool.stop(10)
    assert (queue.get(a).state, queue.get(a).result) == ("done", "planned 1")
    assert (queue.get(b).state, queue.get(b).result) == ("failed", "ValueError: bad payload")
    assert queue.get(c).state == "done"
    assert ran == [a, c]
    assert metrics.jobs.labels("plan", "done")._value.get() == 2
    assert metrics.jobs.labels("command", "failed")._value.get() == 1


def test_user_errors_keep_their_hint_and_deploys_are_counted(queue):
    from tests.server.handlers import broken

    metrics = Metrics()
    pool = WorkerPool(queue, {"deploy": broken}, metrics, workers=1)
    pool.start()
    try:
        job_id = queue.enqueue(JobSpec("deploy", {}, "prod"))
        wait_until(lambda: queue.get(job_id).state == "failed")
    finally:
        pool.stop(10)
    assert queue.get(job_id).result == "cannot reach the engine\n  hint: start Docker"
    assert metrics.deploys.labels("prod", "failed")._value.get() == 1


def test_one_environment_runs_serially_while_others_run_in_parallel(queue):
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    lock = threading.Lock()

    def handler(job: Job) -> str:
        env = job.environment or "-"
        with lock:
            active[env] = active.get(env, 0) + 1
            peak[env] = max(peak.get(env, 0), active[env])
        time.sleep(0.05)
        with lock:
            active[env] -= 1
        return ""

    pool = WorkerPool(queue, {"deploy": handler, "plan": handler}, workers=4)
    for i in range(4):
        queue.enqueue(JobSpec("plan", {"i": i}, "prod"))
        queue.enqueue(JobSpec("plan", {"i": i}, "staging"))
    pool.start()
    try:
        wait_until(lambda: queue.stats()["done"] == 8)
    finally:
        pool.stop(10)
    assert peak == {"prod": 1, "staging": 1}


def test_unhandled_kinds_stay_queued(queue):
    pool = WorkerPool(queue, {"plan": lambda job: "ok"}, workers=1)
    pool.start()
    try:
        other = queue.enqueue(JobSpec("release", {}, "prod"))
        plan = queue.enqueue(JobSpec("plan", {}, "prod"))
        wait_until(lambda: queue.get(plan).state == "done")
    finally:
        pool.stop(10)
    assert queue.get(other).state == "queued"


def test_idle_workers_wake_on_enqueue_not_on_a_poll(queue):
    done = threading.Event()
    pool = WorkerPool(queue, {"plan": lambda job: done.set() or "ok"}, workers=2, idle_timeout=60)
    pool.start()
    try:
        time.sleep(0.1)  # both workers are asleep now
        started = time.monotonic()
        queue.enqueue(JobSpec("plan", {}, "prod"))
        assert done.wait(5)
        assert time.monotonic() - started < 2
    finally:
        assert pool.stop(5)


def test_stop_lets_the_running_job_finish(queue):
    release = threading.Event()
    pool = WorkerPool(queue, {"plan": lambda job: release.wait(5) and "finished"}, workers=1)
    pool.start()
    job_id = queue.enqueue(JobSpec("plan", {}, "prod"))
    wait_until(lambda: queue.get(job_id).state == "running")
    threading.Timer(0.1, release.set).start()
    assert pool.stop(10)
    assert (queue.get(job_id).state, queue.get(job_id).result) == ("done", "finished")


def test_leases_are_renewed_while_a_job_runs(tmp_path):
    q = JobQueue(tmp_path / "q.sqlite3", lease_seconds=1)
    release = threading.Event()
    pool = WorkerPool(q, {"plan": lambda job: release.wait(5) and "ok"}, workers=1, heartbeat=0.1)
    pool.start()
    try:
        job_id = q.enqueue(JobSpec("plan", {}, "prod"))
        wait_until(lambda: q.get(job_id).state == "running")
        time.sleep(1.5)  # longer than the lease
        assert q.recover() == []  # still ours: the heartbeat kept the lease alive
    finally:
        release.set()
        pool.stop(10)
        q.close()
