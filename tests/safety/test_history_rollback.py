"""History in git and rollback as a commit, against the real engine."""

from __future__ import annotations

import json

import git
import pytest
from click.testing import CliRunner

from gitdeploy import pipeline
from gitdeploy.cli import cli
from gitdeploy.history import NOTES_REF, attempts, deployed_commit, make_rollback_commit
from gitdeploy.history.revert import TRAILER_OF
from gitdeploy.live import labels
from tests.safety.common import running, svc

pytestmark = pytest.mark.docker

CONF = {"source": "conf/app.conf", "target": "/etc/app.conf"}


def _spec(system: str, version: str, **kw) -> dict:
    return {"system": system, "services": {
        "api": svc(replicas=2, configs=[CONF], environment={"VERSION": version}, **kw),
        "worker": svc(environment={"VERSION": version}),
    }}


def _config_and_versions(client, system) -> set[tuple[str, bytes, str]]:
    out = set()
    for c in running(client, system):
        env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
        conf = c.exec_run(["cat", "/etc/app.conf"]).output if c.labels[labels.SERVICE] == "api" else b""
        out.add((c.labels[labels.SERVICE], conf, env["VERSION"]))
    return out


def test_history_records_attempts_and_moves_the_ref_only_when_verified(spec_repo, system_name):
    a = spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "1"), "conf/app.conf": "a\n"}, "first")
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx, who="carol@laptop").ok
    repo = spec_repo.repo
    assert deployed_commit(repo, "production") == a
    assert deployed_commit(repo, "staging") is None
    note = repo.git.notes("--ref", NOTES_REF, "show", a)
    first = json.loads(note.strip().splitlines()[-1])
    assert first["result"] == "ok" and first["who"] == "carol@laptop" and first["verified"] == "3/3"
    assert first["trigger"] == "cli" and first["summary"] == "2 to create"

    bad = _spec(system_name, "2", healthcheck={"test": "false", "interval": "0.3s", "retries": 1},
                rollout={"deadline": "2s"})
    b = spec_repo.commit({"gitdeploy.yaml": bad}, "broken")
    result = pipeline.deploy(ctx, trigger="push")
    assert not result.ok and result.rolled_back
    assert deployed_commit(repo, "production") == a  # a failed deploy is never recorded as deployed
    history = attempts(repo, "production")
    assert [(h.commit, h.result, h.trigger) for h in history] == [(b, "rolled-back", "push"), (a, "ok", "cli")]
    assert "health gate" in history[0].failure and history[0].duration > 0

    out = CliRunner().invoke(cli, ["--repo", str(spec_repo.root), "--data-dir", str(ctx.data_dir),
                                   "history", "--json", "--limit", "1"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["deployed"] == a and len(data["attempts"]) == 1
    assert data["attempts"][0]["subject"] == "broken" and data["attempts"][0]["result"] == "rolled-back"
    table = CliRunner().invoke(cli, ["--repo", str(spec_repo.root), "--data-dir", str(ctx.data_dir), "history"])
    assert table.exit_code == 0 and "rolled" in table.output and a[:7] in table.output and "broken" in table.output


def test_rollback_command_restores_code_and_config_from_kept_containers(spec_repo, system_name, docker_client):
    a = spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "1"), "conf/app.conf": "threads=1\n"}, "one thread")
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    state_a = _config_and_versions(docker_client, system_name)
    ids_a = {c.id for c in running(docker_client, system_name)}
    b = spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "2"), "conf/app.conf": "threads=8\n"}, "eight")
    assert pipeline.deploy(ctx).ok

    out = CliRunner().invoke(cli, ["--repo", str(spec_repo.root), "--data-dir", str(ctx.data_dir),
                                   "rollback", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["rollback"]["target"] == a and data["rollback"]["rolled_back"] == b
    repo = spec_repo.repo
    head = repo.head.commit
    assert head.hexsha == data["rollback"]["commit"] and head.parents[0].hexsha == b
    assert head.tree == repo.commit(a).tree
    assert head.summary == f"Roll back production to {a[:7]}: one thread"
    assert f"{TRAILER_OF}: {b}" in head.message
    assert not repo.is_dirty(untracked_files=True)  # working tree follows the branch
    # fast path: the kept containers of A were started, nothing created
    assert {c.id for c in running(docker_client, system_name)} == ids_a
    assert _config_and_versions(docker_client, system_name) == state_a
    assert deployed_commit(repo, "production") == head.hexsha
    assert attempts(repo, "production")[0].trigger == "rollback"


def test_hand_revert_gives_the_same_result(spec_repo, system_name, docker_client):
    spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "1"), "conf/app.conf": "threads=1\n"}, "one")
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    state_a = _config_and_versions(docker_client, system_name)
    ids_a = {c.id for c in running(docker_client, system_name)}
    b = spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "2"), "conf/app.conf": "threads=8\n"}, "eight")
    assert pipeline.deploy(ctx).ok
    spec_repo.repo.git.revert("--no-edit", b)
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    assert not [e for e in result.events if e.kind == "created"]
    assert {c.id for c in running(docker_client, system_name)} == ids_a
    assert _config_and_versions(docker_client, system_name) == state_a


def test_rollback_after_a_failed_deploy_and_in_a_bare_repository(spec_repo, system_name, docker_client, tmp_path):
    a = spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "1"), "conf/app.conf": "x=1\n"}, "good")
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    ids_a = {c.id for c in running(docker_client, system_name)}
    bad = _spec(system_name, "2", healthcheck={"test": "false", "interval": "0.3s", "retries": 1},
                rollout={"deadline": "2s"})
    c = spec_repo.commit({"gitdeploy.yaml": bad, "conf/app.conf": "x=2\n"}, "bad")
    assert not pipeline.deploy(ctx).ok

    # A bare clone (as a server-side hook sees it) with the history refs pushed to it.
    bare = tmp_path / "bare.git"
    git.Repo.clone_from(spec_repo.root, bare, bare=True)
    spec_repo.repo.git.push(str(bare), f"{NOTES_REF}:{NOTES_REF}", "refs/gitdeploy/*:refs/gitdeploy/*")
    repo = git.Repo(bare)
    assert deployed_commit(repo, "production") == a
    rc = make_rollback_commit(repo, "production")
    assert (rc.target, rc.rolled_back, rc.created, rc.branch) == (a, c, True, "main")
    assert repo.commit("main").hexsha == rc.commit and repo.commit(rc.commit).tree == repo.commit(a).tree

    bare_ctx = spec_repo.ctx()
    bare_ctx.repo = bare
    result = pipeline.deploy(bare_ctx, rc.commit, trigger="rollback")
    assert result.ok and not result.plan.has_changes  # A's tree already runs (auto-rolled back)
    assert {x.id for x in running(docker_client, system_name)} == ids_a
    assert deployed_commit(repo, "production") == rc.commit
