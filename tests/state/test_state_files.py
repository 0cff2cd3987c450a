"""State files in the data directory: written atomically, refused loudly when corrupt, never a
traceback on a full disk (a real, small tmpfs filled to the last byte)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from gitdeploy.deploy import lock
from gitdeploy.errors import GitdeployError
from gitdeploy.heal.loop import Watcher
from gitdeploy.heal.state import HealState, StateStore, state_path
from gitdeploy.pipeline import Context
from gitdeploy.server.queue import JobQueue, JobSpec
from gitdeploy.server.worker import WorkerPool
from gitdeploy.spec.secrets import KEY_FILE, load_key
from tests.fullfs import small_fs


def test_an_empty_or_short_key_is_an_error_naming_the_file(tmp_path):
    (tmp_path / KEY_FILE).write_bytes(b"")
    with pytest.raises(GitdeployError) as err:
        load_key(tmp_path)
    assert str(tmp_path / KEY_FILE) in err.value.message and "corrupt (0 bytes" in err.value.message
    assert "rm " in err.value.hint
    (tmp_path / KEY_FILE).write_bytes(b"x" * 7)
    with pytest.raises(GitdeployError, match="corrupt"):
        load_key(tmp_path)
    (tmp_path / KEY_FILE).unlink()
    key = load_key(tmp_path)
    assert len(key) == 32 and load_key(tmp_path) == key
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_a_full_disk_on_first_use_leaves_no_empty_key(tmp_path):
    with small_fs(tmp_path / "data", "64k") as fs:
        fs.fill()
        with pytest.raises(GitdeployError) as err:
            load_key(fs.root)
        assert err.value.message == f"disk full writing {fs.root / KEY_FILE}"
        assert not (fs.root / KEY_FILE).exists()
        assert [p.name for p in fs.root.iterdir()] == [".filler"]  # no temp file left behind either
        fs.free()
        key = load_key(fs.root)
        assert len(key) == 32 and load_key(fs.root) == key


@pytest.mark.parametrize("saved", [
    {"services": ["web"]},  # valid JSON, wrong type: used to crash the Watcher's constructor (so `serve`)
    {"services": {"web": {"attempts": "x"}}},  # used to crash every heal round
    {"drift": [{"kind": "nonsense"}]},
    {"checked_at": "yesterday"},
    [1, 2],
])
def test_heal_state_with_wrong_types_is_moved_aside_with_a_warning(tmp_path, saved):
    path = state_path(tmp_path, "production")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(saved))
    seen = []
    w = Watcher(Context(repo=tmp_path, data_dir=tmp_path), mode="heal", on_event=seen.append)
    assert w.state == HealState()
    assert not path.exists() and json.loads((path.parent / "production.json.corrupt-1").read_text()) == saved
    [ev] = seen
    assert ev.kind == "state-reset" and ev.loud and "is corrupt" in ev.message and "corrupt-1" in ev.message
    w._heal(w.last_report or _clean_report(), None)  # a round over the (fresh) state does not raise
    StateStore(path).save(w.state)
    assert StateStore(path).load() == w.state


def _clean_report():
    from gitdeploy.heal.check import CheckReport

    return CheckReport(system="s", env="production", commit="c", drifts=())


def test_heal_state_round_trips_and_bad_json_is_moved_aside(tmp_path):
    store = StateStore(tmp_path / "heal" / "production.json")
    st = HealState(env="production", system="s", commit="abc", checked_at=1.5)
    st.service("web").attempts.append(3.0)
    store.save(st)
    assert StateStore(store.path).load() == st
    store.path.write_text('{"env": "produ')  # a torn write from before writes were atomic
    fresh = StateStore(store.path)
    assert fresh.load() == HealState() and "is corrupt" in fresh.warning


def test_lock_holder_on_a_full_disk_is_an_error_and_the_lock_is_free_again(tmp_path):
    with small_fs(tmp_path / "data", "64k") as fs:
        lock.env_dir(fs.root, "production")
        fs.fill()
        with pytest.raises(GitdeployError) as err:
            lock.acquire(fs.root, "production", trigger="cli")
        assert err.value.message.startswith("disk full writing ") and "deploy.holder.json" in err.value.message
        fs.free()
        with lock.acquire(fs.root, "production", trigger="cli", owner="bob@x"):
            assert lock.holder(fs.root, "production").owner == "bob@x"
        assert lock.holder(fs.root, "production") is None


def test_a_holder_with_wrong_types_is_no_holder(tmp_path):
    with lock.acquire(tmp_path, "production", trigger="cli"):
        lock.holder_path(lock.env_dir(tmp_path, "production")).write_text(
            json.dumps({"owner": ["x"], "pid": "12", "trigger": "cli", "started": "now"}))
        assert lock.holder(tmp_path, "production") is None
    # a dead holder's metadata left behind is recovered and named; a clean release leaves none
    meta = lock.holder_path(lock.env_dir(tmp_path, "production"))
    meta.write_text(json.dumps({"owner": "eve@h", "pid": 99999999, "trigger": "hook", "reason": "", "started": 1.0}))
    with lock.acquire(tmp_path, "production", trigger="cli") as held:
        assert held.recovered.owner == "eve@h"
    assert not meta.exists()


def test_materialized_files_on_a_full_disk(tmp_path, docker_client):
    from gitdeploy.live.engine import Engine

    with small_fs(tmp_path / "data", "64k") as fs:
        engine = Engine(docker_client, fs.root)
        path = engine.materialize("abc", b"hello")
        assert path.read_bytes() == b"hello" and path.stat().st_mode & 0o777 == 0o444
        path.chmod(0o644)
        path.write_bytes(b"he")  # cut short (a crash before writes were atomic): written again
        assert engine.materialize("abc", b"hello").read_bytes() == b"hello"
        fs.fill()
        with pytest.raises(GitdeployError) as err:
            engine.materialize("def", b"x" * 10000)
        assert err.value.message == f"disk full writing {fs.root / 'files' / 'def'}"
        assert sorted(p.name for p in (fs.root / "files").iterdir()) == ["abc"]


def test_a_malformed_queue_database_is_a_clear_error(tmp_path):
    path = tmp_path / "queue.sqlite3"
    path.write_bytes(b"this is not a database, it is a text file" * 100)
    with pytest.raises(GitdeployError) as err:
        JobQueue(path)
    assert str(path) in err.value.message and "not a readable SQLite database" in err.value.message
    assert f"mv {path} {path}.broken" in err.value.hint and "bug" not in str(err.value)
    # the server stops with that message, not a traceback
    config = tmp_path / "server.yaml"
    config.write_text(f"data_dir: {tmp_path}\ninsecure_no_secret: true\nrepositories: [a/b]\n"
                      "environments: {production: {branch: main}}\nlisten: 127.0.0.1:0\n")
    done = subprocess.run([sys.executable, "-m", "webhook", "--config", str(config), "--handlers",
                           "tests.server.handlers:REGISTRY"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and f"{path}" in done.stderr and "not a readable SQLite" in done.stderr


def test_a_queue_row_with_a_bad_payload_fails_that_job_only(tmp_path):
    q = JobQueue(tmp_path / "queue.sqlite3")
    bad = q.enqueue(JobSpec("echo", {"n": 1}))
    good = q.enqueue(JobSpec("echo", {"n": 2}))
    db = sqlite3.connect(q.path)
    db.execute("UPDATE jobs SET payload = '[not json' WHERE id = ?", (bad,))
    db.execute("UPDATE jobs SET attempts = 'many' WHERE id = ?", (good,))
    db.commit()
    db.close()
    assert [j.id for j in q.recent()] == [good, bad]  # readers do not crash on it
    seen = []
    pool = WorkerPool(q, {"echo": lambda job: seen.append(job.payload) or "ok"}, workers=1)
    for _ in range(2):
        job = q.claim("me", ["echo"])
        pool.run_job(job, "me")
    assert seen == [{"n": 2}]
    assert q.get(bad).state == "failed" and "unreadable" in q.get(bad).result
    assert q.get(good).state == "done"
    q.close()


def test_a_raw_disk_full_error_is_reported_as_such_not_as_a_bug(tmp_path, capsys):
    from gitdeploy.cli.app import run_reported

    with small_fs(tmp_path / "data", "64k") as fs:
        fs.fill()
        target = fs.root / "big"
        with pytest.raises(SystemExit) as code:
            run_reported(Context(repo=tmp_path, data_dir=fs.root), lambda: target.write_bytes(b"x" * 100_000))
        assert code.value.code == 1
        err = capsys.readouterr().err
        # write() does not say which file: the error says what happened, never "a gitdeploy bug"
        assert "error: disk full writing a file (No space left on device)" in err and "bug" not in err
        assert not (fs.root / "logs").exists()


def test_freeze_on_a_full_disk_is_an_error_naming_the_file(tmp_path):
    from gitdeploy.deploy import freeze

    with small_fs(tmp_path / "data", "64k") as fs:
        lock.env_dir(fs.root, "production")
        fs.fill()
        with pytest.raises(GitdeployError, match="disk full writing .*freeze"):
            freeze.freeze(fs.root, "production", "incident", "me")
        assert freeze.frozen(fs.root, "production") is None


def test_the_demo_webhook_secret_and_the_repository_registry_on_a_full_disk(tmp_path):
    from gitdeploy.cli import demo
    from gitdeploy.hooks import repoconfig

    with small_fs(tmp_path / "data", "64k") as fs:
        fs.fill()
        with pytest.raises(GitdeployError, match="disk full writing .*webhook-secret"):
            demo.webhook_secret(fs.root)
        assert not (fs.root / demo.SECRET_FILE).exists()  # never an empty secret left behind
        with pytest.raises(GitdeployError, match="disk full writing"):
            repoconfig.register(fs.root, tmp_path)
        fs.free()
        secret = demo.webhook_secret(fs.root)
        assert len(secret) == 64 and demo.webhook_secret(fs.root) == secret
        repoconfig.register(fs.root, tmp_path)
        repoconfig.register(fs.root, tmp_path)
        assert repoconfig.registered(fs.root) == [tmp_path.resolve()]
