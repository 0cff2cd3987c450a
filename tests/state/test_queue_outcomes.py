"""The queue's outcome slots and its superseding rules, on a real (full) tmpfs; no engine needed."""

from __future__ import annotations

import sqlite3

from gitdeploy.server.queue import JobQueue, JobSpec, Superseded
from gitdeploy.server.worker import WorkerPool
from tests.fullfs import small_fs


def raw(q: JobQueue, job_id: int) -> tuple[str, int]:
    db = sqlite3.connect(q.path)
    try:
        return db.execute("SELECT state, attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
    finally:
        db.close()


def test_a_job_finished_on_a_full_disk_is_done_to_readers_retried_and_never_rerun(tmp_path):
    with small_fs(tmp_path / "data", "1m") as fs:
        q = JobQueue(fs.root / "queue.sqlite3")
        job_id = q.enqueue(JobSpec("deploy", {"sha": "a"}, "production"))
        ran = []

        def handler(job):
            ran.append(job.id)
            fs.fill()  # the disk fills up while the job runs
            return "deployed a"

        pool = WorkerPool(q, {"deploy": handler}, workers=1)
        pool.run_job(q.claim("w1", ["deploy"]), "w1")
        assert raw(q, job_id) == ("running", 1)  # the row could not be written...
        job = q.get(job_id)
        assert (job.state, job.result) == ("done", "deployed a")  # ...readers see the outcome anyway
        assert [j.state for j in q.recent()] == ["done"]
        assert not pool.flush_pending()  # still full: kept in memory

        # a restart (a new queue object, as after kill -9) with space again: applied, not requeued
        fs.free()
        q2 = JobQueue(q.path)
        [settled] = q2.recover(all_running=True)
        assert (settled.state, settled.result, settled.attempts) == ("done", "deployed a", 1)
        assert q2.claim("w2", ["deploy"]) is None and ran == [job_id]
        q.close()
        q2.close()


def test_the_worker_writes_the_row_once_there_is_space(tmp_path):
    with small_fs(tmp_path / "data", "1m") as fs:
        q = JobQueue(fs.root / "queue.sqlite3")
        job_id = q.enqueue(JobSpec("deploy", {}, "production"))
        pool = WorkerPool(q, {"deploy": lambda job: fs.fill() or "ok"}, workers=1)
        pool.run_job(q.claim(pool.owner_prefix + ":w0", ["deploy"]), pool.owner_prefix + ":w0")
        assert raw(q, job_id)[0] == "running"
        fs.free()
        assert pool.flush_pending()
        assert raw(q, job_id)[0] == "done" and not list(q.slots.iterdir())
        q.close()


def test_no_job_starts_without_room_for_its_outcome(tmp_path):
    with small_fs(tmp_path / "data", "1m") as fs:
        q = JobQueue(fs.root / "queue.sqlite3")
        job_id = q.enqueue(JobSpec("deploy", {}, "production"))
        fs.fill()
        try:
            q.claim("w", ["deploy"])
        except Exception as exc:  # noqa: BLE001 - the claim refuses; what matters is the row
            assert "disk full" in str(exc)
        else:
            raise AssertionError("claimed a job with no room for its outcome")
        fs.free()
        assert raw(q, job_id) == ("queued", 0)
        assert q.claim("w", ["deploy"]).id == job_id
        q.close()


def test_an_orphan_with_a_newer_job_of_its_key_is_superseded_not_requeued(tmp_path):
    q = JobQueue(tmp_path / "queue.sqlite3")
    old = q.enqueue(JobSpec("deploy", {"sha": "a"}, "production"))
    assert q.claim("dead:1:x", ["deploy"]).id == old
    new = q.enqueue(JobSpec("deploy", {"sha": "b"}, "production"))
    [orphan] = q.recover(all_running=True)
    assert orphan.id == old and orphan.state == "superseded" and f"superseded by job {new}" in orphan.result
    assert q.claim("w", ["deploy"]).id == new
    q.close()


def test_a_handler_raising_superseded_ends_the_job_superseded(tmp_path):
    q = JobQueue(tmp_path / "queue.sqlite3")
    job_id = q.enqueue(JobSpec("deploy", {}, "production"))

    def handler(job):
        raise Superseded("superseded: b123456 is newer on main (the head now); a123456 was not deployed")

    WorkerPool(q, {"deploy": handler}, workers=1).run_job(q.claim("w", ["deploy"]), "w")
    job = q.get(job_id)
    assert job.state == "superseded" and "b123456 is newer" in job.result
    q.close()
