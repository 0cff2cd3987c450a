"""The real server: `python -m webhook` under waitress in a subprocess, real HMAC signatures.

The crash test kills the server with SIGKILL while jobs are queued and one or two are mid-run,
restarts it, and checks the queue's promise: every accepted job ends `done`; a job queued (or
done) at the kill runs exactly once; a job `running` at the kill runs exactly once more
(attempts == 2; its handler saw it twice if the first run had started, which is why handlers
must be idempotent).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
import requests

from tests.serverproc import free_port

from .conftest import payload, sign
from .process import REPO


def pr_opened(number: int) -> dict:
    p = payload("pull_request/opened")
    p["number"] = p["pull_request"]["number"] = number
    return p


def pr_command(number: int) -> dict:
    p = payload("issue_comment/created")
    p["issue"]["number"] = number
    p["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/Codertocat/Hello-World/pulls/{number}"}
    p["comment"]["body"] = "/plan"
    return p


def test_signatures_limits_ping_replay_and_sigterm(make_server):
    server = make_server(sleep=0.3, max_body=100_000)
    server.start()
    body = pr_opened(7)
    assert server.deliver("pull_request", body, "x-1", signature=None).status_code == 401
    assert server.deliver("pull_request", body, "x-2", signature=sign(b"{}")).status_code == 401
    assert server.deliver("pull_request", body, "x-3", signature=sign(json.dumps(body).encode(), "wrong")).status_code == 401
    assert server.deliver("pull_request", b"x" * 150_000, "x-4").status_code == 413
    assert sum(server.stats().values()) == 0  # nothing queued by any of them

    ping = server.deliver("ping", payload("ping/created"), "p-1")
    assert ping.status_code == 200 and ping.json()["zen"] == "Anything added dilutes everything else."

    first = server.deliver("pull_request", body, "same-delivery")
    again = server.deliver("pull_request", body, "same-delivery")
    assert first.status_code == 202 and again.status_code == 200 and again.json()["duplicate"]
    (job_id,) = first.json()["jobs"]
    server.wait_idle(done=1)
    assert server.lines() == [f"start {job_id}", f"done {job_id}"]

    metrics = requests.get(f"{server.url}/metrics", timeout=5).text
    assert 'gitdeploy_webhook_deliveries_total{event="pull_request",result="bad_signature"} 3.0' in metrics
    assert 'gitdeploy_jobs_total{kind="plan",result="done"} 1.0' in metrics

    # SIGTERM while a job runs: the job finishes, then the server exits cleanly.
    (slow_id,) = server.deliver("pull_request", pr_opened(8), "y-1").json()["jobs"]
    deadline = time.monotonic() + 10
    while f"start {slow_id}" not in server.lines():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0, server.output()
    assert f"done {slow_id}" in server.lines()
    assert server.jobs()[slow_id].state == "done"


def test_a_second_server_on_the_same_data_dir_is_refused(make_server, tmp_path):
    server = make_server(sleep=0)
    server.start()
    other = subprocess.run(
        [sys.executable, "-m", "webhook", "--config", str(server.config),
         "--handlers", "tests.server.handlers:REGISTRY"],
        cwd=REPO, env={**server.env, "GITDEPLOY_LISTEN": f"127.0.0.1:{free_port()}"},
        capture_output=True, text=True, timeout=30,
    )
    assert other.returncode == 1
    assert "another gitdeploy server is running" in other.stderr and "Traceback" not in other.stderr


def test_kill_9_loses_no_job_and_reruns_only_the_interrupted_ones(make_server):
    server = make_server(sleep=0.4, workers=2)
    server.start()
    job_ids = []
    for n in range(1, 11):  # plans are serial (one environment), commands run beside them
        for event, body in (("pull_request", pr_opened(n)), ("issue_comment", pr_command(n))):
            started = time.monotonic()
            r = server.deliver(event, body, f"{event}-{n}")
            assert r.status_code == 202 and time.monotonic() - started < 1.0  # no work in the request
            job_ids += r.json()["jobs"]
    assert len(job_ids) == 20

    # Kill once a few jobs are done and at least one is mid-run.
    deadline = time.monotonic() + 30
    while True:
        stats = server.stats()
        if stats["done"] >= 3 and stats["running"] >= 1:
            break
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.01)
    server.kill9()
    before = server.lines()
    started_before = {int(x.split()[1]) for x in before if x.startswith("start")}
    done_before = {int(x.split()[1]) for x in before if x.startswith("done")}
    # The queue is the truth about the kill: `running` rows are the interrupted jobs (a job may
    # be claimed but not yet logged "start", or logged "done" but not yet committed).
    at_kill = {job_id: job.state for job_id, job in server.jobs().items()}
    running = {j for j, state in at_kill.items() if state == "running"}
    queued = {j for j, state in at_kill.items() if state == "queued"}
    finished = {j for j, state in at_kill.items() if state == "done"}
    assert running and queued and finished
    assert running | queued | finished == set(job_ids)
    assert started_before - done_before <= running

    server.start()
    server.wait_idle(done=20)
    jobs = server.jobs()
    assert {j.state for j in jobs.values()} == {"done"} and set(jobs) == set(job_ids)
    starts = Counter(int(x.split()[1]) for x in server.lines() if x.startswith("start"))
    dones = Counter(int(x.split()[1]) for x in server.lines() if x.startswith("done"))
    for job_id in queued | finished:  # ran exactly once
        assert (starts[job_id], dones[job_id], jobs[job_id].attempts) == (1, 1, 1), job_id
    for job_id in running:  # interrupted: requeued once and run to the end exactly once more
        assert jobs[job_id].attempts == 2, job_id
        assert starts[job_id] == 1 + (job_id in started_before), job_id
        assert dones[job_id] == 1 + (job_id in done_before), job_id
    assert "was interrupted by a crash" in server.output()


def test_a_busy_port_is_a_clear_error(tmp_path):
    from gitdeploy.errors import GitdeployError
    from gitdeploy.server.datadir import lock_data_dir
    from webhook.serve import serve

    from .conftest import make_config

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        config = make_config(tmp_path / "data", port=busy.getsockname()[1])
        with pytest.raises(GitdeployError, match="cannot listen on 127.0.0.1"):
            serve(config, {})
    os.close(lock_data_dir(config.data_dir))  # the failed start released the data-dir lock
