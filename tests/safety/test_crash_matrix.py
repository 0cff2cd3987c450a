"""Kill it and look: `gitdeploy deploy` is killed with SIGKILL at every step boundary, and the
next command must converge and the history must stay true.

The kill points come from the deploy journal itself (GITDEPLOY_FAILPOINT=journal:N kills the
process right after its N-th journal record is durable), not from sleeps: every boundary of a
start-first replace, a stop-first replace (host port), a health-checked and a plain service,
and of a failing deploy and its rollback, is hit exactly - every run of the suite, no sampling.

After each kill, the next command (a deploy) must:
- recover first and exit 0;
- leave every replica at the target or at the last verified revision, healthy, and reachable
  by name from another container on the system's network;
- keep refs/gitdeploy/<env> on a commit whose last attempt is `ok` - never one that failed or
  was interrupted - and record the killed attempt (as `interrupted`, or `ok` when it had been
  verified before the kill).

How it stays quick (the checks are the same for every kill point):
- each `gitdeploy` command is a real separate process, forked from a warm interpreter that has
  imported gitdeploy already (tests/safety/warm.py): the killed one kills itself mid-step as
  before, without paying Python's start-up twice per kill point;
- each scenario's kill points are dealt round robin to CHUNKS test items, each with its own
  system and spec repository, so that both xdist workers stay busy to the end.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from pathlib import Path

import pytest

from gitdeploy import pipeline
from gitdeploy.deploy.journal import Journal
from gitdeploy.deploy.journal import read as journal_read
from gitdeploy.history.notes import attempts, deployed_commit
from tests.conftest import _cleanup
from tests.hooks.helpers import clean_env, free_port
from tests.safety.common import svc, web
from tests.safety.warm import Warm
from tests.specrepo import SpecRepo

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

CHUNKS = 4  # test items per scenario; chunk c gets the kill points N with (N - 1) % CHUNKS == c
RETRIES = 3  # tries of a kill point whose run happened to journal fewer than N records (see below)


def spec(system: str, version: str, port: int, fail: bool = False) -> dict:
    api = web(version, rollout={"deadline": "3s", "drain": "0.1s"},
              healthcheck={"test": ["CMD", "wget", "-q", "-O-", "http://127.0.0.1/"], "interval": "0.2s",
                           "timeout": "2s", "retries": 3})
    if fail:  # never healthy: the gate fails, the deploy rolls back
        api["command"] = ["sh", "-c", "exit 3"]
    front = svc(command=["sh", "-c", f"echo {version} >/dev/null; exec sleep 3600"],
                ports=[f"127.0.0.1:{port}:8080"])  # a host port: stop-first
    worker = svc(command=["sh", "-c", f"echo {version} >/dev/null; exec sleep 3600"],
                 rollout={"monitor": "0.2s", "drain": "0s"})
    return {"system": system, "services": {"api": api, "front": front, "worker": worker}}


@pytest.fixture(scope="module")
def warm():
    w = Warm()
    yield w
    w.close()


def run(warm: Warm, spec_repo, *args: str, failpoint: int | None = None):
    env = clean_env()
    if failpoint is not None:
        env["GITDEPLOY_FAILPOINT"] = f"journal:{failpoint}"
    return warm.run("--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir), *args, env=env,
                    timeout=240)


def journal_records(warm, spec_repo, rev: str) -> int:
    """How many records a whole deploy of `rev` writes: intent, execute, one per op (a stop or a
    drain two: `sending` before its request, then done), verified, record, recorded (a failing
    one: rollback and rolled-back too, and the rollback's ops)."""
    out = run(warm, spec_repo, "plan", "--rev", rev, "--format", "json")
    plan = json.loads(out.stdout)
    ops = [op["op"] for step in plan["steps"] for phase in step["rollout"] for op in phase]
    return 1 + 1 + len(ops) + sum(op in ("stop", "drain") for op in ops) + 3


NAMES = ("api", "front", "worker")


def reachable(docker_client, system: str) -> dict[str, bool]:
    """Name resolution as another service sees it: from inside a running worker container, one
    exec for all names (bit i of its exit code set: NAMES[i] did not resolve)."""
    (worker,) = docker_client.containers.list(filters={"label": [f"io.gitdeploy.system={system}",
                                                                  "io.gitdeploy.service=worker"]})
    script = "; ".join(f"nslookup {n} >/dev/null 2>&1 || r=$((r | {1 << i}))" for i, n in enumerate(NAMES))
    # the exit code, not output: a short exec's output can be lost to an attach race under load
    code = worker.exec_run(["sh", "-c", f"r=0; {script}; exit $r"]).exit_code
    assert code is not None and 0 <= code < 1 << len(NAMES), code
    return {n: not code & (1 << i) for i, n in enumerate(NAMES)}


def assert_converged(spec_repo, docker_client, system: str, rev: str) -> None:
    ctx = spec_repo.ctx()
    v = pipeline.check_verified(ctx, pipeline.prepare(ctx, rev))
    assert v.ok, v.problems
    assert reachable(docker_client, system) == dict.fromkeys(NAMES, True)
    repo = spec_repo.repo
    ref = deployed_commit(repo, "production")
    assert ref == repo.commit(rev).hexsha
    last = next(a for a in attempts(repo, "production") if a.commit == ref)
    assert last.result == "ok", last


def kill(warm, spec_repo, new_target, kill_at: int, retry: bool) -> str:
    """Deploy a new revision (new_target() commits one) killed after its kill_at-th journal
    record; returns the revision.

    `retry` (a failing deploy): how many records its rollback writes varies a little from run to
    run (the failed container may have exited before the rollback plans: no stop for it), so a
    run that ends by itself (failed, rolled back) before its kill_at-th record was no run to kill
    there: the kill point is tried again with a fresh revision, up to RETRIES runs in all."""
    for _ in range(RETRIES if retry else 1):
        target = new_target()
        killed = run(warm, spec_repo, "deploy", "--rev", target, failpoint=kill_at)
        if killed.returncode == -9:
            return target
        if not retry or killed.returncode != 1 or "Traceback" in killed.stdout + killed.stderr:
            break
    raise AssertionError(f"not killed at journal record {kill_at}: exit {killed.returncode}\n"
                         f"{killed.stdout}\n{killed.stderr}")


def kill_then_rerun(warm, spec_repo, docker_client, system, new_target, kill_at, then_rev=None,
                    retry: bool = False) -> str:
    """Kill a deploy of a new revision at kill_at, then deploy then_rev (None: the killed
    revision itself) and check everything; returns the killed revision."""
    target = kill(warm, spec_repo, new_target, kill_at, retry)
    then_rev = then_rev or target
    journal = spec_repo.data_dir / "envs" / "production" / "journal.json"
    assert journal.exists(), "a killed deploy leaves its journal"
    left = journal_read(journal.parent)
    phases = left.phases if left is not None else []  # how far the killed attempt got, by its own journal
    again = run(warm, spec_repo, "deploy", "--rev", then_rev)
    assert again.returncode == 0, (kill_at, again.stdout, again.stderr)
    said = again.stderr + again.stdout
    assert "interrupted" in said or "only its journal was left" in said, said
    assert not journal.exists()
    assert_converged(spec_repo, docker_client, system, then_rev)
    target_sha = spec_repo.repo.commit(target).hexsha
    mine = [a for a in attempts(spec_repo.repo, "production") if a.commit == target_sha]
    assert mine, "the killed attempt is in the history"
    # interrupted; or ok when it had been verified; or, killed after its own record of a rollback
    # that was verified, that record alone
    assert mine[0].result in ("interrupted", "ok", "rolled-back") and mine[0].trigger != "recover", mine[:2]
    # (judged by the phases the killed attempt journaled: how many records an attempt writes varies a
    # little from run to run, e.g. a drain that ends early, so a record count cannot say it)
    if mine[0].result == "ok":  # only when it was killed after its verification
        assert "verified" in phases or then_rev == target, (kill_at, phases)
    if mine[0].result == "rolled-back":  # only when it was killed after recording itself
        assert "record" in phases and "rolled-back" in phases, (kill_at, phases)
    return target


def kill_points(total: int, chunk: int) -> list[int]:
    return [n for n in range(1, total + 1) if (n - 1) % CHUNKS == chunk]


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_killed_at_every_boundary_of_a_replace_the_next_deploy_converges(
        chunk, warm, spec_repo, system_name, docker_client, base_image):
    """The next command is a deploy of the last verified revision (it recovers, then has nothing
    to do) - and every fifth time a deploy of the killed target itself (recovers, then deploys).
    Together the chunks kill at every boundary 1..N of one replace."""
    port = free_port()
    verified = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "v0", port)})
    assert run(warm, spec_repo, "deploy").returncode == 0
    probe = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "v-probe", port)})
    total = journal_records(warm, spec_repo, probe)
    assert total >= 20  # 3 services, every op kind of both orders
    versions = iter(range(1, 10**6))

    def new_target() -> str:  # a new revision of every service each time: the same boundaries are crossed
        return spec_repo.commit({"gitdeploy.yaml": spec(system_name, f"v{next(versions)}", port)})

    for kill_at in kill_points(total, chunk):
        if kill_at % 5 == 0:  # then the killed target itself: it becomes the verified revision
            verified = kill_then_rerun(warm, spec_repo, docker_client, system_name, new_target, kill_at)
        else:
            kill_then_rerun(warm, spec_repo, docker_client, system_name, new_target, kill_at, verified)
    # the ref ends on the last revision that was verified, and that revision's newest attempt is ok
    # (a target that was interrupted and then deployed again has an `interrupted` attempt too)
    ref = deployed_commit(spec_repo.repo, "production")
    assert ref == spec_repo.repo.commit(verified).hexsha
    assert next(a for a in attempts(spec_repo.repo, "production") if a.commit == ref).result == "ok"


@pytest.fixture(scope="module")
def failing_total(tmp_path_factory, docker_client, base_image) -> int:
    """How many records a whole failing deploy and its rollback journal: one such deploy, run
    whole in-process on a system of its own and counted (a hook on Journal). Once per run: the
    xdist workers share the figure through a file in their common temp folder (under a lock)."""
    base = tmp_path_factory.getbasetemp()  # under xdist: <run>/popen-gwN, <run> is this run's alone
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "crash-matrix-failing-total"
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if shared.exists():
            return int(shared.read_text())
        total = _count_failing(tmp_path_factory.mktemp("count"), docker_client)
        shared.write_text(str(total))
        return total


def _count_failing(tmp: Path, docker_client) -> int:
    system = f"t{uuid.uuid4().hex[:8]}"
    repo = SpecRepo.create(tmp, docker_client)
    n = [0]
    orig = Journal._counted

    def counted(self) -> None:
        n[0] += 1
        orig(self)

    try:
        port = free_port()
        repo.commit({"gitdeploy.yaml": spec(system, "a", port)})
        assert pipeline.deploy(repo.ctx()).ok
        bad = repo.commit({"gitdeploy.yaml": spec(system, "b", port, fail=True)})
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Journal, "_counted", counted)
            result = pipeline.deploy(repo.ctx(), bad)
        assert not result.ok and result.rolled_back and result.rollback_verified, result.failure
    finally:
        _cleanup(docker_client, system)
    return n[0]


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_killed_at_every_boundary_of_a_failing_deploy_and_its_rollback(
        chunk, warm, failing_total, spec_repo, system_name, docker_client, base_image):
    """Together the chunks kill at every boundary 1..N of a failing deploy and its rollback."""
    total = failing_total
    assert total > 10
    port = free_port()
    good = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "a", port)})
    assert run(warm, spec_repo, "deploy").returncode == 0
    repo = spec_repo.repo
    assert deployed_commit(repo, "production") == good
    versions = iter(range(1, 10**6))

    def new_target() -> str:  # a new failing revision each time (the failed one's containers are discarded anyway)
        return spec_repo.commit({"gitdeploy.yaml": spec(system_name, f"b{next(versions)}", port, fail=True)})

    for kill_at in kill_points(total, chunk):
        kill_then_rerun(warm, spec_repo, docker_client, system_name, new_target, kill_at, good, retry=True)
        assert deployed_commit(repo, "production") == good  # never a commit that failed
    assert not [a for a in attempts(repo, "production") if a.commit != good and a.result == "ok"]


def test_the_failpoint_is_off_unless_asked(monkeypatch):
    monkeypatch.delenv("GITDEPLOY_FAILPOINT", raising=False)
    from gitdeploy.deploy.journal import _failpoint
    assert _failpoint() is None
    monkeypatch.setenv("GITDEPLOY_FAILPOINT", "journal:3")
    assert _failpoint() == 3
