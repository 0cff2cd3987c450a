"""An exception, a full disk and a lost engine at every kind of rollout step: the deploy never
crashes - it rolls back to the last verified revision, verifies that, and records the attempt.
A lost engine leaves the journal; the next deploy recovers first."""

from __future__ import annotations

import errno
import os
import threading

import docker
import pytest

from gitdeploy import pipeline
from gitdeploy.history.notes import attempts, deployed_commit
from tests.engineproxy import EngineProxy
from tests.safety.common import svc, web

pytestmark = pytest.mark.docker

KINDS = ["create", "start", "gate", "publish", "drain", "stop"]


def system(name: str, version: str) -> dict:
    # start-first with a health check: every op kind but await
    return {"system": name, "services": {"api": web(version, rollout={"deadline": "5s", "drain": "0.1s"}),
                                         "worker": svc(command=["sh", "-c", f": {version}; exec sleep 3600"])}}


def fault_at(kind: str, exc: BaseException):
    fired = threading.Event()

    def fault(step, op):
        if op.kind == kind and step.path == "api" and not fired.is_set():
            fired.set()
            raise exc
    return fault, fired


def assert_back_at(ctx, good: str, result, bad: str) -> None:
    assert not result.ok and result.rolled_back and result.rollback_verified, result.failure
    repo = ctx.repo
    assert deployed_commit(pipeline.open_repo(repo), "production") == good
    v = pipeline.check_verified(ctx, pipeline.prepare(ctx, good))
    assert v.ok, v.problems
    last = next(a for a in attempts(pipeline.open_repo(repo), "production") if a.commit == bad)
    assert last.result == "rolled-back" and last.failure


@pytest.mark.parametrize("kind", KINDS)
def test_an_exception_or_a_full_disk_at_each_step_kind_rolls_back(kind, spec_repo, system_name):
    good = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v1")})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    for i, (exc, said) in enumerate([
        (RuntimeError("boom"), "unexpected RuntimeError: boom"),
        (OSError(errno.ENOSPC, "No space left on device", "/data/files/x"), "disk full: No space left on device"),
    ]):
        bad = spec_repo.commit({"gitdeploy.yaml": system(system_name, f"v{i + 2}")})
        fault, fired = fault_at(kind, exc)
        result = pipeline.deploy(ctx, fault=fault)
        assert fired.is_set()
        assert said in result.failure, result.failure
        assert_back_at(ctx, good, result, bad)
        assert not (spec_repo.data_dir / "envs" / "production" / "journal.json").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_lost_engine_is_said_and_the_next_deploy_recovers(kind, spec_repo, system_name, tmp_path):
    good = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v1")})
    assert pipeline.deploy(spec_repo.ctx()).ok
    bad = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v2")})
    proxy = EngineProxy(tmp_path / "engine.sock")
    try:
        client = docker.DockerClient(base_url=f"unix://{proxy.path}", timeout=10)
        ctx = pipeline.Context(repo=spec_repo.root, data_dir=spec_repo.data_dir, client=client)
        fired = threading.Event()

        def lose(step, op):
            if op.kind == kind and step.path == "api" and not fired.is_set():
                fired.set()
                proxy.cut()
        result = pipeline.deploy(ctx, fault=lose)
    finally:
        proxy.close()
    assert fired.is_set()
    assert not result.ok and result.rolled_back and not result.rollback_verified
    assert "the engine did not answer" in result.failure or "Connection" in result.failure, result.failure
    rollback = [e.message for e in result.events if e.kind == "rollback-done"]
    assert rollback and "the next deploy, fix or server start recovers it" in rollback[0]
    assert (spec_repo.data_dir / "envs" / "production" / "journal.json").exists()
    repo = pipeline.open_repo(spec_repo.root)
    assert deployed_commit(repo, "production") == good

    ctx = spec_repo.ctx()  # the engine is back
    events = []
    again = pipeline.deploy(ctx, good, on_event=events.append)
    assert again.ok, again.failure
    assert any(e.kind == "recovery" and "interrupted" in e.message for e in events)
    assert pipeline.check_verified(ctx, pipeline.prepare(ctx, good)).ok
    recorded = next(a for a in attempts(repo, "production") if a.commit == bad)
    assert recorded.result in ("interrupted", "rolled-back")
    assert os.path.exists(spec_repo.root)
