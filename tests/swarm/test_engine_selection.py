"""Engine selection on a real cluster: a bare repository whose git config names a swarm
environment deploys there on `git push` (the hooks), the bot deploys a push to a server
environment with `engine: swarm` (real Flask server, real HMAC, fake GitHub), and
`--engine swarm` refuses a `build:` without a registry before anything runs."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from gitdeploy.cli import cli
from gitdeploy.live import labels
from gitdeploy.live.baseimage import BASE_IMAGE
from tests.bot.conftest import REPO, Bot, Origin, push_event
from tests.fakegithub.fixture import fake_github  # noqa: F401 - the fixture, used by name
from tests.hooks.helpers import bare_with_clone, clean_env, git
from tests.swarm.marks import SWARM

pytestmark = SWARM
PR = 12


def spec(system: str, version: str) -> dict:
    """One small service, 2 replicas, on the base image the manager has (gitdeploy pushes it
    through the registry for the other node); dnsrr: this kernel has no IPVS."""
    return {"system": system, "services": {"app": {
        "image": BASE_IMAGE, "command": ["sleep", "3600"], "init": True, "stop_grace_period": "1s",
        "replicas": 2, "endpoint_mode": "dnsrr", "environment": {"VERSION": version},
        "rollout": {"monitor": "0.5s"}}}}


def tasks_at(cluster, system: str) -> dict[str, object]:
    """The system's one service: its pinned image and the (node, state) of each of its tasks."""
    [service] = cluster.manager.services.list(filters={"label": f"{labels.SYSTEM}={system}"})
    attrs = service.attrs["Spec"]
    tasks = [t for t in service.tasks() if t["DesiredState"] == "running"]
    return {"image": attrs["TaskTemplate"]["ContainerSpec"]["Image"], "commit": attrs["Labels"][labels.COMMIT],
            "running": sorted(t["Status"]["State"] for t in tasks), "nodes": {t["NodeID"] for t in tasks}}


def wait_running(cluster, system: str, count: int, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        seen = tasks_at(cluster, system)
        if seen["running"] == ["running"] * count or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def test_a_push_to_a_swarm_environment_of_a_bare_repository_deploys_to_the_cluster(
        tmp_path, swarm_cluster, swarm_system):
    bare, work = bare_with_clone(tmp_path, tmp_path / "data")
    registry = f"{swarm_cluster.registry}/{swarm_system}"
    git("config", "gitdeploy.env.production.engine", "swarm", cwd=bare)
    git("config", "gitdeploy.env.production.registry", registry, cwd=bare)
    git("config", "gitdeploy.env.production.dockerHost", swarm_cluster.nodes[0].host, cwd=bare)
    (work / "gitdeploy.yaml").write_text(json.dumps(spec(swarm_system, "1"), indent=2))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    sha = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    # the pusher's shell names no engine at all: the repository's git config does
    pushed = git("push", "-q", "origin", "main", cwd=work, check=False,
                 env=clean_env(GITDEPLOY_PUSHER="alice"), timeout=300)
    assert pushed.returncode == 0, pushed.stderr
    assert f"remote: gitdeploy: deploying {sha[:7]} to production (pushed by alice)" in pushed.stderr
    assert f"2/2 tasks at {sha[:7]} on 2 nodes" in pushed.stderr, pushed.stderr
    seen = wait_running(swarm_cluster, swarm_system, 2)
    assert seen["running"] == ["running", "running"] and len(seen["nodes"]) == 2
    assert seen["commit"] == sha
    assert str(seen["image"]).startswith(f"{registry}/gitdeploy/busybox:1-") and "@sha256:" in str(seen["image"])


def test_the_bot_deploys_a_push_to_a_swarm_environment(tmp_path, fake_github, swarm_cluster, swarm_system):  # noqa: F811
    fake = fake_github
    fake.state.add_repo(REPO, default_branch="main")
    origin = Origin(tmp_path)
    bot = Bot(tmp_path, fake, origin)
    registry = f"{swarm_cluster.registry}/{swarm_system}"
    cluster_env = (f"environments: {{production: {{branch: main, engine: swarm, registry: '{registry}', "
                   f"docker_host: '{swarm_cluster.nodes[0].host}'}}}}\n")
    bot.config.write_text(bot.config.read_text().replace("environments: {production: {branch: main}}\n", cluster_env))
    bot.start()
    try:
        base = origin.commit("main", spec(swarm_system, "0"), "before the bot")  # never deployed: no delivery
        origin.commit("feature", spec(swarm_system, "1"), "the app")
        fake.state.add_pull(REPO, PR, head_sha=origin.head("feature"), head_ref="feature", base_ref="main")
        merge = origin.merge("feature", PR)
        fake.state.associate_commit(REPO, merge, PR)
        [job] = bot.run("push", push_event("main", base, merge), timeout=240)
        assert job.state == "done", f"{job.result}\n{bot.output()}"
        with fake.state.lock:
            described = [(s["state"], s["description"]) for s in fake.state.repo(REPO).statuses.get(merge, [])
                         if s["context"] == "gitdeploy/deploy"]
        assert described[0][0] == "pending" and described[-1][0] == "success", described
        assert f"2/2 tasks at {merge[:7]} on 2 nodes" in described[-1][1], described
        [result] = [c["body"] for c in fake.state.comments(REPO, PR) if f"Commit: `{merge}`" in c["body"]]
        assert f"2/2 tasks at {merge[:7]} on 2 nodes" in result and "(push by Codertocat)" in result, result
    finally:
        bot.stop()
    seen = wait_running(swarm_cluster, swarm_system, 2)
    assert seen["running"] == ["running", "running"] and seen["commit"] == merge
    assert str(seen["image"]).startswith(f"{registry}/") and "@sha256:" in str(seen["image"])


def test_a_build_without_a_registry_is_refused_before_anything_runs(tmp_path, swarm_cluster, swarm_system):
    root = tmp_path / "spec"
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\n")
    (root / "gitdeploy.yaml").write_text(json.dumps({"system": swarm_system, "services": {"app": {
        "build": "app", "command": ["sleep", "3600"], "endpoint_mode": "dnsrr"}}}))
    git("init", "-q", "-b", "main", str(root), cwd=tmp_path)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "app", cwd=root)
    base = ["--repo", str(root), "--data-dir", str(tmp_path / "data"), "--engine", "swarm",
            "--docker-host", swarm_cluster.nodes[0].host]
    for command in ("plan", "deploy"):
        result = CliRunner().invoke(cli, [*base, command], env={"GITDEPLOY_REGISTRY": None})
        assert result.exit_code == 2, result.output
        assert "no registry is set" in result.output and "--registry" in result.output, result.output
        assert "Traceback" not in result.output and "crash" not in result.output
    assert swarm_cluster.manager.services.list(filters={"label": f"{labels.SYSTEM}={swarm_system}"}) == []
