"""A Docker Swarm cluster as an engine (gitdeploy.live.interface.EngineAPI), driven through a manager.

The unit of change is a Swarm *service* (one per spec service), whose tasks run on many nodes;
analysis returns each running task as an instance (`LiveContainer` with its `node`), so the
planner's diff and the record work as on one engine. What only a cluster does - service specs,
following tasks, restoring a service's previous spec - are the service methods below, which
gitdeploy.deploy.swarm drives. Per-instance operations of the single engine (create/start/stop a
container) do not exist here: Swarm places and replaces tasks itself.
"""

from __future__ import annotations

from pathlib import Path

import docker

from gitdeploy.errors import GitdeployError
from gitdeploy.live.swarm.registry import Registry

KIND = "swarm"


class SwarmEngine:
    """The Swarm cluster behind one manager's engine."""

    kind = KIND

    def __init__(self, client: docker.DockerClient, data_dir: Path, only: frozenset[str] | None = None,
                 where: str = "", registry: str | None = None) -> None:
        self.client = client
        self.api = client.api
        self.data_dir = data_dir
        self.only = only
        self.where = where or str(getattr(self.api, "base_url", "") or "the local socket")
        self.registry_text = registry
        self.registry = Registry.parse(registry) if registry else None

    def scoped(self, only: frozenset[str] | None) -> SwarmEngine:
        return SwarmEngine(self.client, self.data_dir, only, self.where, self.registry_text)

    def untrusted(self) -> SwarmEngine:
        from gitdeploy.live.forksafe import untrusted

        return SwarmEngine(untrusted(self.client), self.data_dir, self.only, self.where, self.registry_text)

    def close(self) -> None:
        self.client.close()

    def _not_here(self, what: str) -> GitdeployError:
        return GitdeployError(f"{what} is not an operation of the swarm engine ({self.where})")

    # -- homeostasis (observe) --
    # (imports are local so that this block stays apart from the rest of the file)

    def observe_cluster(self, system: str, env: str, node_hosts: dict[str, str] | None = None,
                        workers: int = 8):  # -> gitdeploy.live.swarm.observe.SwarmObservation
        """The healer's look at `system` in `env` (gitdeploy.live.swarm.observe): services, tasks,
        nodes, and the files of each running task's container where its node can be reached."""
        from gitdeploy.live.swarm import observe

        return observe.observe(self.api, system, env, node_hosts, workers)

    def events(self, system: str, env: str, actions: object = ()):  # -> observe.TaskEvents (an EventStream)
        """What happens to the system's tasks anywhere in the cluster, from now on (polled: a manager
        reports no task events, and a node's container events stay on that node). `actions` are
        the single engine's container events: every change of a task is one here."""
        from gitdeploy.live.swarm import observe

        return observe.TaskEvents(self.api, system, env)
