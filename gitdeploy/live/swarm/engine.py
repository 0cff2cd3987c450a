"""A Docker Swarm cluster as an engine (gitdeploy.live.interface.EngineAPI), driven through a manager.

The unit of change is a Swarm *service* (one per spec service), whose tasks run on many nodes;
analysis returns each current task as an instance (`LiveContainer` with its `node`), so the
planner's diff and the record work as on one engine. What only a cluster does - service specs,
following tasks, restoring a service's previous spec - are the service methods below, which
gitdeploy.deploy.swarm drives. Per-instance operations of the single engine (create/start/stop a
container) do not exist here: Swarm places and replaces tasks itself.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr, labels
from gitdeploy.live.api import LightClient, adopt
from gitdeploy.live.model import EngineObject, Live, LiveContainer
from gitdeploy.live.swarm import compare, names, objects, services, tasks
from gitdeploy.live.swarm import lock as swarm_lock
from gitdeploy.live.swarm import nodes as swarm_nodes
from gitdeploy.live.swarm.compare import comparable
from gitdeploy.live.swarm.images import SwarmImages
from gitdeploy.live.swarm.registry import Registry
from gitdeploy.live.swarm.servicespec import planned, service_spec
from gitdeploy.live.swarm.watch import Watch
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec

if TYPE_CHECKING:  # within live
    from gitdeploy.live.engine import Cancel

KIND = "swarm"
_ERRORS = apierr.EngineError
_STATES = {"running": "running", "complete": "exited", "shutdown": "exited", "failed": "exited",
           "rejected": "exited", "orphaned": "exited", "remove": "removing"}  # else: on its way (created)


@contextlib.contextmanager
def _said(what: str) -> Iterator[None]:
    try:
        yield
    except apierr.APIError as exc:
        raise GitdeployError(f"{what}: {exc.explanation or exc}") from None
    except _ERRORS as exc:
        raise GitdeployError(f"{what}: the cluster's manager did not answer ({exc})") from None


@dataclass(frozen=True)
class ServiceState:
    """One of the system's Swarm services as found: what a rollback gives back."""

    id: str
    name: str
    path: str  # the spec's service path (its label)
    version: int
    spec: dict[str, Any]  # the live ServiceSpec, exactly as the manager returned it
    progress: tasks.Progress
    nodes: tuple[str, ...] = ()  # hostnames of the nodes its running tasks are on
    previous: dict[str, Any] | None = None  # Swarm's PreviousSpec

    @property
    def hash(self) -> str:
        return (self.spec.get("Labels") or {}).get(labels.HASH, "")

    @property
    def commit(self) -> str:
        return (self.spec.get("Labels") or {}).get(labels.COMMIT, "")

    @property
    def replicas(self) -> int | None:
        """Replicas asked for (None: a global service)."""
        rep = (self.spec.get("Mode") or {}).get("Replicated")
        return None if rep is None else int(rep.get("Replicas", 0))


@dataclass(frozen=True)
class Cluster:
    """One look at the system's services and their tasks."""

    services: dict[str, ServiceState]  # by path
    live: Live
    node_names: dict[str, str] = field(default_factory=dict)  # node id -> hostname
    tasks_by_container: dict[str, str] = field(default_factory=dict)  # a task's container ID -> the task's ID
    unusable: tuple[str, ...] = ()  # nodes that take no task, said ("node2 (10.0.0.2) is down")


class SwarmEngine:
    """The Swarm cluster behind one manager's engine."""

    kind = KIND

    def __init__(self, client: LightClient, data_dir: Path, only: frozenset[str] | None = None,
                 where: str = "", registry: str | None = None) -> None:
        self.client = client = adopt(client)
        self.api = client.api
        self.data_dir = data_dir
        self.only = only
        self.where = where or str(getattr(self.api, "base_url", "") or "the local socket")
        self.registry_text = registry
        self.registry = Registry.parse(registry) if registry else None
        self._images: SwarmImages | None = None
        self._networks: dict[str, str] = {}  # name -> id, ensured during this run
        self._net_lock = threading.Lock()
        self._net_ids: dict[str, str] | None = None
        self.watch = Watch(self.api)  # every follow of this manager shares its rounds

    def scoped(self, only: frozenset[str] | None) -> SwarmEngine:
        out = SwarmEngine(self.client, self.data_dir, only, self.where, self.registry_text)
        out._images = self._images
        out.watch = self.watch
        out._net_ids = self._net_ids
        return out

    def untrusted(self) -> SwarmEngine:
        from gitdeploy.live.forksafe import untrusted

        return SwarmEngine(untrusted(self.client), self.data_dir, self.only, self.where, self.registry_text)

    def close(self) -> None:
        self.watch.close()
        self.client.close()

    def _not_here(self, what: str) -> GitdeployError:
        return GitdeployError(f"{what} is not an operation of the swarm engine ({self.where}): Swarm places "
                              "and replaces tasks itself")

    # -- analysis ------------------------------------------------------------------------------

    def look(self, system: str, env: str) -> Cluster:
        """The system's services in `env` (within `only`) and their current tasks, in three calls."""
        flt = {"label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"]}
        with _said(f"listing the services of {system} ({env}) on {self.where}"):
            raw = self.api.services(filters=flt)
            raw = [s for s in raw if self.only is None
                   or (s["Spec"].get("Labels") or {}).get(labels.SERVICE) in self.only]
            all_tasks = self.api.tasks(filters={"service": [s["ID"] for s in raw]}) if raw else []
            raw_nodes = self.api.nodes() if raw else []
        cluster_nodes = sorted((swarm_nodes.of(n) for n in raw_nodes), key=lambda n: n.hostname)
        node_names = {n.id: n.hostname for n in cluster_nodes}
        down = frozenset(n.id for n in cluster_nodes if n.state != "ready")  # their tasks' states are stale
        by_service: dict[str, list[dict[str, Any]]] = {}
        for t in tasks.believable(all_tasks, down):
            by_service.setdefault(t.get("ServiceID", ""), []).append(t)
        states: dict[str, ServiceState] = {}
        instances: list[LiveContainer] = []
        for s in raw:
            spec = s["Spec"]
            path = (spec.get("Labels") or {}).get(labels.SERVICE, "")
            mine = by_service.get(s["ID"], [])
            progress = tasks.judge(s, mine, nodes=raw_nodes)
            current = [t for t in mine if t.get("DesiredState") == "running"
                       or (t.get("Status") or {}).get("State") == "running"]
            states[path] = ServiceState(
                s["ID"], spec.get("Name", ""), path, int(s["Version"]["Index"]), spec, progress,
                tuple(sorted({node_names.get(n, n[:12]) for n in progress.nodes})), s.get("PreviousSpec"))
            instances += [_instance(s, t, path, node_names) for t in current]
        live = Live(system, env, tuple(sorted(instances, key=lambda c: (c.service, c.replica, c.id))))
        by_container = {cid: t["ID"] for t in all_tasks
                        if (cid := ((t.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID"))}
        unusable = tuple(why for n in cluster_nodes if (why := n.trouble()))
        return Cluster(states, live, node_names, by_container, unusable)

    def analyze(self, system: str, env: str, inspect: bool = True) -> Live:
        """Every current task of the system's services in `env`, with its node."""
        return self.look(system, env).live

    def services(self, system: str, env: str) -> dict[str, ServiceState]:
        return self.look(system, env).services

    def analyze_ids(self, ids: list[str]) -> list[LiveContainer]:
        return []  # tasks are not kept by id across deploys: nothing of a failed attempt to discard

    def foreign_envs(self, system: str, env: str) -> set[str]:
        with _said(f"listing the services of {system} on {self.where}"):
            raw = self.api.services(filters={"label": f"{labels.SYSTEM}={system}"})
        return {(s["Spec"].get("Labels") or {}).get(labels.ENV, "") for s in raw} - {env}

    # -- services --------------------------------------------------------------------------------

    def planned_spec(self, d: Desired, spec: Spec, env: str, commit: str,
                     aliases: tuple[str, ...]) -> dict[str, Any]:
        """The ServiceSpec a deploy would send for `d` (servicespec.planned: no cluster touched)."""
        return planned(d, spec.system, env, commit, aliases)

    def spec_drift(self, planned: Mapping[str, Any], live: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """Where the live ServiceSpec is not what `planned_spec` says, as (field, planned, live);
        the deploy's commit label and the objects' IDs do not count (names carry the contents)."""
        return compare.drift(comparable(planned), comparable(live), self._network_ids())

    def apply(self, d: Desired, spec: Spec, env: str, commit: str, aliases: tuple[str, ...],
              existing: ServiceState | None, force: bool = False) -> str:
        """Create the service of `d`, or replace `existing`'s spec (refused when someone changed
        that spec since it was read); configs, secrets and the network are made first. `force`:
        replace every task even if the spec is the same (tasks with drift inside them). Returns the
        service ID."""
        net = self.ensure_network(spec.system, env)
        with _said(f"creating the configs and secrets of {d.path}"):
            configs, secrets = objects.for_service(self.api, spec.system, env, d, spec.files)
        body = service_spec(d, name=names.service_name(spec.system, env, d.path), system=spec.system, env=env,
                            commit=commit, image=d.image_id, network=net, aliases=aliases, configs=configs,
                            secrets=secrets)
        if existing is None:
            return services.create(self.api, body)
        if force:
            body["TaskTemplate"]["ForceUpdate"] = int((existing.spec.get("TaskTemplate") or {}).get("ForceUpdate") or 0) + 1
        services.replace(self.api, existing.id, body, based_on=existing.spec)
        return existing.id

    def put_back(self, before: ServiceState) -> str:
        """Give a service exactly the spec it had (`before`), creating it again if it was removed."""
        with _said(f"reading service {before.name}"):
            found = [s for s in self.api.services(filters={"name": before.name}) if s["Spec"]["Name"] == before.name]
        if not found:
            return services.create(self.api, before.spec)
        now = found[0]
        if now["Spec"] != before.spec:
            if now.get("PreviousSpec") == before.spec:  # changed once since: Swarm's own way back (RollbackConfig)
                services.rollback(self.api, now["ID"], before.name)
            else:
                services.replace(self.api, now["ID"], before.spec)
        return now["ID"]

    def resume(self, service_id: str, spec: Mapping[str, Any]) -> None:
        """Send `spec` again, whatever the service's version: resumes a paused update or rollback
        (Swarm replaces the tasks not at the spec, and only those)."""
        services.replace(self.api, service_id, dict(spec))

    def scale(self, state: ServiceState, replicas: int, note: Mapping[str, str] | None = None) -> None:
        """Set a replicated service's replicas (a halt: 0), with `note` labels added."""
        body = copy.deepcopy(state.spec)
        body.setdefault("Mode", {})["Replicated"] = {"Replicas": replicas}
        body["Labels"] = dict(body.get("Labels") or {}) | dict(note or {})
        services.replace(self.api, state.id, body)

    def remove_service(self, service_id: str) -> None:
        with _said(f"removing service {service_id[:12]}"):
            try:
                self.api.remove_service(service_id)
            except apierr.NotFound:
                pass

    def task_ids(self, service_id: str) -> frozenset[str]:
        with _said(f"listing the tasks of service {service_id[:12]}"):
            return frozenset(t["ID"] for t in self.api.tasks(filters={"service": service_id}))

    def follow(self, service_id: str, deadline: float, *, known: frozenset[str] = frozenset(),
               cancel: Cancel | None = None, on_progress: Callable[[tasks.Progress], None] | None = None,
               until: Callable[[tasks.Progress], bool] | None = None,
               back: bool = False, stale: str = "") -> tasks.Progress:
        """Follow the service until it converged (`until`, default `done`), failed for good (Swarm
        paused the update, or a task not in `known` failed), the deadline passed or `cancel`
        fired; returns the last progress (`explain()` says why it is not done). `back`: following
        a rollback, which converges when `back` and fails only when Swarm paused it. `stale`: the
        start time of the update Swarm reported before this change (its failure is not this one's,
        until the new update shows). The service is read in the engine's shared rounds (`watch`)."""
        end = time.monotonic() + deadline
        last: tasks.Progress | None = None
        finished = until or (lambda p: p.done)
        seq = 0
        with self.watch.following(service_id):
            after = time.monotonic()  # a round that began after this call: it sees the change just sent
            while True:
                r = self.watch.next(service_id, after, seq, cancel.event if cancel is not None else None,
                                    until=None if last is None else end)
                if r is None:  # cancelled, or the deadline passed between rounds
                    if last is None:
                        last = tasks.progress(self.api, service_id, ignore=known)
                    return last
                seq = r.seq
                now = tasks.judge(*r.of(service_id), ignore=known, nodes=r.nodes)
                if on_progress is not None and now != last:
                    on_progress(now)
                last = now
                stuck = now.update in ("paused", "rollback_paused") if back else bool(now.failed)
                stuck = stuck and not (stale and now.update_started == stale)
                if finished(now) or stuck or now.crashed or time.monotonic() >= end:
                    return now
                if cancel is not None and cancel:
                    return now

    # -- networks, volumes, objects, images ------------------------------------------------------

    def ensure_network(self, system: str, env: str) -> str:
        """The system's overlay network (attachable, so a one-off container can reach it); its ID."""
        name = names.network_name(system, env)
        with self._net_lock:
            if name not in self._networks:
                self._networks[name] = self._network(name, system, env)
            return self._networks[name]

    def _network(self, name: str, system: str, env: str) -> str:
        lab = {labels.SYSTEM: system, labels.ENV: env, labels.MANAGED: "true"}
        with _said(f"creating the overlay network {name}"):
            for attempt in range(2):
                found = [n for n in self.api.networks(names=[name]) if n["Name"] == name]
                if found:
                    have = found[0].get("Labels") or {}
                    if have.get(labels.SYSTEM) != system or have.get(labels.ENV) != env:
                        raise GitdeployError(
                            f"the network {name} exists but does not belong to {system!r} ({env})",
                            f"gitdeploy never uses a network it did not create: remove it (docker network rm {name})")
                    return found[0]["Id"]
                try:
                    return self.api.create_network(name, driver="overlay", attachable=True, labels=lab)["Id"]
                except apierr.APIError as exc:
                    if attempt or "already exists" not in str(exc.explanation or exc):
                        raise
                    # another deploy created it meanwhile: read and check it
        raise AssertionError("unreachable")

    def _network_ids(self) -> dict[str, str]:
        """Overlay networks by name (read once per engine: a plan compares every service against them)."""
        with self._net_lock:
            if self._net_ids is None:
                with _said("listing networks"):
                    self._net_ids = {n["Name"]: n["Id"] for n in self.api.networks(filters={"driver": "overlay"})}
            return self._net_ids

    def networks(self, system: str, env: str) -> list[EngineObject]:
        with _said("listing networks"):
            raw = self.api.networks(filters={"label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"]})
        return [EngineObject(n["Name"], n["Id"], n.get("Labels") or {}) for n in raw]

    def remove_network(self, net: EngineObject) -> None:
        """Remove an overlay network and wait until the manager has let it go (Swarm removes it
        once the tasks that used it are gone; until then a removal is refused, or accepted and
        still listed)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                self.api.remove_network(net.id)
                while time.monotonic() < deadline and self.api.networks(ids=[net.id]):
                    time.sleep(0.3)
                return
            except apierr.NotFound:
                return
            except apierr.APIError as exc:
                if time.monotonic() > deadline:
                    raise GitdeployError(f"removing network {net.name}: {exc.explanation or exc}") from None
                time.sleep(0.3)
            except _ERRORS as exc:
                raise GitdeployError(f"removing network {net.name}: the manager did not answer ({exc})") from None

    def ensure_volume(self, system: str, env: str, source: str) -> str:
        return names.volume_name(system, env, source)  # each node's engine creates it with the task

    def volumes(self, system: str, env: str) -> list[EngineObject]:
        return []  # volumes live on the nodes, not in the cluster: `down --volumes` says so

    def remove_volume(self, volume: EngineObject) -> None:
        raise self._not_here("removing a volume")

    def prune_objects(self, system: str, env: str, keep: set[str]) -> list[str]:
        with _said(f"pruning the configs and secrets of {system}"):
            return objects.prune(self.api, system, env, keep)

    def images(self) -> SwarmImages:
        if self._images is None:
            self._images = SwarmImages(self.client, self.registry)
        return self._images

    def service_specs(self, system: str, env: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(spec, previous spec or {}) of every service of the system in `env`, in one call (no tasks)."""
        with _said(f"listing the services of {system} ({env}) on {self.where}"):
            raw = self.api.services(filters={"label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"]})
        return [(s["Spec"], s.get("PreviousSpec") or {}) for s in raw]

    def remember_images(self, system: str, env: str) -> None:
        """Let image references that ran here before resolve to the digests they ran with (the
        services' current and previous specs): a rollback or a revert runs the very bytes that ran
        before, even where a tag has moved since - as one engine uses an image it has."""
        seen: dict[str, str] = {}
        for current, previous in self.service_specs(system, env):  # only the specs are read, not the tasks
            for spec in (previous, current):  # the current spec wins
                raw = (spec.get("Labels") or {}).get(labels.DEFINITION, "")
                try:
                    definition = json.loads(raw) if raw else {}
                except ValueError:
                    continue
                ref, pinned = definition.get("image", ""), definition.get("image_id", "")
                if ref and not ref.startswith("build:") and "@sha256:" in pinned:
                    seen[ref] = pinned
        self.images().remember(seen)

    def ensure_base_image(self) -> str:
        raise self._not_here("importing the offline base image")

    def prune_secret_files(self, grace: float | None = None, dry_run: bool = False) -> list[Path]:
        return []  # secret values live in Swarm secrets (pruned with the configs)

    # -- the engine lock ---------------------------------------------------------------------------

    def hold_lock(self, system: str, env: str, holder: Any = None) -> swarm_lock.SwarmLock:
        return swarm_lock.hold(self.api, system, env, holder)

    def lock_holder(self, system: str, env: str) -> swarm_lock.LockState | None:
        with _said("reading the cluster lock"):
            return swarm_lock.held(self.api, system, env)

    # -- what only one engine does ---------------------------------------------------------------

    def create(self, *a: Any, **kw: Any) -> str:
        raise self._not_here("creating a container")

    def start(self, *a: Any, **kw: Any) -> None:
        raise self._not_here("starting a container")

    def stop(self, *a: Any, **kw: Any) -> None:
        raise self._not_here("stopping a container")

    def remove(self, cid: str) -> None:
        raise self._not_here("removing a container")

    def drain(self, *a: Any, **kw: Any) -> None:
        raise self._not_here("draining a container")

    def settle(self, *a: Any, **kw: Any) -> str:
        raise self._not_here("draining a container")

    def publish(self, *a: Any, **kw: Any) -> None:
        raise self._not_here("publishing a container")

    def rejoin(self, *a: Any, **kw: Any) -> None:
        raise self._not_here("publishing a container")

    def container_events(self, *a: Any, **kw: Any) -> Iterator[Any]:
        raise self._not_here("following one container")

    def final_state(self, *a: Any, **kw: Any) -> Any:
        raise self._not_here("inspecting one container")

    def logs_tail(self, cid: str, lines: int = 5) -> str:
        return ""

    # -- homeostasis (observe) --
    # (imports are local so that this block stays apart from the rest of the file)

    def observe_cluster(self, system: str, env: str, node_hosts: Mapping[str, str] | None = None,
                        workers: int = 8):  # -> gitdeploy.live.swarm.observe.SwarmObservation
        """The healer's look at `system` in `env` (gitdeploy.live.swarm.observe): services, tasks,
        nodes, and the files of each running task's container where its node can be reached."""
        from gitdeploy.live.swarm import observe

        return observe.observe(self.api, system, env, node_hosts, workers)

    def events(self, system: str, env: str, actions: Sequence[str] = ()):  # -> observe.TaskEvents (an EventStream)
        """What happens to the system's tasks anywhere in the cluster, from now on (polled: a manager
        reports no task events, and a node's container events stay on that node). `actions` are
        the single engine's container events: every change of a task is one here."""
        from gitdeploy.live.swarm import observe

        return observe.TaskEvents(self.api, system, env)


def _instance(service: dict[str, Any], task: dict[str, Any], path: str, node_names: Mapping[str, str]) -> LiveContainer:
    """One task as an instance: its hash from its own container labels, its commit and
    definition from the service spec it runs (current or previous)."""
    spec = service["Spec"]
    tspec = task.get("Spec") or {}
    container = tspec.get("ContainerSpec") or {}
    clab = container.get("Labels") or {}
    runs = {k: v for k, v in tspec.items() if k not in ("Placement", "Runtime")}
    source = spec
    for candidate in (spec, service.get("PreviousSpec") or {}):
        tmpl = candidate.get("TaskTemplate") or {}
        if {k: v for k, v in tmpl.items() if k not in ("Placement", "Runtime")} == runs:
            source = candidate
            break
    slab = source.get("Labels") or {}
    status = task.get("Status") or {}
    state = _STATES.get(status.get("State", ""), "created")
    hc = container.get("Healthcheck") or {}
    has_hc = bool(hc.get("Test")) and hc.get("Test", [""])[0] != "NONE"
    node = node_names.get(task.get("NodeID", ""), (task.get("NodeID") or "")[:12])
    slot = int(task.get("Slot") or 0)
    return LiveContainer(
        id=task["ID"],
        name=f"{spec.get('Name', '')}.{slot or node}",
        service=path,
        replica=slot or 1,
        hash=clab.get(labels.HASH, ""),
        commit=slab.get(labels.COMMIT, "") if source is spec or clab.get(labels.HASH) == slab.get(labels.HASH) else "",
        state=state,
        health=("healthy" if state == "running" else "starting") if has_hc else "none",
        image_id=container.get("Image", ""),
        created=_when(task.get("CreatedAt", "")),
        definition_raw=slab.get(labels.DEFINITION, ""),
        depends=tuple(x for x in slab.get(labels.DEPENDS, "").split(",") if x),
        node=node,
    )


def _when(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp() if stamp else 0.0
    except ValueError:
        return 0.0
