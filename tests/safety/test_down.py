"""`down` goes through the pipeline: locked and freeze-checked as a deploy, recorded in history."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gitdeploy import pipeline
from gitdeploy.cli import cli
from gitdeploy.deploy.freeze import freeze, halted, unfreeze
from gitdeploy.errors import Frozen, Locked
from gitdeploy.heal import check
from gitdeploy.history import attempts
from gitdeploy.live import labels
from gitdeploy.live.enginelock import Holder
from tests.safety.common import running, svc
from tests.safety.test_brakes import _holder

pytestmark = pytest.mark.docker


def _deployed(spec_repo, system_name):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {
        "a": svc(volumes=["data:/data"]), "b": svc()}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    return ctx


def test_down_is_refused_while_a_deploy_holds_a_lock_or_the_environment_is_frozen(
        spec_repo, system_name, docker_client):
    ctx = _deployed(spec_repo, system_name)
    base = ["--repo", str(spec_repo.root), "--data-dir", str(ctx.data_dir)]
    before = {c.id for c in running(docker_client, system_name)}
    assert len(before) == 2

    holder = _holder(ctx.data_dir)  # a deploy in this data dir
    try:
        out = CliRunner().invoke(cli, base + ["down"])
        assert out.exit_code == 1 and "Traceback" not in out.output
        assert "is locked" in out.output and "alice@ci" in out.output and "in progress" in out.output
        with pytest.raises(Locked, match="alice@ci"):
            pipeline.down(ctx, system_name)
    finally:
        holder.kill()
        holder.wait(timeout=10)

    other = spec_repo.ctx()  # a deploy from another data dir meets it on the engine
    other.data_dir = spec_repo.data_dir.parent / "other-data"
    with other.engine().hold_lock(system_name, "production", Holder.here("push: deploy HEAD", "carol@ci")):
        with pytest.raises(Locked, match="carol@ci"):
            pipeline.down(ctx)

    freeze(ctx.data_dir, "production", "incident 7", who="dave@ops")
    out = CliRunner().invoke(cli, base + ["down"])
    assert out.exit_code == 1 and "frozen by dave@ops" in out.output and "incident 7" in out.output
    with pytest.raises(Frozen):
        pipeline.down(ctx, system_name)
    unfreeze(ctx.data_dir, "production")

    assert {c.id for c in running(docker_client, system_name)} == before  # nothing was touched
    assert not [a for a in attempts(spec_repo.repo, "production") if a.result == "down"]


def test_down_is_recorded_and_the_healer_leaves_it_down(spec_repo, system_name, docker_client):
    ctx = _deployed(spec_repo, system_name)
    base = ["--repo", str(spec_repo.root), "--data-dir", str(ctx.data_dir)]
    out = CliRunner().invoke(cli, base + ["down"])
    assert out.exit_code == 0, out.output
    assert f"removed 2 container(s) of {system_name}" in out.output and "volumes kept" in out.output
    flt = {"label": f"{labels.SYSTEM}={system_name}"}
    assert docker_client.containers.list(all=True, filters=flt) == []
    assert docker_client.networks.list(filters=flt) == []
    assert len(docker_client.volumes.list(filters=flt)) == 1  # data is kept without --volumes

    downs = [a for a in attempts(spec_repo.repo, "production") if a.result == "down"]
    assert len(downs) == 1 and downs[0].trigger == "cli" and downs[0].system == system_name
    assert "2 container(s) removed" in downs[0].summary
    assert halted(ctx.data_dir, "production", system_name)
    report = check(ctx)  # stopped on purpose: no drift for the healer to repair
    assert report.halted and report.clean

    assert pipeline.deploy(ctx).ok  # the next deploy brings it back and lifts the halt
    assert len(running(docker_client, system_name)) == 2 and not halted(ctx.data_dir, "production", system_name)
    out = CliRunner().invoke(cli, base + ["down", "--volumes"])
    assert out.exit_code == 0 and "1 volume(s)" in out.output
    assert docker_client.volumes.list(filters=flt) == []
