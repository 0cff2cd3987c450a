"""A full data directory (a real, small tmpfs): a deploy that cannot write its journal is refused
before the engine is touched; one whose disk fills while it runs rolls back, verifies and says
so. Nothing is left half-deployed, nothing crashes."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitdeploy import pipeline
from gitdeploy.history.notes import attempts, deployed_commit
from tests.hooks.helpers import clean_env
from tests.safety.common import running, svc, web

pytestmark = pytest.mark.docker

GITDEPLOY = str(Path(sys.executable).parent / "gitdeploy")


@pytest.fixture
def small_disk(spec_repo):
    """The spec repo's data dir on a 4 MiB tmpfs."""
    spec_repo.data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(spec_repo.data_dir)], check=True)
    try:
        yield spec_repo.data_dir
    finally:
        subprocess.run(["umount", "-l", str(spec_repo.data_dir)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` to the last byte; returns the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def system(name: str, version: str) -> dict:
    return {"system": name, "services": {
        "api": web(version, rollout={"deadline": "10s", "drain": "0.1s"}),
        "worker": svc(command=["sh", "-c", f": {version}; exec sleep 3600"])}}


def test_a_full_data_dir_refuses_the_deploy_before_the_engine_is_touched(spec_repo, small_disk, system_name,
                                                                         docker_client):
    good = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v1")})
    assert pipeline.deploy(spec_repo.ctx(), good).ok
    before = {c.id for c in running(docker_client, system_name)}
    bad = spec_repo.commit({"gitdeploy.yaml": system(system_name, "v2")})
    filler = fill(small_disk)
    proc = subprocess.run([GITDEPLOY, "--repo", str(spec_repo.root), "--data-dir", str(small_disk), "deploy",
                           "--rev", bad], capture_output=True, text=True, env=clean_env(), timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "internal error" not in out
    assert "disk" in out and "full" in out, out
    assert {c.id for c in running(docker_client, system_name)} == before  # nothing was changed
    all_ = docker_client.containers.list(all=True, filters={"label": f"io.gitdeploy.system={system_name}"})
    assert not [c for c in all_ if c.labels["io.gitdeploy.commit"] == bad]  # nothing was even created
    repo = pipeline.open_repo(spec_repo.root)
    assert deployed_commit(repo, "production") == good
    filler.unlink()  # space again: the same deploy goes through
    assert pipeline.deploy(spec_repo.ctx(), bad).ok


def test_a_disk_that_fills_mid_deploy_rolls_back_and_says_so(spec_repo, small_disk, system_name):
    """The disk fills just before the new revision's config file is copied into the data dir."""
    def with_config(version: str) -> dict:
        spec = system(system_name, version)
        spec["services"]["api"]["configs"] = [{"source": "conf/api.conf", "target": "/etc/api.conf"}]
        return {"gitdeploy.yaml": spec, "conf/api.conf": f"version={version}\n" + "x" * 20000}

    good = spec_repo.commit(with_config("v1"))
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx, good).ok
    bad = spec_repo.commit(with_config("v2"))
    filled: list[Path] = []

    def fill_once(step, op):  # the disk fills while the deploy runs: at its first create
        if op.kind == "create" and not filled:
            filled.append(fill(small_disk))

    result = pipeline.deploy(ctx, bad, fault=fill_once)
    assert filled
    assert not result.ok and result.rolled_back and result.rollback_verified, result.failure
    assert "disk" in result.failure and "full" in result.failure, result.failure
    assert "Traceback" not in result.failure
    repo = pipeline.open_repo(spec_repo.root)
    assert deployed_commit(repo, "production") == good
    assert next(a for a in attempts(repo, "production") if a.commit == bad).result == "rolled-back"
    assert pipeline.check_verified(ctx, pipeline.prepare(ctx, good)).ok
    filled[0].unlink()
    assert not (small_disk / "envs" / "production" / "journal.json").exists()
    assert pipeline.deploy(ctx, bad).ok  # space again: it goes through
