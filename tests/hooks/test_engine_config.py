"""A bare repository's git config names each environment's engine: `gitdeploy.env.<name>.engine`,
`.registry` and `.dockerHost`. The hooks deploy and validate for it; bad values are named."""

from __future__ import annotations

from pathlib import Path

import git as gitpython
import pytest

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.hooks import jobs, repoconfig
from gitdeploy.hooks.hooks import pre_receive
from gitdeploy.pipeline import Context
from gitdeploy.server.datadir import QUEUE_FILE
from gitdeploy.server.queue import JobQueue

from .helpers import clean_env, git, gitdeploy

PLACED = "system: s\nservices:\n  web:\n    image: x\n    placement: {constraints: [node.role == worker]}\n"


def bare(tmp_path: Path) -> Path:
    path = tmp_path / "spec.git"
    git("init", "-q", "--bare", "-b", "main", str(path), cwd=tmp_path)
    return path


def test_unset_settings_are_none_and_set_ones_are_read(tmp_path):
    repo_path = bare(tmp_path)
    repo = gitpython.Repo(repo_path)
    assert repoconfig.engine_settings(repo, "production") == repoconfig.EngineSettings(None, None, None)
    git("config", "gitdeploy.env.production.engine", "swarm", cwd=repo_path)
    git("config", "gitdeploy.env.production.registry", "10.99.0.1:5000/shop/", cwd=repo_path)
    git("config", "gitdeploy.env.production.dockerHost", "tcp://10.99.0.2:2375", cwd=repo_path)
    git("config", "gitdeploy.env.production-eu.engine", "docker", cwd=repo_path)  # another environment
    git("config", "gitdeploy.env.staging.registry", "elsewhere:5000", cwd=repo_path)
    assert repoconfig.engine_settings(repo, "production") == repoconfig.EngineSettings(
        "swarm", "10.99.0.1:5000/shop", "tcp://10.99.0.2:2375")
    assert repoconfig.engine_settings(repo, "production-eu") == repoconfig.EngineSettings("docker", None, None)
    assert repoconfig.engine_settings(repo, "staging") == repoconfig.EngineSettings(None, "elsewhere:5000", None)


@pytest.mark.parametrize(("key", "value", "said"), [
    ("engine", "nomad", "git config gitdeploy.env.production.engine is 'nomad'"),
    ("registry", "https://reg:5000", "git config gitdeploy.env.production.registry: registry 'https://reg:5000' "
                                     "is not HOST[:PORT][/PREFIX]"),
])
def test_a_bad_setting_is_named(tmp_path, key, value, said):
    repo_path = bare(tmp_path)
    git("config", f"gitdeploy.env.production.{key}", value, cwd=repo_path)
    with pytest.raises(GitdeployError) as err:
        repoconfig.engine_settings(gitpython.Repo(repo_path), "production")
    assert err.value.exit_code == EXIT_INVALID and err.value.message == said and err.value.hint


def test_the_environments_settings_win_over_the_hooks_own(tmp_path):
    repo_path = bare(tmp_path)
    shared = object()  # the hook's connection: kept only where the environment's engine is the same
    hook = Context(repo=repo_path, env="production", data_dir=tmp_path / "d", docker_host="unix:///hook.sock",
                   client=shared, engine_kind="docker", registry="hook-reg:5000")
    plain = repoconfig.environment_context(hook, "staging")
    assert (plain.env, plain.engine_kind, plain.registry, plain.docker_host) == (
        "staging", "docker", "hook-reg:5000", "unix:///hook.sock")
    assert plain.client is shared and plain.data_dir == hook.data_dir
    git("config", "gitdeploy.env.staging.engine", "swarm", cwd=repo_path)
    git("config", "gitdeploy.env.staging.dockerhost", "tcp://manager:2375", cwd=repo_path)
    cluster = repoconfig.environment_context(hook, "staging")
    assert (cluster.engine_kind, cluster.registry, cluster.docker_host) == ("swarm", "hook-reg:5000", "tcp://manager:2375")
    assert cluster.client is None  # another engine: connected on first use, never the hook's
    assert hook.env == "production" and hook.engine_kind == "docker"  # the hook's own context is unchanged


def test_pre_receive_validates_for_the_engine_of_each_environment(tmp_path):
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    (work / "README").write_text("before gitdeploy\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "start", cwd=work)
    old = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    (work / "gitdeploy.yaml").write_text(PLACED)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "placed", cwd=work)
    new = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    git("reset", "-q", "--hard", old, cwd=work)  # as in pre-receive: the pushed commit is on no branch yet
    stdin = f"{old} {new} refs/heads/main\n"

    def run(engine: str = "docker") -> tuple[int, str]:
        told: list[str] = []
        ctx = Context(repo=work, data_dir=tmp_path / "data", engine_kind=engine)
        return pre_receive(ctx, stdin, told.append), "\n".join(told)

    status, told = run()
    assert status == 1 and "gitdeploy.yaml:5:5: placement is honoured only by the swarm engine" in told
    assert run("swarm")[0] == 0  # the hook's --engine / GITDEPLOY_ENGINE
    git("config", "gitdeploy.env.production.engine", "swarm", cwd=work)
    assert run("docker") == (0, "gitdeploy: checking 1 new commit(s) on main (production)")
    git("config", "gitdeploy.env.production.engine", "nomad", cwd=work)
    with pytest.raises(GitdeployError, match="gitdeploy.env.production.engine is 'nomad'"):
        run()


def test_a_queued_hook_deploy_carries_its_engine(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ctx = Context(repo=tmp_path / "spec.git", data_dir=data, engine_kind="swarm", registry="reg:5000",
                  docker_host="tcp://manager:2375")
    job_id = jobs.enqueue(data, ctx.repo, "a" * 40, "refs/heads/main", "production", "alice", jobs.engine_of(ctx))
    queue = JobQueue(data / QUEUE_FILE)
    try:
        payload = queue.get(job_id).payload
    finally:
        queue.close()
    assert (payload["engine"], payload["registry"], payload["docker_host"]) == ("swarm", "reg:5000", "tcp://manager:2375")


def test_install_says_where_each_environment_deploys(tmp_path):
    repo_path = bare(tmp_path)
    git("config", "gitdeploy.env.production.engine", "swarm", cwd=repo_path)
    git("config", "gitdeploy.env.production.registry", "reg:5000", cwd=repo_path)
    git("config", "gitdeploy.env.production.dockerHost", "tcp://manager:2375", cwd=repo_path)
    out = gitdeploy("--data-dir", str(tmp_path / "data"), "hooks", "install", str(repo_path), cwd=tmp_path).stdout
    assert "engines: production -> swarm at tcp://manager:2375 (registry reg:5000)" in out
    assert "gitdeploy.env.<name>.engine docker|swarm, .registry HOST[:PORT][/PREFIX], .dockerHost URL" in out


def test_pre_commit_validates_for_the_committers_engine(tmp_path):
    work = tmp_path / "clone"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    gitdeploy("hooks", "install", "--client", str(work), cwd=tmp_path)
    (work / "gitdeploy.yaml").write_text(PLACED)
    git("add", "gitdeploy.yaml", cwd=work)
    blocked = git("commit", "-q", "-m", "placed", cwd=work, check=False)
    assert blocked.returncode != 0 and "placement is honoured only by the swarm engine" in blocked.stderr
    git("commit", "-q", "-m", "placed", cwd=work, env=clean_env(GITDEPLOY_ENGINE="swarm"))
    assert git("rev-list", "--count", "HEAD", cwd=work).stdout.strip() == "1"


def test_the_dashboard_reads_a_spec_written_for_the_swarm_engine(tmp_path):
    from webhook.overview import overview

    data = tmp_path / "data"
    repo_path = bare(tmp_path)  # no hooks: only what the dashboard reads
    repoconfig.register(data, repo_path)
    git("config", "gitdeploy.env.production.engine", "swarm", cwd=repo_path)
    work = tmp_path / "work"
    git("clone", "-q", str(repo_path), str(work), cwd=tmp_path)
    git("checkout", "-q", "-b", "main", cwd=work)
    (work / "gitdeploy.yaml").write_text(PLACED)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "placed", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    [env] = overview(data, None, None)["repositories"][0]["environments"]
    assert (env["name"], env["system"]) == ("production", "s")
