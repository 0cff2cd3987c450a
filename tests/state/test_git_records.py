"""Git records that fail loudly: stale git locks, a note that cannot be written, huge failure
texts, broken note lines, and a missing or broken refs/gitdeploy/<env> (real git, real engine)."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from click.testing import CliRunner

from gitdeploy import pipeline
from gitdeploy.cli import cli
from gitdeploy.errors import GitdeployError, SpecInvalid
from gitdeploy.heal import check, fix
from gitdeploy.heal.check import TargetMoved, load_target
from gitdeploy.heal.loop import Watcher
from gitdeploy.history.notes import NOTES_REF, REF_PREFIX, Attempt, attempts, deployed_commit, record
from gitdeploy.live import labels
from tests.specrepo import running, svc

pytestmark = pytest.mark.docker


def _spec(system: str, version: str) -> dict:
    return {"system": system, "services": {"app": svc(environment={"VERSION": version})}}


def _age(path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_stale_notes_lock_is_removed_and_the_deploy_is_recorded(spec_repo, system_name):
    a = spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "1")})
    lock = spec_repo.root / ".git" / NOTES_REF.replace("refs/", "refs/", 1)
    lock = lock.with_name(lock.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")  # a git killed while it appended a note
    _age(lock, 120)
    result = pipeline.deploy(spec_repo.ctx())
    assert result.ok, result.failure
    assert not [e for e in result.events if e.kind == "record-failed"]
    assert not lock.exists()
    assert deployed_commit(spec_repo.repo, "production") == a
    assert [(x.commit, x.result) for x in attempts(spec_repo.repo, "production")] == [(a, "ok")]


def test_a_note_that_cannot_be_written_still_moves_the_ref_and_says_so(spec_repo, system_name):
    a = spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "1")})
    lock = spec_repo.root / ".git" / "refs" / "notes" / "gitdeploy.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    _age(lock, 120)
    # a live git works in the repository: its lock is not ours to remove
    busy = subprocess.Popen(["git", "hash-object", "--stdin"], cwd=spec_repo.root, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)
    try:
        result = pipeline.deploy(spec_repo.ctx())
    finally:
        busy.communicate(b"", timeout=10)
    assert result.ok, result.failure
    [missing] = [e.message for e in result.events if e.kind == "record-failed"]
    assert f"the history note of {a[:7]} in production is missing" in missing
    assert str(lock) in missing and "git process" in missing
    assert f"{REF_PREFIX}production was moved to {a[:7]}" in missing
    assert lock.exists()
    assert deployed_commit(spec_repo.repo, "production") == a  # the ref moved regardless


def test_five_thousand_spec_problems_are_recorded(spec_repo, system_name):
    services = {f"s{i}": {"image": "gitdeploy/busybox:1", "replicas": "many"} for i in range(5000)}
    bad = spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": services}})
    with pytest.raises(SpecInvalid) as err:
        pipeline.deploy(spec_repo.ctx())
    assert "5,000" in err.value.message or len(err.value.problems) >= 1000
    [attempt] = attempts(spec_repo.repo, "production")
    assert attempt.commit == bad and attempt.result == "failed"
    assert attempt.failure == err.value.message  # recorded whole (the spec loader caps what it lists)


def test_record_sends_any_size_through_stdin(spec_repo):
    """5,000 problems of 130 characters: far more than one argv string may hold (128 KiB)."""
    c = spec_repo.commit({"README": "x"})
    failure = "\n".join(f"gitdeploy.yaml:{i}:1: problem {i} " + "x" * 100 for i in range(5000))
    record(spec_repo.repo, Attempt(c, "production", "s", "cli", "me", 1.0, 2.0, "failed", failure=failure))
    [a] = attempts(spec_repo.repo, "production")
    assert a.failure == failure


def test_a_bad_note_line_is_skipped_and_counted(spec_repo):
    c = spec_repo.commit({"README": "x"})
    record(spec_repo.repo, Attempt(c, "production", "s", "cli", "me", 1.0, 2.0, "ok", verified="1/1"))
    bad = json.dumps({"env": "production", "system": "s", "trigger": "cli", "who": "x", "started": "yesterday",
                      "ended": 2, "result": "ok"})
    spec_repo.repo.git.notes("--ref", NOTES_REF, "append", "-m", bad, c)
    spec_repo.repo.git.notes("--ref", NOTES_REF, "append", "-m", "{not json", c)
    found = attempts(spec_repo.repo, "production")
    assert len(found) == 1 and found.skipped == 2
    base = ["--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir)]
    out = CliRunner().invoke(cli, base + ["history"])
    assert out.exit_code == 0, out.output
    assert "2 unreadable line(s) in the history notes" in out.output and c[:7] in out.output
    out = CliRunner().invoke(cli, base + ["history", "--json"])
    assert json.loads(out.stdout)["skipped"] == 2


@pytest.mark.parametrize("broken", [False, True])
def test_check_fix_and_watch_never_fall_back_to_head(spec_repo, system_name, docker_client, broken):
    spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "1")})  # committed, never deployed
    ctx = spec_repo.ctx()
    if broken:
        ref = spec_repo.root / ".git" / "refs" / "gitdeploy" / "production"
        ref.parent.mkdir(parents=True)
        ref.write_text("0123456789012345678901234567890123456789\n")  # names no object
        expect, hint = "refs/gitdeploy/production is broken", "git update-ref refs/gitdeploy/production"
    else:
        expect, hint = "nothing was deployed to 'production'", "deploy a commit first"
    base = ["--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir)]
    for command in ("check", "fix"):
        out = CliRunner().invoke(cli, base + [command])
        assert out.exit_code == 1, out.output
        assert expect in out.output and hint in out.output
    seen = []
    assert Watcher(ctx, mode="heal", on_event=seen.append).run_once() is None
    assert [e.kind for e in seen] == ["check-failed"] and expect in seen[0].message
    assert running(docker_client, system_name) == []  # nothing went live through a "repair"


def test_the_healer_never_deploys_an_older_revision_than_the_last_verified(spec_repo, system_name, docker_client):
    spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "A")})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    target_a = load_target(ctx)
    [c] = running(docker_client, system_name)
    c.stop(timeout=1)
    before = check(ctx, target_a)
    assert [d.kind for d in before.drifts] == ["exited"]
    # meanwhile a newer commit is deployed and verified
    b = spec_repo.commit({"gitdeploy.yaml": _spec(system_name, "B")})
    assert pipeline.deploy(ctx).ok
    with pytest.raises(TargetMoved) as err:
        fix(ctx, before=before, target=target_a)
    assert f"moved from {target_a.commit[:7]} to {b[:7]}" in err.value.message
    assert {x.labels[labels.COMMIT] for x in running(docker_client, system_name)} == {b}
    assert deployed_commit(spec_repo.repo, "production") == b
    assert isinstance(err.value, GitdeployError)


def test_a_stale_index_lock_does_not_block_a_rollback_commit_but_a_live_one_is_reported(spec_repo):
    from gitdeploy.history.revert import make_rollback_commit

    a = spec_repo.commit({"gitdeploy.yaml": "system: s\n"})
    repo = spec_repo.repo
    record(repo, Attempt(a, "production", "s", "cli", "me", 1.0, 2.0, "ok", verified="1/1"))
    b = spec_repo.commit({"gitdeploy.yaml": "system: s\nservices: {}\n"})
    record(repo, Attempt(b, "production", "s", "cli", "me", 3.0, 4.0, "ok", verified="1/1"))
    index_lock = spec_repo.root / ".git" / "index.lock"
    index_lock.write_text("")
    with pytest.raises(GitdeployError) as err:  # young: a git may be writing it right now
        make_rollback_commit(repo, "production")
    assert str(index_lock) in err.value.message and f"rm {index_lock}" in err.value.hint
    _age(index_lock, 120)  # its git is gone
    done = make_rollback_commit(repo, "production")
    assert done.created and done.target == a and not index_lock.exists()
