"""Rotated-away secret values leave the data dir with the revisions that used them (issue 10 #6)."""

from __future__ import annotations

import os
import time

import pytest
from click.testing import CliRunner

from gitdeploy import pipeline
from gitdeploy.cli import cli
from gitdeploy.live.secretfiles import mounted, unused
from tests.specrepo import svc

pytestmark = pytest.mark.docker


def files(data_dir) -> set[str]:
    folder = data_dir / "secrets"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def age(data_dir, names, seconds: float = 3600) -> None:
    for name in names:
        path = data_dir / "secrets" / name
        os.utime(path, (time.time() - seconds, time.time() - seconds))


def test_rotated_values_are_pruned_with_the_revisions_that_used_them(spec_repo, system_name, tmp_path):
    secrets = tmp_path / "values"
    secrets.mkdir()
    ctx = spec_repo.ctx(secrets_dir=secrets)
    seen: list[set[str]] = []
    for value in ("one", "two", "three"):
        (secrets / "token").write_text(value)
        spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "keep": 1,
                                             "services": {"app": svc(secrets=["token"])}}}, message=value)
        age(ctx.data_dir, files(ctx.data_dir))  # earlier values were last used long ago
        result = pipeline.deploy(ctx)
        assert result.ok, result.failure
        seen.append(files(ctx.data_dir))
    first, second, third = seen
    assert len(first) == 1 and len(second) == 2  # the kept revision (keep: 1) still mounts "one"
    # "one" went with the container of its revision; "two" stays for the kept one
    assert third == (second - first) | (third - second) and len(third) == 2
    assert not any("one" in (ctx.data_dir / "secrets" / f).read_text() for f in third)


def test_secrets_prune_on_demand(spec_repo, system_name, tmp_path, docker_client):
    secrets = tmp_path / "values"
    secrets.mkdir()
    (secrets / "token").write_text("v1")
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"app": svc(secrets=["token"])}}})
    ctx = spec_repo.ctx(secrets_dir=secrets)
    assert pipeline.deploy(ctx).ok
    (used,) = files(ctx.data_dir)
    orphan = ctx.data_dir / "secrets" / ("0" * 64)
    orphan.write_text("an old value")
    fresh = ctx.data_dir / "secrets" / ("1" * 64)
    fresh.write_text("a value a deploy is about to mount")
    age(ctx.data_dir, [used, orphan.name])

    def run(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--repo", str(spec_repo.root), "--data-dir", str(ctx.data_dir),
                                       "secrets", "prune", *args])
        assert out.exit_code == 0, out.output
        return out.output

    assert f"would remove {orphan.name}" in run("--dry-run") and orphan.exists()
    out = run()
    assert f"removed {orphan.name}" in out and "removed 1 unused secret file(s)" in out
    assert files(ctx.data_dir) == {used, fresh.name}  # mounted, or used within the grace period
    assert "an old value" not in out and "v1" not in out
    run("--grace", "0")
    assert files(ctx.data_dir) == {used}


def test_mounted_and_unused_are_exact_about_the_folder(tmp_path):
    folder = tmp_path / "secrets"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / name).write_text(name)
    raw = [{"Mounts": [{"Source": str(folder / "a")}, {"Source": str(tmp_path / "b")},
                       {"Source": str(folder / "x" / "b")}]}, {"Mounts": None}]
    assert mounted(raw, folder) == {"a"}
    assert [p.name for p in unused(folder, {"a"}, time.time() + 10, grace=5)] == ["b", "c"]
    assert unused(folder, {"a"}, time.time(), grace=60) == []
    assert unused(tmp_path / "missing", set(), time.time()) == []


def test_the_engine_is_asked_only_when_some_file_is_old_enough_to_go(tmp_path):
    """Most deploys have no secret file past its grace: pruning then lists no containers (a list of
    every container on the engine, at every deploy). An engine that does not answer shows it."""
    import docker

    from gitdeploy.errors import GitdeployError
    from gitdeploy.live.secretfiles import prune, secrets_folder

    nowhere = docker.DockerClient(base_url=f"unix://{tmp_path / 'no-engine.sock'}", version="1.41")
    assert prune(nowhere, tmp_path) == []  # no folder
    folder = secrets_folder(tmp_path)
    folder.mkdir()
    (folder / "fresh").write_text("just written")
    assert prune(nowhere, tmp_path) == []  # within the grace period: nothing to ask about
    with pytest.raises(GitdeployError, match="listing containers"):
        prune(nowhere, tmp_path, grace=0)  # a candidate: the engine must say whether it is mounted
    assert (folder / "fresh").exists()
