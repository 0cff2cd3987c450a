"""The healer's look at a Swarm cluster, as plain values (gitdeploy.heal.swarm decides from them).

From the manager: every service (for names and ports other services hold), the tasks of the
system's services (current and Swarm's recent history), the nodes, and the ID of the system's
network (so the ServiceSpec gitdeploy would send can be compared with the live one). From each node's own engine: `docker diff` and `inspect` of the containers of the
system's running tasks - a task's container lives on its node, which the manager cannot look
into. The manager's own node is always reachable (it is the engine `--docker-host` names); any
other node only through an endpoint the environment lists (`node_hosts`: node hostname -> docker
host). A node that cannot be looked into is said, with why, in `unchecked`: never skipped silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr, labels
from gitdeploy.live.api import LightAPI, adopt_api, api_for
from gitdeploy.live.enginelock import engine_time
from gitdeploy.live.model import ContainerEvent, FileChange
from gitdeploy.live.swarm import nodes as swarm_nodes
from gitdeploy.live.swarm.names import network_name

_ERRORS = (apierr.EngineError, OSError)
NODE_TIMEOUT = 10  # seconds a node's engine gets to answer (a dead node must not stall a check)


@dataclass(frozen=True)
class SwarmObservation:
    """What one look at the cluster saw; every value is the engine's own plain dict or a Node."""

    services: tuple[dict[str, Any], ...]  # every service of the cluster (GET /services)
    tasks: Mapping[str, tuple[dict[str, Any], ...]]  # the system's services' tasks, by service ID
    nodes: tuple[swarm_nodes.Node, ...]
    networks: Mapping[str, str]  # the system network's name -> ID
    now: float  # the manager's clock (task timestamps are on it)
    inspects: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # task container ID -> inspect
    diffs: Mapping[str, list[FileChange]] = field(default_factory=dict)  # task container ID -> docker diff
    unchecked: Mapping[str, str] = field(default_factory=dict)  # node hostname -> why its files were not checked
    # node hostname -> the running containers there that are no Swarm task and publish a port (`docker ps`
    # of each node whose engine can be reached: a plain container holding a port a service publishes)
    publishing: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)


def ours(service: Mapping[str, Any], system: str, env: str) -> bool:
    lab = (service.get("Spec") or {}).get("Labels") or {}
    return lab.get(labels.SYSTEM) == system and lab.get(labels.ENV) == env


def observe(api: LightAPI, system: str, env: str, node_hosts: Mapping[str, str] | None = None,
            workers: int = 8, connect: Callable[[str], LightAPI] | None = None) -> SwarmObservation:
    """Look at `system` in `env` on the cluster behind the manager `api` (see the module doc).

    `node_hosts`: docker host of a node's own engine, by node hostname (or node ID). Raises
    GitdeployError when the manager does not answer; a node that does not is only `unchecked`.
    """
    api = adopt_api(api)
    try:
        services = tuple(api.services())
        mine = [s for s in services if ours(s, system, env)]
        tasks: dict[str, tuple[dict[str, Any], ...]] = {s["ID"]: () for s in mine}
        if mine:
            for t in api.tasks(filters={"service": [s["ID"] for s in mine]}):
                if t.get("ServiceID") in tasks:
                    tasks[t["ServiceID"]] += (t,)
        net = network_name(system, env)
        networks = {n["Name"]: n["Id"] for n in api.networks(names=[net]) if n.get("Name") == net}
        now = engine_time(api)
        here = (api.info().get("Swarm") or {}).get("NodeID") or ""
    except apierr.APIError as exc:
        raise GitdeployError(f"looking at the cluster: {exc.explanation or exc}",
                             "--docker-host must name a manager of the swarm") from None
    except _ERRORS as exc:
        raise GitdeployError(f"looking at the cluster: the manager did not answer ({exc})") from None
    cluster = tuple(swarm_nodes.nodes(api))
    running: dict[str, list[str]] = {}  # node ID -> container IDs of the system's running tasks
    for ts in tasks.values():
        for t in ts:
            cid = ((t.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
            if t.get("DesiredState") == "running" and t["Status"].get("State") == "running" and cid:
                running.setdefault(t.get("NodeID", ""), []).append(cid)
    node_hosts = node_hosts or {}
    # every node whose engine can be reached is asked for its containers: the manager's own, and
    # those with an endpoint even when no task of the system runs there (a held port keeps it so)
    reach = {n.id for n in cluster if n.id == here or n.hostname in node_hosts or n.id in node_hosts}
    visit = {nid: running.get(nid, []) for nid in set(running) | reach}
    inspects, diffs, unchecked, publishing = _files(api, here, cluster, visit, node_hosts, workers,
                                                    connect or _connect)
    return SwarmObservation(services, tasks, cluster, networks, now, inspects, diffs, unchecked, publishing)


def _connect(host: str) -> LightAPI:
    return api_for(host, NODE_TIMEOUT)


def _files(
    api: LightAPI, here: str, cluster: tuple[swarm_nodes.Node, ...], running: Mapping[str, list[str]],
    node_hosts: Mapping[str, str], workers: int, connect: Callable[[str], LightAPI],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[FileChange]], dict[str, str],
           dict[str, tuple[dict[str, Any], ...]]]:
    """The inspect and `docker diff` of every container in `running`, and the plain containers
    that publish a port, asked of each node's engine."""
    by_id = {n.id: n for n in cluster}
    inspects: dict[str, dict[str, Any]] = {}
    diffs: dict[str, list[FileChange]] = {}
    unchecked: dict[str, str] = {}
    publishing: dict[str, tuple[dict[str, Any], ...]] = {}

    def one(node_id: str, cids: list[str]) -> None:
        node = by_id.get(node_id)
        name = node.hostname if node else node_id[:12]
        host = node_hosts.get(name) or node_hosts.get(node_id)
        if node_id == here:
            client, close = api, False
        elif host is None:
            if cids:
                unchecked[name] = "no endpoint is given for its engine (--node-host NODE=HOST)"
            return
        else:
            try:
                client, close = connect(host), True
            except _ERRORS as exc:
                unchecked[name] = f"its engine at {host} cannot be reached ({exc})"
                return
        try:
            if close:  # the endpoint must be that node's engine, or its containers would seem gone
                is_node = (client.info().get("Swarm") or {}).get("NodeID") or ""
                if is_node != node_id:
                    unchecked[name] = f"the engine at {host} is not {name}'s (it is node {is_node[:12] or 'outside the swarm'})"
                    return
            publishing[name] = tuple(c for c in client.containers() if c.get("Ports") and not
                                     (c.get("Labels") or {}).get("com.docker.swarm.task.id"))
            for cid in cids:
                try:
                    info = client.inspect_container(cid)
                    raw = client.diff(cid) or []
                except apierr.NotFound:
                    continue  # the task ended meanwhile: its next task is judged at the next look
                inspects[cid] = info
                diffs[cid] = [FileChange(str(c.get("Path") or ""), int(c.get("Kind") or 0)) for c in raw]
        except _ERRORS as exc:
            unchecked[name] = f"its engine at {host or 'the manager'} did not answer ({exc})"
        finally:
            if close:
                client.close()

    if running:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(running)))) as pool:
            list(pool.map(lambda kv: one(*kv), running.items()))
    return inspects, diffs, unchecked, publishing


class TaskEvents:
    """The system's task, service and node changes as ContainerEvents (an EventStream), by polling
    the manager every `poll` seconds: a manager emits no task events, and the container events of
    a task stay on its node. A task that failed is a `die`, one that started a `start`, a changed
    service an `update`, a node's changed state or availability a `node`. `close()` (any thread)
    ends the iteration within one poll."""

    def __init__(self, api: LightAPI, system: str, env: str, poll: float = 1.0) -> None:
        api = adopt_api(api)
        self.api = api
        self.system = system
        self.env = env
        self.poll = poll
        self._closed = threading.Event()
        self._seen = self._snapshot()  # events are what changes from now on

    def _snapshot(self) -> dict[str, tuple[str, ...]]:
        try:
            flt = {"label": [f"{labels.SYSTEM}={self.system}", f"{labels.ENV}={self.env}"]}
            services = self.api.services(filters=flt)
            out: dict[str, tuple[str, ...]] = {
                f"service:{s['ID']}": ("update", str((s.get("Version") or {}).get("Index"))) for s in services}
            if services:
                for t in self.api.tasks(filters={"service": [s["ID"] for s in services]}):
                    st = t.get("Status") or {}
                    out[t["ID"]] = (_action(st.get("State", "")), st.get("State", ""), t.get("DesiredState", ""),
                                    (st.get("ContainerStatus") or {}).get("ContainerID") or "", t.get("NodeID", ""))
            for n in self.api.nodes():
                out[f"node:{n['ID']}"] = ("node", (n.get("Status") or {}).get("State", ""),
                                          (n.get("Spec") or {}).get("Availability", ""))
            return out
        except apierr.APIError as exc:
            raise GitdeployError(f"following the cluster's tasks: {exc.explanation or exc}") from None
        except _ERRORS as exc:
            raise GitdeployError(f"following the cluster's tasks: the manager did not answer ({exc})") from None

    def __iter__(self) -> Iterator[ContainerEvent]:
        while not self._closed.wait(self.poll):
            now = self._snapshot()
            for key, seen in now.items():
                if self._seen.get(key) != seen:
                    cid, node = (seen[3], seen[4]) if len(seen) == 5 else ("", "")
                    yield ContainerEvent(time.time(), seen[0], cid, node)
            if set(self._seen) - set(now):  # a task, service or node is gone
                yield ContainerEvent(time.time(), "destroy", "", "")
            self._seen = now

    def close(self) -> None:
        self._closed.set()


def _action(state: str) -> str:
    """A task's state in the words of the single engine's container events."""
    return {"failed": "die", "rejected": "die", "complete": "die", "shutdown": "kill", "orphaned": "die",
            "running": "start"}.get(state, state)
