"""The desired system as plain, frozen values.

`load` turns a commit of the spec repository into a `Spec`; `resolve` adds what only the
deploying host knows (image IDs, secret values) and yields one `Desired` per service with its
definition hash. Nothing here touches Docker, git or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Condition = Literal["service_started", "service_healthy"]
Order = Literal["start-first", "stop-first"]
OnFailure = Literal["rollback", "pause"]
Mode = Literal["replicated", "global"]
EndpointMode = Literal["vip", "dnsrr"]


@dataclass(frozen=True)
class Port:
    """A published port: host_ip:host -> container/protocol."""

    container: int
    host: int | None = None  # None: not published on the host
    host_ip: str = ""  # "" = all interfaces
    protocol: str = "tcp"

    def __str__(self) -> str:
        if self.host is None:
            return f"{self.container}/{self.protocol}"
        ip = f"{self.host_ip}:" if self.host_ip else ""
        return f"{ip}{self.host}:{self.container}/{self.protocol}"


@dataclass(frozen=True)
class Volume:
    """A named volume mounted into the container. The engine name is `<system>_<source>`."""

    source: str
    target: str
    read_only: bool = False

    def __str__(self) -> str:
        return f"{self.source}:{self.target}{':ro' if self.read_only else ''}"


@dataclass(frozen=True)
class ConfigFile:
    """A file of the spec repository mounted read-only at `target`."""

    source: str  # path inside the repository (normalised, no '..')
    target: str  # absolute path inside the container
    digest: str  # sha256 hex of the contents at the commit
    mode: int = 0o444


@dataclass(frozen=True)
class SecretRef:
    """A secret mounted at `target` (default /run/secrets/<name>); its value lives outside git."""

    name: str
    target: str


@dataclass(frozen=True)
class HealthCheck:
    test: tuple[str, ...]  # ("CMD-SHELL", "wget -q -O- http://127.0.0.1/") or ("CMD", ...) or ("NONE",)
    interval: float = 5.0  # seconds
    timeout: float = 3.0
    retries: int = 3
    start_period: float = 0.0


@dataclass(frozen=True)
class Dependency:
    service: str  # full path of the service depended on
    condition: Condition = "service_started"


@dataclass(frozen=True)
class Build:
    context: str  # directory inside the repository ("." = root)
    dockerfile: str = "Dockerfile"  # relative to the context
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None


@dataclass(frozen=True)
class Rollout:
    """How replacements of a service roll out (issue: safe deploys).

    order None means: start-first unless the service publishes a host port (then stop-first).
    """

    order: Order | None = None
    # replicas replaced at once after the canary; None: all the remaining ones in one batch
    parallelism: int | None = None
    monitor: float = 5.0  # seconds a container without health check must stay up
    deadline: float = 60.0  # seconds before a new container that is not healthy fails the gate
    on_failure: OnFailure = "rollback"
    # at most this many seconds a replaced container keeps serving after leaving DNS (start-first);
    # it is stopped earlier once no TCP connection to its ports is left (see Engine.settle)
    drain: float = 1.5
    # replicas replaced first, alone, and gated before any other is touched (0: no canary)
    canary: int = 1


@dataclass(frozen=True)
class Placement:
    """Where a service's tasks may run on a cluster (the swarm engine only)."""

    constraints: tuple[str, ...] = ()  # "node.labels.zone==a", "node.role!=manager" (all must hold)
    preferences: tuple[str, ...] = ()  # attributes to spread over, in order ("node.labels.zone")
    max_replicas_per_node: int = 0  # 0 = no limit


@dataclass(frozen=True)
class Amounts:
    """CPUs and memory: a limit or a reservation. None = not set."""

    nano_cpus: int | None = None  # 10**9 = one CPU
    memory: int | None = None  # bytes

    @property
    def cpus(self) -> str | None:
        """The CPUs as a decimal text ("0.5"), exact."""
        if self.nano_cpus is None:
            return None
        whole, frac = divmod(self.nano_cpus, 10**9)
        return f"{whole}.{frac:09d}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Resources:
    limits: Amounts = field(default_factory=Amounts)
    reservations: Amounts = field(default_factory=Amounts)


@dataclass(frozen=True)
class Service:
    """One service, fully inherited from its groups. `path` is its identity ("storefront/web")."""

    path: str
    image: str | None = None
    build: Build | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    # Merged in this order, later wins: groups' environment, env_files, the service's environment.
    environment: tuple[tuple[str, str], ...] = ()
    env_files: tuple[tuple[str, str], ...] = ()  # (repo path, sha256) - contents already merged above
    ports: tuple[Port, ...] = ()
    volumes: tuple[Volume, ...] = ()
    configs: tuple[ConfigFile, ...] = ()
    secrets: tuple[SecretRef, ...] = ()
    healthcheck: HealthCheck | None = None
    depends_on: tuple[Dependency, ...] = ()
    replicas: int = 1
    labels: tuple[tuple[str, str], ...] = ()
    restart: str = "unless-stopped"  # no | always | on-failure[:N] | unless-stopped
    init: bool | None = None
    user: str | None = None
    working_dir: str | None = None
    stop_grace_period: float = 10.0  # seconds
    rollout: Rollout = field(default_factory=Rollout)
    # Paths inside the container whose changes are not tampering (drift detection).
    drift_ignore: tuple[str, ...] = ()
    resources: Resources | None = None
    # Scheduling on a cluster (the swarm engine only; see gitdeploy.spec.scheduling).
    placement: Placement | None = None
    mode: Mode = "replicated"
    endpoint_mode: EndpointMode | None = None  # None: the engine's default (vip on swarm)

    @property
    def name(self) -> str:
        """The last segment of the path: the DNS alias on the system's network."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def group(self) -> str:
        """The group path ("" for a top-level service)."""
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""

    @property
    def publishes_host_port(self) -> bool:
        return any(p.host is not None for p in self.ports)

    @property
    def effective_order(self) -> Order:
        """The rollout order: as set, else stop-first when a new replica could find no room beside the
        old one (a host port; a cluster's `max_replicas_per_node`), else start-first."""
        if self.rollout.order:
            return self.rollout.order
        capped = self.placement is not None and self.placement.max_replicas_per_node > 0
        return "stop-first" if self.publishes_host_port or capped else "start-first"


@dataclass(frozen=True)
class Spec:
    """A whole system as one commit of the spec repository describes it."""

    system: str
    services: tuple[Service, ...]
    groups: tuple[str, ...] = ()  # every group path, parents first
    # Contents of the repository files the services use (configs, env_files), by repo path.
    files: MappingProxyType[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    commit: str | None = None  # None when read from the working tree
    keep: int = 2  # previous revisions kept stopped for instant rollback

    def service(self, path: str) -> Service:
        for s in self.services:
            if s.path == path:
                return s
        raise KeyError(path)

    @property
    def by_path(self) -> dict[str, Service]:
        return {s.path: s for s in self.services}
