"""The Docker edge: everything gitdeploy asks of an engine goes through `Engine`.

The executor decides nothing here and the planner never calls it. Engine errors become
GitdeployError with what the engine said.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.types import IPAMConfig, IPAMPool, Mount

from gitdeploy.errors import GitdeployError
from gitdeploy.fsutil import atomic_write, storage_error
from gitdeploy.live import labels
from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec


def connect(docker_host: str | None = None, timeout: int = 300) -> docker.DockerClient:
    """A client for `docker_host` (default: DOCKER_HOST or the local socket). Raises GitdeployError."""
    try:
        client = docker.DockerClient(base_url=docker_host, timeout=timeout) if docker_host else (
            docker.from_env(timeout=timeout)
        )
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        where = docker_host or os.environ.get("DOCKER_HOST") or "the local socket"
        raise GitdeployError(
            f"cannot reach the Docker Engine at {where}: {exc}",
            "start it (bash scripts/setup.sh deps starts a local one) or set DOCKER_HOST",
        ) from None


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Turn engine failures inside the block into GitdeployError('<what>: <engine message>')."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise GitdeployError(f"{what}: {exc.explanation or exc}") from None
    except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
        raise GitdeployError(f"{what}: the engine did not answer ({exc})") from None


@dataclass(frozen=True)
class GateResult:
    ok: bool
    detail: str  # "healthy", "running for 3s", "exited with code 1", "not healthy after 60s"


REPLICA_ENV = "GITDEPLOY_REPLICA"  # set in every container; not part of the definition


def container_name(system: str, env: str, path: str, replica: int, hash_: str) -> str:
    return f"{system}.{env}.{path.replace('/', '-')}.{replica}.{hash_[:8]}"


def network_name(system: str, env: str) -> str:
    return f"{system}.{env}"


def aliases_for(spec: Spec) -> dict[str, tuple[str, ...]]:
    """DNS aliases per service: its dashed path, plus its short name where unique in the system."""
    names: dict[str, int] = {}
    for s in spec.services:
        names[s.name] = names.get(s.name, 0) + 1
    out: dict[str, tuple[str, ...]] = {}
    for s in spec.services:
        dashed = s.path.replace("/", "-")
        unique = names[s.name] == 1 and s.name != dashed
        out[s.path] = (s.name, dashed) if unique else (dashed,)
    return out


class Engine:
    def __init__(self, client: docker.DockerClient, data_dir: Path, only: frozenset[str] | None = None) -> None:
        self.client = client
        self.api = client.api
        self.data_dir = data_dir
        self.only = only  # analyze sees only these services (a heal repairing some of them)
        self._net_lock = threading.Lock()
        self._networks: set[str] = set()  # ensured during this run: no need to ask again

    # -- analysis ------------------------------------------------------------------------

    def analyze(self, system: str, env: str) -> Live:
        """Every container of the system in this environment, from one engine call."""
        with engine_errors("listing containers"):
            raw = self.api.containers(
                all=True, filters={"label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"]}
            )
        live = (LiveContainer.from_api(r) for r in raw)
        return Live(system, env, tuple(c for c in live if self.only is None or c.service in self.only))

    def foreign_envs(self, system: str, env: str) -> set[str]:
        with engine_errors("listing containers"):
            raw = self.api.containers(all=True, filters={"label": f"{labels.SYSTEM}={system}"})
        return {(r.get("Labels") or {}).get(labels.ENV, "") for r in raw} - {env}

    # -- networks, volumes, files ---------------------------------------------------------

    def ensure_network(self, system: str, env: str) -> str:
        name = network_name(system, env)
        with self._net_lock, engine_errors(f"creating network {name}"):
            if name in self._networks:
                return name
            if not self.api.networks(names=[name]):
                self._create_network(name, {labels.SYSTEM: system, labels.ENV: env, labels.MANAGED: "true"})
            self._networks.add(name)
        return name

    def _create_network(self, name: str, lab: dict[str, str]) -> None:
        """A bridge network whose subnet is pinned (the engine picks a free one first).

        Only a network with a configured subnet lets a container rejoin at the same address,
        which is how `drain` takes a replica out of DNS without breaking its open connections.
        """
        probe = self.api.create_network(name, driver="bridge", check_duplicate=True, labels=lab)
        try:
            pools = self.api.inspect_network(probe["Id"])["IPAM"]["Config"] or []
        finally:
            self.api.remove_network(probe["Id"])
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=p["Subnet"], gateway=p.get("Gateway")) for p in pools
                                        if p.get("Subnet")]) if pools else None
        self.api.create_network(name, driver="bridge", check_duplicate=True, labels=lab, ipam=ipam)

    def ensure_volume(self, system: str, env: str, source: str) -> str:
        name = f"{system}.{env}.{source}"
        with engine_errors(f"creating volume {name}"):
            try:
                self.api.inspect_volume(name)
            except docker.errors.NotFound:
                self.api.create_volume(
                    name, labels={labels.SYSTEM: system, labels.ENV: env, labels.MANAGED: "true"}
                )
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

        `publish=False` joins the system network without the service's aliases: the container
        takes no traffic until `publish()` once it has passed its health gate.
        """
        s = d.service
        net = self.ensure_network(spec.system, env)
        mounts = [
            Mount(c.target, str(self.materialize(c.digest, spec.files[c.source])), type="bind", read_only=True)
            for c in s.configs
        ]
        fps = {t: v["fingerprint"] for t, v in d.definition["secrets"].items()}
        values = dict(d.secret_values)
        mounts += [
            Mount(x.target, str(self.materialize(fps[x.target], values[fps[x.target]], secret=True)),
                  type="bind", read_only=True)
            for x in s.secrets
        ]
        mounts += [
            Mount(v.target, self.ensure_volume(spec.system, env, v.source), type="volume", read_only=v.read_only)
            for v in s.volumes
        ]
        lab = dict(s.labels) | {
            labels.SYSTEM: spec.system,
            labels.ENV: env,
            labels.SERVICE: s.path,
            labels.REPLICA: str(replica),
            labels.HASH: d.hash,
            labels.COMMIT: commit,
            labels.DEFINITION: d.definition_json(),
            labels.DEPENDS: ",".join(dep.service for dep in s.depends_on),
        }
        port_bindings = {
            f"{p.container}/{p.protocol}": (p.host_ip, p.host) if p.host_ip else p.host
            for p in s.ports if p.host is not None
        }
        host_config = self.api.create_host_config(
            port_bindings=port_bindings or None,
            mounts=mounts or None,
            restart_policy=_restart_policy(s.restart),
            init=s.init,
        )
        hc = None
        if s.healthcheck is not None:
            h = s.healthcheck
            hc = {
                "test": list(h.test),
                "interval": int(h.interval * 1e9),
                "timeout": int(h.timeout * 1e9),
                "retries": h.retries,
                "start_period": int(h.start_period * 1e9),
            }
        name = container_name(spec.system, env, s.path, replica, d.hash)
        kwargs = dict(
            image=d.image_id,
            name=name,
            command=list(s.command) if s.command is not None else None,
            entrypoint=list(s.entrypoint) if s.entrypoint is not None else None,
            # The replica index, outside the definition (and its hash): replicas stay identical.
            environment=dict(s.environment) | {REPLICA_ENV: str(replica)},
            labels=lab,
            user=s.user,
            working_dir=s.working_dir,
            healthcheck=hc,
            stop_timeout=max(1, int(round(s.stop_grace_period))),
            ports=[(p.container, p.protocol) for p in s.ports] or None,
            host_config=host_config,
            networking_config=self.api.create_networking_config(
                {net: self.api.create_endpoint_config(aliases=list(aliases) if publish else None)}
            ),
        )
        with engine_errors(f"creating {name}"):
            try:
                return self.api.create_container(**kwargs)["Id"]
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise
                if not self._clear_stale(name, spec.system):
                    kwargs["name"] = f"{name}.{os.urandom(2).hex()}"
                return self.api.create_container(**kwargs)["Id"]

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
                endpoint = (self.api.inspect_container(cid)["NetworkSettings"]["Networks"] or {}).get(net)
            except docker.errors.NotFound:
                return
            if endpoint is None:
                return
            self.api.disconnect_container_from_network(cid, net)
            try:
                self.api.connect_container_to_network(cid, net, ipv4_address=endpoint.get("IPAddress") or None)
            except docker.errors.APIError:
                pass  # no pinned subnet (an older network): drained by the disconnect alone

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
            except docker.errors.APIError:
                pass  # not on the network any more: connecting is enough
            self.api.connect_container_to_network(cid, net, aliases=list(aliases))

    def stop(self, cid: str, timeout: float = 10) -> None:
        with engine_errors(f"stopping {cid[:12]}"):
            try:
                self.api.stop(cid, timeout=max(0, int(round(timeout))))
            except docker.errors.NotFound:
                pass

    def remove(self, cid: str) -> None:
        with engine_errors(f"removing {cid[:12]}"):
            try:
                self.api.remove_container(cid, force=True, v=False)
            except docker.errors.NotFound:
                pass

    def gate(self, cid: str, has_healthcheck: bool, monitor: float, deadline: float, since: float) -> GateResult:
        """Wait for the health gate: healthy (with a health check) or up for `monitor` seconds.

        Driven by the engine's event stream, not polling. Fails on exit or restart, or when no
        healthy report came within `deadline`.
        """
        window = deadline if has_healthcheck else monitor
        if window <= 0 and not has_healthcheck:
            # Nothing to watch: the start succeeded; verification then sees whether it still runs.
            return GateResult(True, "started")
        # The window runs from when the start returned (now), not from `since` (just before the
        # start call, for the event filter): a slow start must not eat into `monitor`. A death at
        # the very end is still seen by the inspection below.
        until = max(since, time.time()) + window
        if window > 0:
            try:
                for ev in self.api.events(
                    since=f"{since - 1:.3f}", until=f"{until:.3f}", decode=True,
                    filters={"container": cid, "event": ["die", "health_status", "restart", "oom"]},
                ):
                    if ev.get("timeNano", 0) < (since - 0.05) * 1e9:
                        continue  # from before this start (e.g. the stop that preceded it)
                    action = ev.get("Action") or ev.get("status") or ""
                    if action == "die":
                        code = (ev.get("Actor") or {}).get("Attributes", {}).get("exitCode", "?")
                        return GateResult(False, f"exited with code {code}")
                    if action in ("restart", "oom"):
                        return GateResult(False, f"{action} while starting")
                    if has_healthcheck and action.startswith("health_status") and action.endswith(": healthy"):
                        return GateResult(True, "healthy")
            except requests.exceptions.RequestException:
                pass  # the stream broke: fall back to the final inspection below
        with engine_errors(f"inspecting {cid[:12]}"):
            state = self.api.inspect_container(cid)["State"]
        if not state.get("Running") or state.get("Restarting"):
            return GateResult(False, f"{state.get('Status')} (exit code {state.get('ExitCode')})")
        if has_healthcheck:
            status = (state.get("Health") or {}).get("Status", "none")
            if status == "healthy":
                return GateResult(True, "healthy")
            return GateResult(False, f"not healthy after {deadline:g}s (health: {status})")
        return GateResult(True, f"running for {monitor:g}s" if monitor else "running")

    def logs_tail(self, cid: str, lines: int = 5) -> str:
        try:
            out = self.api.logs(cid, tail=lines).decode(errors="replace").strip()
        except docker.errors.APIError:
            return ""
        return out


def _restart_policy(restart: str) -> dict:
    if restart in ("no", ""):
        return {}
    if restart.startswith("on-failure"):
        _, _, n = restart.partition(":")
        return {"Name": "on-failure", "MaximumRetryCount": int(n or 0)}
    return {"Name": restart}
