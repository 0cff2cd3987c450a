"""git push to a bare repository with gitdeploy's hooks, deploying to the real engine directly
(no server runs on the data directory)."""

from __future__ import annotations

import re

import git as gitpython
import pytest
from ruamel.yaml import YAML

from gitdeploy.history.notes import attempts, deployed_commit
from gitdeploy.live import labels
from tests.specrepo import running

from .helpers import bare_with_clone, clean_env, git

pytestmark = pytest.mark.docker


def write_spec(work, system: str, version: str, replicas: int | str = 1) -> None:
    spec = {"system": system, "services": {"app": {
        "image": "gitdeploy/busybox:1", "command": ["sleep", "3600"], "init": True, "stop_grace_period": "1s",
        "replicas": replicas, "environment": {"VERSION": version}, "rollout": {"monitor": "0.3s"}}}}
    with (work / "gitdeploy.yaml").open("w") as f:
        YAML().dump(spec, f)


def commit_and_push(work, message: str, **env: str):
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("push", "-q", "origin", "main", cwd=work, check=False, env=clean_env(**env))


def test_push_validates_deploys_streams_and_reverts(tmp_path, system_name, docker_client, base_image):
    data = tmp_path / "data"
    bare, work = bare_with_clone(tmp_path, data)

    # 1. a valid first push deploys; the pusher sees the plan and the outcome as remote: lines
    write_spec(work, system_name, "1")
    pushed = commit_and_push(work, "first version", GITDEPLOY_PUSHER="alice")
    assert pushed.returncode == 0, pushed.stderr
    first = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert f"remote: gitdeploy: deploying {first[:7]} to production (pushed by alice)" in pushed.stderr
    assert f"remote: Plan for {system_name} (production) at {first[:7]}: 1 to create" in pushed.stderr
    assert f"remote: deployed {first[:7]}: 1/1 containers at {first[:7]}" in pushed.stderr
    assert "\x1b[" not in pushed.stderr  # no ANSI through a pipe
    [c] = running(docker_client, system_name)
    assert c.labels[labels.COMMIT] == first
    first_hash = c.labels[labels.HASH]

    # 2. a change replaces the container; progress events stream back
    write_spec(work, system_name, "2")
    pushed = commit_and_push(work, "second version")
    second = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert pushed.returncode == 0, pushed.stderr
    assert re.search(r"remote: \d\d:\d\d:\d\d app: replica 1 running", pushed.stderr), pushed.stderr
    assert "VERSION: 1 -> 2" in pushed.stderr
    assert {c.labels[labels.COMMIT] for c in running(docker_client, system_name)} == {second}

    # 3. an invalid spec is rejected with file:line:column; nothing moves
    write_spec(work, system_name, "3", replicas="three")
    rejected = commit_and_push(work, "broken")
    assert rejected.returncode != 0
    assert re.search(r"remote:   gitdeploy\.yaml:\d+:\d+: replicas must be an integer", rejected.stderr), rejected.stderr
    assert "push REJECTED" in rejected.stderr and "pre-receive hook declined" in rejected.stderr
    assert git("rev-parse", "main", cwd=bare).stdout.strip() == second
    assert {c.labels[labels.COMMIT] for c in running(docker_client, system_name)} == {second}
    git("reset", "-q", "--hard", second, cwd=work)

    # 4. git revert + push rolls back to the first definition
    git("revert", "--no-edit", "HEAD", cwd=work)
    pushed = git("push", "-q", "origin", "main", cwd=work, check=False)
    assert pushed.returncode == 0, pushed.stderr
    revert = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert f"remote: deployed {revert[:7]}" in pushed.stderr
    live = running(docker_client, system_name)
    assert [c.labels[labels.HASH] for c in live] == [first_hash]
    assert live[0].exec_run(["sh", "-c", "echo $VERSION"]).output.strip() == b"1"

    # the history is in the bare repository: who pushed, by which trigger
    repo = gitpython.Repo(bare)
    assert deployed_commit(repo, "production") == revert
    history = attempts(repo, "production")
    assert [a.commit for a in history] == [revert, second, first]
    assert {a.trigger for a in history} == {"hook"} and history[-1].who == "alice"


def test_push_to_a_branch_that_is_no_environment_only_lands(tmp_path, system_name, docker_client):
    bare, work = bare_with_clone(tmp_path, tmp_path / "data")
    git("config", "gitdeploy.env.staging.branch", "staging", cwd=bare)  # now only staging deploys
    write_spec(work, system_name, "1", replicas="many")  # invalid, but main is no environment now
    pushed = commit_and_push(work, "experiment")
    assert pushed.returncode == 0, pushed.stderr
    assert "gitdeploy" not in pushed.stderr
    assert running(docker_client, system_name) == []


def test_pre_commit_blocks_an_invalid_staged_spec(tmp_path, system_name):
    work = tmp_path / "clone"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    from .helpers import gitdeploy

    gitdeploy("hooks", "install", "--client", str(work), cwd=tmp_path)
    write_spec(work, system_name, "1", replicas=-2)
    git("add", "gitdeploy.yaml", cwd=work)
    blocked = git("commit", "-q", "-m", "bad", cwd=work, check=False)
    assert blocked.returncode != 0
    assert re.search(r"gitdeploy\.yaml:\d+:\d+: replicas", blocked.stderr), blocked.stderr
    assert "the staged spec" in blocked.stderr and "commit blocked" in blocked.stderr
    assert git("rev-list", "--all", cwd=work).stdout == ""
    # the index is what counts: a fixed file that is not staged is still blocked
    write_spec(work, system_name, "1", replicas=1)
    assert git("commit", "-q", "-m", "bad", cwd=work, check=False).returncode != 0
    git("add", "gitdeploy.yaml", cwd=work)
    git("commit", "-q", "-m", "good", cwd=work)
    assert git("rev-list", "--count", "HEAD", cwd=work).stdout.strip() == "1"


def test_a_server_that_never_claims_the_job_does_not_strand_the_push(tmp_path, system_name, docker_client,
                                                                      base_image):
    import os

    from gitdeploy.hooks.jobs import WITHDRAWN
    from gitdeploy.server.datadir import QUEUE_FILE, lock_data_dir
    from gitdeploy.server.queue import JobQueue

    data = tmp_path / "data"
    bare, work = bare_with_clone(tmp_path, data)
    fd = lock_data_dir(data)  # "a server runs on the data dir" - but none of its workers handles git-deploy
    try:
        write_spec(work, system_name, "1")
        pushed = commit_and_push(work, "first", GITDEPLOY_HOOK_UNCLAIMED="1")
    finally:
        os.close(fd)
    sha = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: gitdeploy: queued as job 1" in pushed.stderr
    assert "remote: gitdeploy: no server worker took job 1; deploying directly" in pushed.stderr
    assert f"remote: deployed {sha[:7]}" in pushed.stderr
    assert {c.labels[labels.COMMIT] for c in running(docker_client, system_name)} == {sha}
    queue = JobQueue(data / QUEUE_FILE)
    job = queue.get(1)
    queue.close()
    assert job.state == "superseded" and job.result.startswith(WITHDRAWN) and job.attempts == 0
