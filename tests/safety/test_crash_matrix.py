"""Kill it and look: `gitdeploy deploy` is killed with SIGKILL at every step boundary, and the
next command must converge and the history must stay true.

The kill points come from the deploy journal itself (GITDEPLOY_FAILPOINT=journal:N kills the
process right after its N-th journal record is durable), not from sleeps: every boundary of a
start-first replace, a stop-first replace (host port), a health-checked and a plain service,
and of a failing deploy and its rollback, is hit exactly.

After each kill, the next command (a deploy) must:
- recover first and exit 0;
- leave every replica at the target or at the last verified revision, healthy, and reachable
  by name from another container on the system's network;
- keep refs/gitdeploy/<env> on a commit whose last attempt is `ok` - never one that failed or
  was interrupted - and record the killed attempt (as `interrupted`, or `ok` when it had been
  verified before the kill).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gitdeploy import pipeline
from gitdeploy.deploy.journal import read as journal_read
from gitdeploy.history.notes import attempts, deployed_commit
from tests.hooks.helpers import clean_env, free_port
from tests.safety.common import svc, web

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

GITDEPLOY = str(Path(sys.executable).parent / "gitdeploy")


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


def run(spec_repo, *args: str, failpoint: int | None = None) -> subprocess.CompletedProcess:
    env = clean_env()
    if failpoint is not None:
        env["GITDEPLOY_FAILPOINT"] = f"journal:{failpoint}"
    return subprocess.run([GITDEPLOY, "--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir), *args],
                          capture_output=True, text=True, env=env, timeout=240)


def journal_records(spec_repo, rev: str) -> int:
    """How many records a whole deploy of `rev` writes: intent, execute, one per op, verified,
    record, recorded (a failing one: rollback and rolled-back too, and the rollback's ops)."""
    out = run(spec_repo, "plan", "--rev", rev, "--format", "json")
    plan = json.loads(out.stdout)
    ops = sum(len(phase) for step in plan["steps"] for phase in step["rollout"])
    return 1 + 1 + ops + 3


def reachable(docker_client, system: str, names: list[str]) -> dict[str, bool]:
    """Name resolution as another service sees it: from inside a running worker container."""
    (worker,) = docker_client.containers.list(filters={"label": [f"io.gitdeploy.system={system}",
                                                                  "io.gitdeploy.service=worker"]})
    # exit codes, not output: a short exec's output can be lost to an attach race under load
    return {n: worker.exec_run(["nslookup", n]).exit_code == 0 for n in names}


def assert_converged(spec_repo, docker_client, base_image, system: str, rev: str) -> None:
    ctx = spec_repo.ctx()
    v = pipeline.check_verified(ctx, pipeline.prepare(ctx, rev))
    assert v.ok, v.problems
    assert reachable(docker_client, system, ["api", "front", "worker"]) == dict.fromkeys(["api", "front", "worker"], True)
    repo = spec_repo.repo
    ref = deployed_commit(repo, "production")
    assert ref == repo.commit(rev).hexsha
    last = next(a for a in attempts(repo, "production") if a.commit == ref)
    assert last.result == "ok", last


def kill_then_rerun(spec_repo, docker_client, base_image, system, target, kill_at, then_rev):
    killed = run(spec_repo, "deploy", "--rev", target, failpoint=kill_at)
    assert killed.returncode == -9, (kill_at, killed.returncode, killed.stdout, killed.stderr)
    journal = spec_repo.data_dir / "envs" / "production" / "journal.json"
    assert journal.exists(), "a killed deploy leaves its journal"
    left = journal_read(journal.parent)
    phases = left.phases if left is not None else []  # how far the killed attempt got, by its own journal
    again = run(spec_repo, "deploy", "--rev", then_rev)
    assert again.returncode == 0, (kill_at, again.stdout, again.stderr)
    said = again.stderr + again.stdout
    assert "interrupted" in said or "only its journal was left" in said, said
    assert not journal.exists()
    assert_converged(spec_repo, docker_client, base_image, system, then_rev)
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


def journal_total(spec_repo) -> int:
    return int((spec_repo.data_dir / "records").read_text())


def test_killed_at_every_boundary_of_a_replace_the_next_deploy_converges(
        spec_repo, system_name, docker_client, base_image):
    """The next command is a deploy of the last verified revision (it recovers, then has nothing
    to do) - and every fifth time a deploy of the killed target itself (recovers, then deploys)."""
    port = free_port()
    verified = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "v0", port)})
    assert run(spec_repo, "deploy").returncode == 0
    first = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "v1", port)})
    total = journal_records(spec_repo, first)
    (spec_repo.data_dir / "records").write_text(str(total))
    assert total >= 20  # 3 services, every op kind of both orders
    for kill_at in range(1, total + 1):
        # a new revision of every service each time: the same 20 boundaries are crossed
        target = first if kill_at == 1 else spec_repo.commit({"gitdeploy.yaml": spec(system_name, f"v{kill_at}", port)})
        then = target if kill_at % 5 == 0 else verified
        kill_then_rerun(spec_repo, docker_client, base_image, system_name, target, kill_at, then)
        verified = then
    refs = {a.commit for a in attempts(spec_repo.repo, "production") if a.result != "ok"}
    assert deployed_commit(spec_repo.repo, "production") not in refs


def test_killed_at_every_boundary_of_a_failing_deploy_and_its_rollback(
        spec_repo, system_name, docker_client, base_image):
    port = free_port()
    good = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "a", port)})
    assert run(spec_repo, "deploy").returncode == 0
    bad = spec_repo.commit({"gitdeploy.yaml": spec(system_name, "b", port, fail=True)})
    # How far a failing deploy gets: run it whole once and count what it journals.
    trace = spec_repo.data_dir / "records"
    full = subprocess.run(
        [sys.executable, "-c", _COUNT, str(spec_repo.root), str(spec_repo.data_dir), bad, str(trace)],
        capture_output=True, text=True, env=clean_env(), timeout=240)
    assert full.returncode == 0, full.stderr
    total = journal_total(spec_repo)
    assert total > 10
    repo = spec_repo.repo
    assert deployed_commit(repo, "production") == good
    for kill_at in range(1, total + 1):
        # a new failing revision each time (the failed one's containers are discarded anyway)
        target = bad if kill_at == 1 else spec_repo.commit(
            {"gitdeploy.yaml": spec(system_name, f"b{kill_at}", port, fail=True)})
        kill_then_rerun(spec_repo, docker_client, base_image, system_name, target, kill_at, good)
        assert deployed_commit(repo, "production") == good  # never a commit that failed
    assert not [a for a in attempts(repo, "production") if a.commit != good and a.result == "ok"]


# Runs a whole deploy in a child process, counting its journal records (a hook on Journal).
_COUNT = """
import sys
from pathlib import Path
from gitdeploy import pipeline
from gitdeploy.deploy import journal
n = [0]
orig = journal.Journal._counted
def counted(self):
    n[0] += 1
    return orig(self)
journal.Journal._counted = counted
ctx = pipeline.Context(repo=Path(sys.argv[1]), data_dir=Path(sys.argv[2]))
result = pipeline.deploy(ctx, sys.argv[3])
assert not result.ok and result.rolled_back and result.rollback_verified, result.failure
Path(sys.argv[4]).write_text(str(n[0]))
"""


def test_the_failpoint_is_off_unless_asked(monkeypatch):
    monkeypatch.delenv("GITDEPLOY_FAILPOINT", raising=False)
    from gitdeploy.deploy.journal import _failpoint
    assert _failpoint() is None
    monkeypatch.setenv("GITDEPLOY_FAILPOINT", "journal:3")
    assert _failpoint() == 3
