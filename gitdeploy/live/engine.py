"""The Docker edge: everything gitdeploy asks of an engine goes through `Engine`.

The executor decides nothing here and the planner never calls it. Engine errors become
GitdeployError with what the engine said.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.fsutil import atomic_write, storage_error
from gitdeploy.live import apierr, enginelock, labels, look
from gitdeploy.live.api import LightClient, adopt, client_for, ipam_config
from gitdeploy.live.container_config import (  # noqa: F401 - the names and REPLICA_ENV are used from here too
    REPLICA_ENV,
    config_for,
    container_name,
    network_name,
    volume_name,
)
from gitdeploy.live.enginelock import EngineLock, Holder, LockState
from gitdeploy.live.errors import engine_errors
from gitdeploy.live.images import ImageResolver
from gitdeploy.live.interface import EventStream
from gitdeploy.live.model import (
    EngineEvent,
    EngineObject,
    FileChange,
    FinalState,
    Live,
    LiveContainer,
    Observation,
)
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Service, Spec


def connect(docker_host: str | None = None, timeout: int = 300) -> LightClient:
    """A client for `docker_host` (default: DOCKER_HOST or the local socket), checked by one ping
    (which says the engine's API version). Raises GitdeployError."""
    try:
        return client_for(docker_host, timeout)
    except apierr.EngineError as exc:
        where = docker_host or os.environ.get("DOCKER_HOST") or "the local socket"
        raise GitdeployError(
            f"cannot reach the Docker Engine at {where}: {exc}",
            "start it (bash scripts/setup.sh deps starts a local one) or set DOCKER_HOST",
        ) from None


class Cancel:
    """A Ctrl-C for running work: waits on engine streams end at once when it fires."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._lock = threading.Lock()
        self._streams: set[Any] = set()

    def __bool__(self) -> bool:
        return self.event.is_set()

    def fire(self) -> None:
        self.event.set()
        with self._lock:
            streams = list(self._streams)
        for s in streams:
            try:
                s.close()
            except Exception:  # noqa: BLE001 - closing a broken stream: nothing left to do
                pass

    def watch(self, stream: Any) -> bool:
        """Close `stream` when this fires; False (and closed) if it has fired already."""
        with self._lock:
            if self.event.is_set():
                stream.close()
                return False
            self._streams.add(stream)
            return True

    def unwatch(self, stream: Any) -> None:
        with self._lock:
            self._streams.discard(stream)


# An environment name is one part of `<system>.<env>.<...>` object names and a folder of the
# data dir: no dots (two systems' names could collide), no slashes, nothing a shell would mangle.
ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def check_env_name(env: str) -> str:
    """`env` when it is a valid environment name; else GitdeployError (exit 2) saying why."""
    if not isinstance(env, str) or not ENV_NAME.fullmatch(env):
        raise GitdeployError(
            f"environment name {env!r} is not valid: use letters, digits, '-' or '_' (at most 63, "
            "starting with a letter or digit)",
            "dots and slashes are refused: engine objects are named <system>.<env>.<name>",
            exit_code=EXIT_INVALID,
        )
    return env


def managed_labels(system: str, env: str) -> dict[str, str]:
    """The labels of a network or volume gitdeploy creates for `system` in `env`."""
    return {labels.SYSTEM: system, labels.ENV: env, labels.MANAGED: "true"}


def owner_of(lab: dict[str, str] | None) -> str:
    """Who an engine object belongs to, from its labels, for messages."""
    lab = lab or {}
    if labels.SYSTEM in lab:
        return f"gitdeploy system {lab[labels.SYSTEM]!r} ({lab.get(labels.ENV, '?')})"
    return "something other than gitdeploy (no io.gitdeploy labels)"


def owned(lab: dict[str, str] | None, system: str, env: str) -> bool:
    """True when a network's or volume's labels say gitdeploy made it for `system` in `env`."""
    lab = lab or {}
    return lab.get(labels.SYSTEM) == system and lab.get(labels.ENV) == env and lab.get(labels.MANAGED) == "true"


def _refuse_foreign(kind: str, name: str, lab: dict[str, str] | None, system: str, env: str) -> None:
    raise GitdeployError(
        f"the {kind} {name} exists but belongs to {owner_of(lab)}, not to {system!r} ({env})",
        f"gitdeploy never uses a {kind} it did not create for this system: remove or rename that "
        f"{kind} (docker {kind} rm {name}) if it is not needed, or rename the system",
    )


def aliases_for(spec: Spec) -> dict[str, tuple[str, ...]]:
    """DNS aliases per service: its dashed path, plus its short name where unique in the system."""
    return service_aliases(spec.services)


def service_aliases(services: Iterable[Service]) -> dict[str, tuple[str, ...]]:
    """See aliases_for (from the services alone)."""
    from gitdeploy.spec.names import aliases  # the rules live with the spec, which validates them

    return aliases(s.path for s in services)


# The connection-aware drain: a drained replica with no client connection for SETTLE_QUIET seconds
# is stopped. A client that resolved its address just before it left DNS must connect within it:
# 0.2 s lost one request in a few hundred on a loaded 2-core machine (a client descheduled between
# its lookup and its connect, then hanging on an address that was gone), 1 s has not.
SETTLE_QUIET = 1.0
SETTLE_POLL = 0.05


class Engine:
    """One Docker Engine: the docker implementation of gitdeploy.live.interface.EngineAPI."""

    kind = "docker"

    def __init__(self, client: LightClient, data_dir: Path, only: frozenset[str] | None = None,
                 where: str = "") -> None:
        self.client = client = adopt(client)
        self.api = client.api
        self.data_dir = data_dir
        self.only = only  # analyze sees only these services (a heal repairing some of them)
        self.where = where or str(getattr(self.api, "base_url", "") or "the local socket")
        self._net_lock = threading.Lock()
        self._networks: set[str] = set()  # ensured during this run: no need to ask again
        self._left: dict[str, tuple[float, dict]] = {}  # drained: (when it left DNS, its inspection for settle)

    def scoped(self, only: frozenset[str] | None) -> Engine:
        return Engine(self.client, self.data_dir, only, self.where)

    def untrusted(self) -> Engine:
        from gitdeploy.live.forksafe import untrusted

        return Engine(untrusted(self.client), self.data_dir, self.only, self.where)

    def close(self) -> None:
        self.client.close()

    # -- analysis ------------------------------------------------------------------------

    def analyze(self, system: str, env: str, inspect: bool = True) -> Live:
        """Every container of the system in this environment: one list call, then (`inspect`) one
        inspection per running container on a bounded pool, for its networks, aliases and health."""
        with engine_errors("listing containers"):
            raw = self.api.containers(
                all=True, filters={"label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"]}
            )
        live = [c for c in map(LiveContainer.from_api, raw) if self.only is None or c.service in self.only]
        if inspect:
            live = self._inspected(live, f"{system}.{env}")
        return Live(system, env, tuple(live))

    def analyze_ids(self, ids: list[str]) -> list[LiveContainer]:
        """Those of `ids` that still exist (any system: ids are exact)."""
        if not ids:
            return []
        with engine_errors("listing containers"):
            raw = self.api.containers(all=True, filters={"id": list(ids)})
        return [LiveContainer.from_api(r) for r in raw]

    def _inspected(self, containers: list[LiveContainer], key: str) -> list[LiveContainer]:
        """Running containers with their networks and aliases: from the endpoint cache where every
        endpoint of a container is known (an endpoint's aliases never change), else inspected."""
        running = [c for c in containers if c.running]
        if not running:
            return containers
        known = self._endpoint_cache(key)
        by_id = {c.id: c for c in containers}
        todo = []
        for c in running:
            if c.endpoints and all(e and e in known for _, e in c.endpoints) and c.state == "running":
                by_id[c.id] = replace(c, networks=tuple((n, tuple(known[e])) for n, e in c.endpoints))
            else:
                todo.append(c)

        def one(c: LiveContainer) -> LiveContainer | None:
            try:
                return c.with_inspect(self.api.inspect_container(c.id))
            except apierr.NotFound:
                return None  # removed since the list

        with engine_errors("inspecting containers"):
            if len(todo) <= 1:
                done = [one(c) for c in todo]
            else:
                with ThreadPoolExecutor(min(16, len(todo)), "gd-inspect") as pool:
                    done = list(pool.map(one, todo))
        learned: dict[str, list[str]] = {}
        for old, new in zip(todo, done, strict=True):
            if new is None:
                del by_id[old.id]
                continue
            by_id[old.id] = new
            if new.state == "running":
                ids = dict(old.endpoints)
                learned |= {ids[n]: list(a) for n, a in new.networks or () if ids.get(n)}
        if learned:
            current = {e for c in running for _, e in c.endpoints}
            self._save_endpoints(key, {k: v for k, v in known.items() if k in current} | learned)
        return list(by_id.values())

    def _endpoints_file(self, key: str) -> Path:
        """One cache per system and environment (each keeps only its current endpoints)."""
        return self.data_dir / "endpoints" / f"{key}.json"

    def _endpoint_cache(self, key: str) -> dict[str, list[str]]:
        try:
            data = json.loads(self._endpoints_file(key).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items()
                if isinstance(k, str) and isinstance(v, list) and all(isinstance(a, str) for a in v)}

    def _save_endpoints(self, key: str, data: dict[str, list[str]]) -> None:
        """Best effort (a cache): an atomic replace, never an error for the caller."""
        path = self._endpoints_file(key)
        tmp = path.with_name(f".endpoints.{os.getpid()}.{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data))
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)

    def foreign_envs(self, system: str, env: str) -> set[str]:
        with engine_errors("listing containers"):
            raw = self.api.containers(all=True, filters={"label": f"{labels.SYSTEM}={system}"})
        return {(r.get("Labels") or {}).get(labels.ENV, "") for r in raw} - {env}

    def observe(self, system: str, env: str, desired: Sequence[Desired], workers: int = 8) -> Observation:
        return look.observe(self.api, system, env, desired, workers)

    def file_changes(self, cid: str) -> list[FileChange] | None:
        return look.file_changes(self.api, cid)

    def events(self, system: str, env: str, actions: Sequence[str]) -> EventStream:
        return look.events(self.api, system, env, actions)

    # -- networks, volumes, files ---------------------------------------------------------

    def ensure_network(self, system: str, env: str) -> str:
        """The system network's name, created if missing; exactly one network of ours has it.

        Found by exact name and checked by label: a same-named network that is not ours is
        refused. Duplicates (two creators raced, as two data dirs on one engine could) are
        merged into the oldest, so the name stays unambiguous for later deploys.
        """
        name = network_name(system, env)
        with self._net_lock, engine_errors(f"creating network {name}"):
            if name in self._networks:
                return name
            ours = self.system_networks(system, env)
            if not ours:
                self._create_network(name, system, env)
                ours = self.system_networks(system, env)
            if len(ours) > 1:
                self._merge_networks(name, ours)
            self._networks.add(name)
        return name

    def system_networks(self, system: str, env: str) -> list[dict]:
        """Our networks named exactly `<system>.<env>`, oldest first (then by ID).

        Raises GitdeployError when a network of that exact name belongs to someone else.
        The engine's name filter matches substrings, hence the exact comparison here.
        """
        name = network_name(system, env)
        found = [n for n in self.api.networks(names=[name]) if n.get("Name") == name]
        for n in found:
            if not owned(n.get("Labels"), system, env):
                _refuse_foreign("network", name, n.get("Labels"), system, env)
        return sorted(found, key=lambda n: (n.get("Created") or "", n["Id"]))

    def _create_network(self, name: str, system: str, env: str) -> None:
        """A bridge network whose subnet is pinned (the engine picks a free one first).

        Only a network with a configured subnet lets a container rejoin at the same address,
        which is how `drain` takes a replica out of DNS without breaking its open connections.
        The probe has a name of its own, so no one ever sees two networks named `name`.
        """
        lab = managed_labels(system, env)
        probe = self.api.create_network(f"{name}.probe-{os.urandom(4).hex()}", driver="bridge", labels=lab)
        try:
            pools = self.api.inspect_network(probe["Id"])["IPAM"]["Config"] or []
        finally:
            self.api.remove_network(probe["Id"])
        ipam = ipam_config([p for p in pools if p.get("Subnet")]) if pools else None
        try:
            self.api.create_network(name, driver="bridge", check_duplicate=True, labels=lab, ipam=ipam)
        except apierr.APIError:
            if self.system_networks(system, env):
                return  # another creator was first (its subnet, or the name): use that one
            raise

    def _merge_networks(self, name: str, ours: list[dict]) -> None:
        """Keep the oldest of same-named networks of ours; move any container off the others
        (with its aliases) and remove them. Every racer picks the same survivor."""
        keep, *extras = ours
        for extra in extras:
            try:
                attached = self.api.inspect_network(extra["Id"]).get("Containers") or {}
            except apierr.NotFound:
                continue  # a racer merged it already
            for cid in attached:
                try:
                    nets = self.api.inspect_container(cid)["NetworkSettings"]["Networks"] or {}
                except apierr.NotFound:
                    continue
                aliases = [a for a in (nets.get(name) or {}).get("Aliases") or () if not cid.startswith(a)]
                self.api.disconnect_container_from_network(cid, extra["Id"], force=True)
                self.api.connect_container_to_network(cid, keep["Id"], aliases=aliases or None)
            try:
                self.api.remove_network(extra["Id"])
            except apierr.NotFound:
                pass

    def networks(self, system: str, env: str) -> list[EngineObject]:
        # By label, checked again here: a network of another system is never listed, whatever
        # its name (the engine's name filter matches substrings: shop vs webshop).
        flt = {"label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"]}
        with engine_errors("listing networks"):
            found = self.api.networks(filters=flt)
        return [EngineObject(n.get("Name") or "", n["Id"], dict(n.get("Labels") or {}))
                for n in found if owned(n.get("Labels"), system, env)]

    def remove_network(self, net: EngineObject) -> None:
        with engine_errors(f"removing the network {net.name}"):
            try:
                self.api.remove_network(net.id)
            except apierr.NotFound:
                pass

    def volumes(self, system: str, env: str) -> list[EngineObject]:
        flt = {"label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"]}
        with engine_errors("listing volumes"):
            found = (self.api.volumes(filters=flt) or {}).get("Volumes") or []
        return [EngineObject(v["Name"], v["Name"], dict(v.get("Labels") or {}))
                for v in found if owned(v.get("Labels"), system, env)]

    def remove_volume(self, volume: EngineObject) -> None:
        with engine_errors(f"removing the volume {volume.name}"):
            try:
                self.api.remove_volume(volume.id, force=True)
            except apierr.NotFound:
                pass

    def images(self) -> ImageResolver:
        return ImageResolver(self.client)

    def ensure_base_image(self) -> str:
        from gitdeploy.live.baseimage import ensure_base_image

        with engine_errors("importing the base image"):
            return ensure_base_image(self.client)

    def prune_secret_files(self, grace: float | None = None, dry_run: bool = False) -> list[Path]:
        from gitdeploy.live import secretfiles

        return secretfiles.prune(self.client, self.data_dir, secretfiles.GRACE if grace is None else grace,
                                 dry_run)

    def hold_lock(self, system: str, env: str, holder: Holder | None = None) -> EngineLock:
        return enginelock.hold(self.client, system, env, holder)

    def lock_holder(self, system: str, env: str) -> LockState | None:
        return enginelock.held(self.client, system, env)

    def ensure_volume(self, system: str, env: str, source: str) -> str:
        """The name of the system's volume `source`, created if missing.

        A volume of that exact name that gitdeploy did not create for this system and
        environment is refused, never mounted (it could hold another system's data).
        """
        name = volume_name(system, env, source)
        with engine_errors(f"creating volume {name}"):
            try:
                info = self.api.inspect_volume(name)
            except apierr.NotFound:
                # Creating an existing volume returns it: a racer's (or a foreign) one is checked too.
                info = self.api.create_volume(name, labels=managed_labels(system, env))
        if not owned(info.get("Labels"), system, env):
            _refuse_foreign("volume", name, info.get("Labels"), system, env)
        return name

    def materialize(self, digest: str, content: bytes, secret: bool = False) -> Path:
        """A content-addressed, read-only copy of a file, to bind-mount into containers.

        Written atomically and durably (gitdeploy.fsutil); a copy of the wrong size (cut short by
        a crash before this was atomic) is written again. Raises GitdeployError on a full disk.
        """
        folder = self.data_dir / ("secrets" if secret else "files")
        path = folder / digest
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if path.stat().st_size == len(content):
                try:
                    os.utime(path)  # in use now: `secrets prune` leaves recently used files alone
                except OSError:
                    pass  # there, but not ours to touch
                return path
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise storage_error(exc, path) from None
        atomic_write(path, content, 0o444)
        return path

    # -- containers -----------------------------------------------------------------------

    def create(
        self, d: Desired, spec: Spec, env: str, replica: int, commit: str, aliases: tuple[str, ...],
        publish: bool = True,
    ) -> str:
        """Create (not start) replica `replica` of `d`; returns the container ID.

        Sends what `container_config.config_for` builds, once the network, the volumes and the
        bind-mounted files it names exist. `publish=False` joins the system network without the
        service's aliases: the container takes no traffic until `publish()` once it has passed its
        health gate.
        """
        s = d.service
        self.ensure_network(spec.system, env)
        for c in s.configs:
            self.materialize(c.digest, spec.files[c.source])
        for fp, value in d.secret_values:
            self.materialize(fp, value, secret=True)
        for v in s.volumes:
            self.ensure_volume(spec.system, env, v.source)
        body = config_for(d, spec.system, env, replica, commit=commit, aliases=aliases, data_dir=self.data_dir,
                          publish=publish)
        name = container_name(spec.system, env, s.path, replica, d.hash)
        with engine_errors(f"creating {name}"):
            try:
                return self.api.create_container_from_config(body, name)["Id"]
            except apierr.APIError as exc:
                if exc.status_code != 409:
                    raise
                if not self._clear_stale(name, spec.system):
                    name = f"{name}.{os.urandom(2).hex()}"
                return self.api.create_container_from_config(body, name)["Id"]

    def _clear_stale(self, name: str, system: str) -> bool:
        """Free `name` if a never-started container of ours holds it (an interrupted earlier run).

        False when another container of ours holds it and must stay: one being replaced at the
        same revision (heal: tainted) or kept for rollback; the new one then takes another name.
        """
        info = self.api.inspect_container(name)
        if (info["Config"]["Labels"] or {}).get(labels.SYSTEM) != system:
            raise GitdeployError(f"the name {name} is taken by a container gitdeploy does not own")
        if info["State"].get("Status") != "created":
            return False
        self.api.remove_container(info["Id"], force=True)
        return True

    def start(self, cid: str, system: str, env: str, aliases: tuple[str, ...], fresh: bool = False) -> None:
        """Start a container, reconnecting it to the system network first if it was disconnected.

        `fresh`: just created by us, so certainly connected - saves an engine round trip.
        """
        net = network_name(system, env)
        with engine_errors(f"starting {cid[:12]}"):
            if fresh:
                self.api.start(cid)
                return
            info = self.api.inspect_container(cid)
            endpoint = (info["NetworkSettings"]["Networks"] or {}).get(net)
            if endpoint is None or not set(aliases) <= set(endpoint.get("Aliases") or ()):
                # disconnected, or drained (rejoined without its aliases): back into the service
                if endpoint is not None:
                    self.api.disconnect_container_from_network(cid, net)
                self.ensure_network(system, env)
                self.api.connect_container_to_network(cid, net, aliases=list(aliases))
            self.api.start(cid)

    def drain(self, cid: str, system: str, env: str) -> None:
        """Take a running container out of its service's DNS aliases, keeping its open connections.

        It leaves the network and rejoins at once at the same address without aliases: nothing
        new resolves to it, while requests in flight (or clients that resolved it a moment ago)
        still reach it until it is stopped. On a network without a pinned subnet the rejoin is
        not possible, and the plain disconnect stands.
        """
        net = network_name(system, env)
        with engine_errors(f"draining {cid[:12]}"):
            try:
                info = self.api.inspect_container(cid)
            except apierr.NotFound:
                return
            endpoint = (info["NetworkSettings"]["Networks"] or {}).get(net)
            if endpoint is None:
                return
            try:
                self.api.disconnect_container_from_network(cid, net)
            except apierr.APIError as exc:
                if "is not connected" in str(exc.explanation or exc):
                    return  # not running (restarting, exited): nothing resolves to it any more
                raise
            self._left[cid] = (time.monotonic(), info)  # settle reuses the inspection
            try:
                self.api.connect_container_to_network(cid, net, ipv4_address=endpoint.get("IPAddress") or None)
            except apierr.APIError:
                pass  # no pinned subnet (an older network): drained by the disconnect alone

    # Where the host's process table is read (tests point it at a folder without one).
    proc_root = Path("/proc")

    def settle(self, cid: str, max_wait: float, cancel: Cancel | None = None) -> str:
        """After `drain`: wait until the container serves no client connection any more (at most
        `max_wait` seconds); says how it ended, for the log. "No connection" means none for
        SETTLE_QUIET seconds since the first look that found none; a container that listens on no
        port (no TCP listener, no UDP server, other than on loopback) and serves no connection is
        let go at once: nothing can be on its way to it.

        The connections are read from the container's network namespace through the host's /proc
        (its main process's /proc/<pid>/net/tcp{,6}), so this needs the engine on this host and
        permission to read them. When they cannot be read (a remote engine, another PID
        namespace, no permission) it waits the whole `max_wait`, and says so. A connection attempt
        dropped by a full listen queue (the client retries a second later) also means the whole wait.
        """
        t0 = time.monotonic()
        cancelled = cancel.event if cancel is not None else threading.Event()

        def full(why: str) -> str:
            cancelled.wait(max(0.0, max_wait - (time.monotonic() - t0)))
            return f"{why}: waited the full drain of {max_wait:g}s"

        _, info = self._left.pop(cid, (None, None))
        if max_wait <= 0:
            return "no drain time"
        if info is None:  # not drained by this engine: ask
            try:
                info = self.api.inspect_container(cid)
            except apierr.NotFound:
                return "gone"
            except apierr.EngineError as exc:
                return full(f"cannot inspect it ({exc})")
        pid = int((info.get("State") or {}).get("Pid") or 0)
        if not pid:
            return "not running"
        ports = {int(k.split("/")[0]) for k in (info.get("Config") or {}).get("ExposedPorts") or {}
                 if k.endswith("/tcp")}
        ports |= {int(k.split("/")[0]) for k in (info.get("HostConfig") or {}).get("PortBindings") or {}
                  if k.endswith("/tcp")}
        proc = self.proc_root / str(pid)
        from gitdeploy.live import conns  # only where a replica is drained (not at every start)

        def table(name: str) -> list[conns.Socket]:
            sockets = conns.parse((proc / "net" / name).read_text())
            try:
                sockets += conns.parse((proc / "net" / f"{name}6").read_text())
            except FileNotFoundError:
                pass  # no IPv6 in this kernel
            return sockets

        def read() -> tuple[list[conns.Socket], int | None]:
            sockets = table("tcp")
            return conns.serving(sockets, ports), conns.listen_drops((proc / "net" / "netstat").read_text())

        try:
            if cid not in (proc / "cgroup").read_text():
                return full(f"process {pid} is not visible from here (a remote engine?)")
            open_, drops0 = read()
            if not open_ and not conns.listeners(table("tcp"), table("udp")):
                # Nothing to connect to: no client can be on its way (a worker, a batch job).
                return "it listens on no port: nothing to drain"
        except OSError as exc:
            return full(f"cannot read its network namespace ({exc.strerror or exc})")
        # Quiet counts from the first look that finds no connection, not from when it left DNS: a
        # client that resolved the name just before may connect a little later (a busy machine
        # deschedules it between the lookup and the connect), and that request must still be served.
        quiet_since: float | None = None
        while True:
            try:
                open_, drops = read()
            except OSError:
                return "stopped by itself"  # the process is gone: nothing is served any more
            now = time.monotonic()
            if drops != drops0:
                return full("a connection attempt was dropped (listen queue full)")
            if open_:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            if quiet_since is not None and now - quiet_since >= SETTLE_QUIET:
                return f"no connections left after {now - t0:.2f}s"
            if now - t0 >= max_wait:
                if not open_:
                    return f"no connections left after {now - t0:.2f}s"
                return f"{len(open_)} connection(s) still open after {max_wait:g}s (first: {open_[0]})"
            if cancelled.wait(SETTLE_POLL):
                return "interrupted"

    def publish(self, cid: str, system: str, env: str, aliases: tuple[str, ...]) -> None:
        """Put a running, healthy container into its service's DNS aliases (re-joins the network)."""
        net = network_name(system, env)
        with engine_errors(f"publishing {cid[:12]} on {net}"):
            self.api.disconnect_container_from_network(cid, net)
            self.api.connect_container_to_network(cid, net, aliases=list(aliases))

    def rejoin(self, cid: str, system: str, env: str, aliases: tuple[str, ...]) -> None:
        """Give a stopped (drained) container its service aliases back, for a fast later start.

        On a stopped container this only rewrites its network settings: no interface is touched.
        """
        net = network_name(system, env)
        with engine_errors(f"restoring the aliases of {cid[:12]}"):
            try:
                self.api.disconnect_container_from_network(cid, net)
            except apierr.APIError:
                pass  # not on the network any more: connecting is enough
            self.api.connect_container_to_network(cid, net, aliases=list(aliases))

    def stop(self, cid: str, timeout: float = 10) -> None:
        with engine_errors(f"stopping {cid[:12]}"):
            try:
                self.api.stop(cid, timeout=max(0, int(round(timeout))))
            except apierr.NotFound:
                pass

    def remove(self, cid: str) -> None:
        with engine_errors(f"removing {cid[:12]}"):
            try:
                self.api.remove_container(cid, force=True, v=False)
            except apierr.NotFound:
                pass

    def container_events(self, cid: str, since: float, until: float, cancel: Cancel | None = None
                         ) -> Iterator[EngineEvent]:
        """The container's die/restart/oom/health events from `since` until `until` (a stream, not
        polling). Ends early when `cancel` fires; a broken stream just ends (the caller inspects)."""
        try:
            stream = self.api.events(
                since=f"{since - 1:.3f}", until=f"{until:.3f}", decode=True,
                filters={"container": cid, "event": ["die", "health_status", "restart", "oom"]},
            )
        except apierr.EngineError:
            return
        if cancel is not None and not cancel.watch(stream):
            return
        try:
            for ev in stream:
                action = ev.get("Action") or ev.get("status") or ""
                code = str((ev.get("Actor") or {}).get("Attributes", {}).get("exitCode", ""))
                yield EngineEvent(ev.get("timeNano", 0) / 1e9, action, code)
        except (apierr.EngineError, AttributeError, OSError):
            return  # the stream broke (or was closed by a cancel)
        finally:
            if cancel is not None:
                cancel.unwatch(stream)

    def final_state(self, cid: str) -> FinalState:
        """The container's state now, for a health gate whose window is over."""
        with engine_errors(f"inspecting {cid[:12]}"):
            try:
                state = self.api.inspect_container(cid)["State"]
            except apierr.NotFound:
                return FinalState(False, status="removed")
        return FinalState(
            running=bool(state.get("Running")), restarting=bool(state.get("Restarting")),
            status=state.get("Status") or "", exit_code=state.get("ExitCode", ""),
            health=(state.get("Health") or {}).get("Status") or "none",
        )

    def logs_tail(self, cid: str, lines: int = 5) -> str:
        try:
            out = self.api.logs(cid, tail=lines).decode(errors="replace").strip()
        except apierr.APIError:
            return ""
        return out

