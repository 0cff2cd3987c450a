"""Queue semantics: atomic delivery + jobs, dedup, supersede, per-environment serial, recovery."""

from __future__ import annotations

import threading

import pytest

from gitdeploy.server.queue import MAX_ATTEMPTS, JobQueue, JobSpec


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def queue(tmp_path, clock):
    q = JobQueue(tmp_path / "q.sqlite3", clock=clock, lease_seconds=60)
    yield q
    q.close()


def deploy(env: str, sha: str) -> JobSpec:
    return JobSpec("deploy", {"sha": sha}, env)


def test_a_replayed_delivery_is_acknowledged_but_not_requeued(queue):
    first = queue.accept("d-1", "push", [deploy("prod", "a")])
    again = queue.accept("d-1", "push", [deploy("prod", "a")])
    assert not first.duplicate and again.duplicate
    assert again.job_ids == first.job_ids
    assert queue.stats()["queued"] == 1
    assert queue.delivery_count() == 1


def test_a_delivery_without_jobs_is_still_recorded(queue):
    assert queue.accept("d-1", "star", []).job_ids == ()
    assert queue.accept("d-1", "star", []).duplicate


def test_delivery_and_jobs_are_one_transaction(queue):
    class Boom(JobSpec):
        def key(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        queue.accept("d-1", "push", [deploy("prod", "a"), Boom("plan")])
    assert queue.delivery_count() == 0
    assert queue.stats()["queued"] == 0
    assert not queue.accept("d-1", "push", [deploy("prod", "a")]).duplicate


def test_a_new_deploy_supersedes_older_queued_deploys_of_its_environment(queue):
    (a,) = queue.accept("d-1", "push", [deploy("prod", "a")]).job_ids
    (s,) = queue.accept("d-2", "push", [deploy("staging", "s")]).job_ids
    (b,) = queue.accept("d-3", "push", [deploy("prod", "b")]).job_ids
    assert queue.get(a).state == "superseded"
    assert queue.get(a).result == f"superseded by job {b}"
    assert queue.get(s).state == "queued" and queue.get(b).state == "queued"


def test_a_running_deploy_is_not_superseded(queue):
    (a,) = queue.accept("d-1", "push", [deploy("prod", "a")]).job_ids
    assert queue.claim("w").id == a
    (b,) = queue.accept("d-2", "push", [deploy("prod", "b")]).job_ids
    assert queue.get(a).state == "running" and queue.get(b).state == "queued"


def test_jobs_of_one_environment_run_one_at_a_time_in_order(queue):
    p1 = queue.enqueue(JobSpec("plan", {"pr": 1}, "prod"))
    p2 = queue.enqueue(JobSpec("plan", {"pr": 2}, "prod"))
    s1 = queue.enqueue(JobSpec("plan", {"pr": 3}, "staging"))
    c1 = queue.enqueue(JobSpec("command", {"pr": 4}))
    c2 = queue.enqueue(JobSpec("command", {"pr": 5}))
    claimed = [queue.claim("w").id for _ in range(4)]
    assert claimed == [p1, s1, c1, c2]  # p2 waits for p1; env-less jobs run in parallel
    assert queue.claim("w") is None
    assert queue.complete(p1, "w", "ok")
    assert queue.claim("w").id == p2


def test_claim_only_takes_kinds_it_can_handle(queue):
    queue.enqueue(JobSpec("release", {}, "prod"))
    plan = queue.enqueue(JobSpec("plan", {}, "prod"))
    assert queue.claim("w", kinds=["plan"]).id == plan
    assert queue.claim("w", kinds=[]) is None


def test_claims_are_atomic_across_threads(tmp_path):
    q = JobQueue(tmp_path / "q.sqlite3")
    ids = {q.enqueue(JobSpec("command", {"n": i})) for i in range(60)}
    got: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job := q.claim(name)) is not None:
            with lock:
                got.append(job.id)
            q.complete(job.id, name)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    q.close()
    assert sorted(got) == sorted(ids)  # each job exactly once


def test_complete_and_fail_record_the_result_only_for_the_lease_owner(queue):
    job = queue.claim("w") if queue.enqueue(JobSpec("plan", {}, "prod")) else None
    assert not queue.complete(job.id, "someone-else", "x")
    assert queue.fail(job.id, "w", "boom")
    done = queue.get(job.id)
    assert (done.state, done.result, done.attempts, done.lease_owner) == ("failed", "boom", 1, None)


def test_recovery_requeues_an_interrupted_job_exactly_once(queue, clock):
    job_id = queue.enqueue(JobSpec("deploy", {"sha": "a"}, "prod"))
    assert queue.claim("w").attempts == 1
    # The process dies; a new server (holding the data-dir lock) recovers at start.
    (recovered,) = queue.recover(all_running=True)
    assert (recovered.id, recovered.state, recovered.attempts) == (job_id, "queued", 1)
    assert "requeued once" in recovered.result
    assert queue.claim("w2").attempts == MAX_ATTEMPTS
    # Interrupted again: not retried a third time.
    (failed,) = queue.recover(all_running=True)
    assert failed.state == "failed" and "not retried" in failed.result


def test_recovery_without_the_lock_uses_the_lease_and_the_owner_pid(queue, clock):
    from gitdeploy.server.queue import process_owner

    alive = queue.enqueue(JobSpec("command", {}))
    expired = queue.enqueue(JobSpec("command", {}))
    dead = queue.enqueue(JobSpec("command", {}))
    queue.claim(process_owner("w"))
    queue.claim("otherhost:1:x")
    queue.claim(f"{process_owner().split(':')[0]}:999999999:x")  # this host, no such pid
    assert [j.id for j in queue.recover()] == [dead]
    clock.now += 61
    assert [j.id for j in queue.recover()] == [alive, expired]  # leases expired


def test_renew_extends_the_leases_of_one_owner(queue, clock):
    queue.enqueue(JobSpec("command", {}))
    job = queue.claim("host:1:tok:w0")
    clock.now += 50
    assert queue.renew("host:1:tok") == 1
    assert queue.get(job.id).lease_expires == clock.now + 60


def test_stats_and_recent(queue):
    for i in range(3):
        queue.enqueue(JobSpec("command", {"n": i}))
    queue.complete(queue.claim("w").id, "w", "ok")
    assert queue.stats() == {"queued": 2, "running": 0, "done": 1, "failed": 0, "superseded": 0}
    assert [j.payload["n"] for j in queue.recent(2)] == [2, 1]
    assert [j.state for j in queue.recent(state="done")] == ["done"]


def test_wait_for_work_wakes_on_enqueue(queue):
    seen = queue.generation()
    threading.Timer(0.05, lambda: queue.enqueue(JobSpec("command", {}))).start()
    import time

    started = time.monotonic()
    queue.wait_for_work(seen, 10)
    assert time.monotonic() - started < 5
