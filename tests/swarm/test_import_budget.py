"""Start-up on a cluster: a Swarm no-op deploy, a deploy of a change of ready (digest-pinned)
images, `plan`, `status` and `check` speak to the manager (tcp://) through gitdeploy.live.api
alone: neither the Docker SDK nor requests is imported (issue 12's no-op budget); the no-op takes
its spec from the cache, without the YAML parser."""

from __future__ import annotations

from gitdeploy.live import labels
from tests.core.test_import_budget import LOADER, imported, sdk_modules
from tests.specrepo import SpecRepo
from tests.swarm.marks import SWARM

pytestmark = SWARM


def test_swarm_deploys_plan_status_and_check_never_import_the_docker_sdk(tmp_path, swarm_cluster, swarm_system):
    repo = SpecRepo.create(tmp_path, swarm_cluster.manager)
    app = {"image": swarm_cluster.base_image, "command": ["sleep", "3600"], "init": True, "stop_grace_period": "1s",
           "replicas": 2, "endpoint_mode": "dnsrr", "environment": {"VERSION": "1"}, "rollout": {"monitor": "0.5s"}}
    spec = {"system": swarm_system, "services": {"app": app}}
    repo.commit({"gitdeploy.yaml": spec})
    base = ("-m", "gitdeploy", "--engine", "swarm", "--docker-host", swarm_cluster.nodes[0].host,
            "--registry", swarm_cluster.registry, "--repo", str(repo.root), "--data-dir", str(repo.data_dir))
    imported(*base, "deploy")
    for what, command in [("a no-op deploy", "deploy"), ("plan", "plan"), ("status", "status"), ("check", "check")]:
        modules, _ = imported(*base, command)
        assert "gitdeploy.live.swarm.engine" in modules, f"{what} did not reach the cluster"
        assert sdk_modules(modules) == [], f"{what} on a cluster imports {sdk_modules(modules)}"
        if command == "deploy":  # the tree the first deploy loaded: its spec comes from the cache
            loader = sorted(m for m in modules if m in LOADER or m.startswith("yaml"))
            assert loader == [], f"{what} on a cluster imports the spec loader: {loader}"
    app["environment"] = {"VERSION": "2"}
    repo.commit({"gitdeploy.yaml": spec})
    modules, _ = imported(*base, "deploy")
    assert sdk_modules(modules) == [], f"a deploy of a change on a cluster imports {sdk_modules(modules)}"
    [service] = swarm_cluster.manager.api.services(filters={"label": f"{labels.SYSTEM}={swarm_system}"})
    env = service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []
    assert "VERSION=2" in env, env  # the change was deployed
