"""Kill it and look: `halt` and `down` on the cluster, SIGKILLed between their steps (the failpoint
GITDEPLOY_FAILPOINT=halt:N / down:N, gitdeploy.deploy.failpoint), then `check`, the same command
again, and the next deploy - all through the CLI, as a user meets them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitdeploy.live import labels
from gitdeploy.live.swarm.compare import HALTED
from gitdeploy.live.swarm.names import lock_name
from tests.specrepo import SpecRepo
from tests.swarm.marks import SWARM
from tests.swarm.test_heal_cli import ENV, run

pytestmark = SWARM


def spec(cluster, system: str) -> dict:
    def sleeper(**kw) -> dict:
        return {"image": cluster.base_image, "command": ["sleep", "600"], "init": True, "stop_grace_period": "1s",
                "endpoint_mode": "dnsrr", "rollout": {"monitor": "0.5s"}, **kw}

    return {"app.conf": "x=1\n", "gitdeploy.yaml": {"system": system, "services": {
        "api": sleeper(replicas=2, configs=[{"source": "app.conf", "target": "/etc/app.conf"}]),
        "worker": sleeper(replicas=1, depends_on=["api"]),
        "agent": sleeper(mode="global")}}}


def killed(repo: SpecRepo, cluster, failpoint: str, *args: str) -> None:
    """`gitdeploy <args>` SIGKILLed by the failpoint."""
    cmd = [str(Path(sys.executable).parent / "gitdeploy"), "--engine", "swarm", "--docker-host", cluster.nodes[0].host,
           "--registry", cluster.registry, "--repo", str(repo.root), "--data-dir", str(repo.data_dir), "--env", ENV,
           *args]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(repo.root), "GITDEPLOY_FAILPOINT": failpoint}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == -9, out.stdout + out.stderr


def services(cluster, system: str) -> dict:
    """path -> (replicas or 'global', the halt label, running tasks)."""
    out = {}
    for s in cluster.manager.services.list(filters={"label": f"{labels.SYSTEM}={system}"}):
        spec = s.attrs["Spec"]
        replicas = spec["Mode"].get("Replicated", {}).get("Replicas", "global")
        running = sum(1 for t in s.tasks() if t["Status"]["State"] == "running" and t["DesiredState"] == "running")
        out[spec["Labels"][labels.SERVICE]] = (replicas, spec["Labels"].get(HALTED), running)
    return out


def until(what, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, got
        time.sleep(0.3)
    return got


def test_a_halt_killed_half_way_is_finished_by_the_next_and_the_deploy_gives_the_counts_back(
        tmp_path, swarm_cluster, swarm_system):
    repo = SpecRepo.create(tmp_path, swarm_cluster.manager)
    repo.commit(spec(swarm_cluster, swarm_system))
    assert run(repo, swarm_cluster, "deploy").exit_code == 0
    assert services(swarm_cluster, swarm_system) == {"api": (2, None, 2), "worker": (1, None, 1),
                                                     "agent": ("global", None, 2)}

    killed(repo, swarm_cluster, "halt:1", "halt", "--reason", "incident")  # after the first service stopped
    seen = services(swarm_cluster, swarm_system)
    stopped = [p for p, (_, kept, _) in seen.items() if kept is not None]
    assert len(stopped) == 1, seen
    still = sorted(set(seen) - set(stopped))

    def named():  # once the stopped service's tasks have ended (a 1 s grace), check names the others
        out = run(repo, swarm_cluster, "check").output
        listed = out.split("still running: ")[-1].split(";")[0]
        return out if "still running: " in out and stopped[0] not in listed else None

    said = until(named)
    assert ": incident); a halted system is not drift" in said, said
    assert ", ".join(f"{p} ({seen[p][2]})" for p in still) in said, said

    again = run(repo, swarm_cluster, "halt", "--reason", "incident")
    assert again.exit_code == 0, again.output
    assert services(swarm_cluster, swarm_system) == {"api": (0, "2", 0), "worker": (0, "1", 0),
                                                     "agent": ("global", "2", 0)}
    quiet = run(repo, swarm_cluster, "check")
    assert ": incident); a halted system" in quiet.output and "still running" not in quiet.output, quiet.output
    recorded = json.loads(run(repo, swarm_cluster, "history", "--json").output)["attempts"][0]
    assert recorded["result"] == "halted", recorded  # the halt that finished it names every service it stopped
    assert "replicas were: agent=2, api=2, worker=1" in recorded["summary"], recorded

    planned = run(repo, swarm_cluster, "plan")  # the services exist: they are given back, not created
    assert ": 3 to start" in planned.output and "halted: the service is given back its tasks" in planned.output, \
        planned.output
    back = run(repo, swarm_cluster, "deploy")
    assert back.exit_code == 0, back.output
    assert "5/5 tasks at" in back.output, back.output
    assert services(swarm_cluster, swarm_system) == {"api": (2, None, 2), "worker": (1, None, 1),
                                                     "agent": ("global", None, 2)}
    assert run(repo, swarm_cluster, "check").exit_code == 0


@pytest.mark.parametrize("after", [1, 4], ids=["one-service-removed", "services-and-network-removed"])
def test_a_down_killed_half_way_is_finished_by_the_next_and_leaves_nothing(tmp_path, swarm_cluster, swarm_system,
                                                                           after):
    repo = SpecRepo.create(tmp_path, swarm_cluster.manager)
    repo.commit(spec(swarm_cluster, swarm_system))
    assert run(repo, swarm_cluster, "deploy").exit_code == 0
    killed(repo, swarm_cluster, f"down:{after}", "down")  # steps: 3 services, the network, the objects
    left = services(swarm_cluster, swarm_system)
    assert len(left) == max(0, 3 - after), left
    said = run(repo, swarm_cluster, "check")
    assert ": down by " in said.output, said.output
    if left:
        assert "note: halted, but still running: " in said.output, said.output

    again = run(repo, swarm_cluster, "down")
    assert again.exit_code == 0, again.output
    client = swarm_cluster.manager
    flt = {"label": f"{labels.SYSTEM}={swarm_system}"}
    assert client.services.list(filters=flt) == []
    assert client.networks.list(filters=flt) == []
    assert client.configs.list(filters=flt) == [] and client.secrets.list(filters=flt) == []
    assert client.configs.list(filters={"name": lock_name(swarm_system, ENV)}) == []  # the lock is not left
    quiet = run(repo, swarm_cluster, "check")
    assert ": down by " in quiet.output and "still running" not in quiet.output, quiet.output
    back = run(repo, swarm_cluster, "deploy")
    assert back.exit_code == 0 and "5/5 tasks at" in back.output, back.output
