"""A `Desired` service as a Swarm ServiceSpec (the Engine API's JSON), pinned by digest. Pure.

What a task runs - image, command, environment, files, health check, labels - sits in
`TaskTemplate.ContainerSpec`; any change there makes Swarm replace the tasks. The deploy's commit
is a service label only, so a commit that changes nothing of a service replaces none of its
tasks. `Args` is the command and `Command` the entrypoint (`docker service create` maps them so).

Swarm's own failure handling is `pause`: gitdeploy follows the tasks itself and, when any service
of a deploy fails, returns every service of the deploy to its previous spec (Swarm's `rollback`
would return only the one that failed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.live import labels
from gitdeploy.live.container_config import NANOSECONDS as NS
from gitdeploy.live.container_config import REPLICA_ENV  # as on one engine; Swarm fills in the task's slot
from gitdeploy.live.swarm.names import network_name, object_name, service_name, volume_name
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Amounts, HealthCheck, Placement, Port, Resources, Service


@dataclass(frozen=True)
class SwarmOptions:
    """The service keys only a cluster honours."""

    mode: Literal["replicated", "global"] = "replicated"
    endpoint_mode: Literal["vip", "dnsrr"] = "vip"
    placement: Placement | None = None
    resources: Resources | None = None

    @classmethod
    def of(cls, s: Service) -> SwarmOptions:
        """The options a service states (defaults while the spec has no such keys)."""
        return cls(
            mode=getattr(s, "mode", None) or "replicated",
            endpoint_mode=getattr(s, "endpoint_mode", None) or "vip",
            placement=getattr(s, "placement", None),
            resources=getattr(s, "resources", None),
        )


@dataclass(frozen=True)
class Mounted:
    """A Swarm config or secret (see objects.py)."""

    id: str
    name: str


def container_labels(system: str, env: str, d: Desired) -> dict[str, str]:
    """The labels of every task's container: the service's own labels, then gitdeploy's four."""
    return dict(d.service.labels) | {
        labels.SYSTEM: system, labels.ENV: env, labels.SERVICE: d.path, labels.HASH: d.hash,
    }


def service_labels(system: str, env: str, commit: str, d: Desired) -> dict[str, str]:
    return {
        labels.SYSTEM: system,
        labels.ENV: env,
        labels.SERVICE: d.path,
        labels.HASH: d.hash,
        labels.COMMIT: commit,
        labels.DEFINITION: d.definition_json(),
        labels.DEPENDS: ",".join(dep.service for dep in d.service.depends_on),
    }


def service_spec(
    d: Desired,
    *,
    name: str,
    system: str,
    env: str,
    commit: str,
    image: str,
    network: str,
    aliases: tuple[str, ...] = (),
    configs: Mapping[str, Mounted] | None = None,
    secrets: Mapping[str, Mounted] | None = None,
    options: SwarmOptions | None = None,
) -> dict[str, Any]:
    """The ServiceSpec of `d`. `image` is pinned (`name[:tag]@sha256:...`); `configs` are the
    Swarm configs by repository path of the file, `secrets` the Swarm secrets by secret name;
    `options` default to the service's own (SwarmOptions.of).

    Raises GitdeployError (exit 2) for what a cluster cannot honour (a port bound to one host IP).
    """
    if "@sha256:" not in image:
        raise ValueError(f"a Swarm service runs an image pinned by digest, not {image!r}")
    s = d.service
    options = options or SwarmOptions.of(s)
    configs = configs or {}
    secrets = secrets or {}
    container: dict[str, Any] = {
        "Image": image,
        "Labels": container_labels(system, env, d),
        "Env": [f"{k}={v}" for k, v in s.environment] + [f"{REPLICA_ENV}={{{{.Task.Slot}}}}"],
        "StopGracePeriod": int(s.stop_grace_period * NS),
        "Configs": [
            {"File": {"Name": c.target, "UID": "0", "GID": "0", "Mode": c.mode},
             "ConfigID": configs[c.source].id, "ConfigName": configs[c.source].name}
            for c in s.configs
        ],
        "Secrets": [
            {"File": {"Name": x.target, "UID": "0", "GID": "0", "Mode": 0o400},
             "SecretID": secrets[x.name].id, "SecretName": secrets[x.name].name}
            for x in s.secrets
        ],
        "Mounts": [
            {"Type": "volume", "Source": volume_name(system, env, v.source), "Target": v.target,
             "ReadOnly": v.read_only,
             "VolumeOptions": {"Labels": {labels.SYSTEM: system, labels.ENV: env, labels.MANAGED: "true"}}}
            for v in s.volumes
        ],
    }
    container = {k: v for k, v in container.items() if v != []}  # as `service inspect` shows them
    if s.entrypoint is not None:
        container["Command"] = list(s.entrypoint)
    if s.command is not None:
        container["Args"] = list(s.command)
    if s.user is not None:
        container["User"] = s.user
    if s.working_dir is not None:
        container["Dir"] = s.working_dir
    if s.init is not None:
        container["Init"] = s.init
    if s.healthcheck is not None:
        container["Healthcheck"] = _healthcheck(s.healthcheck)
    task: dict[str, Any] = {
        "ContainerSpec": container,
        "RestartPolicy": restart_policy(s.restart),
        "Networks": [{"Target": network, "Aliases": list(aliases)}],
        "ForceUpdate": 0,
    }
    if placement := _placement(options.placement):
        task["Placement"] = placement
    if resources := _resources(options.resources):
        task["Resources"] = resources
    mode: dict[str, Any] = {"Global": {}} if options.mode == "global" else {"Replicated": {"Replicas": s.replicas}}
    return {
        "Name": name,
        "Labels": service_labels(system, env, commit, d),
        "TaskTemplate": task,
        "Mode": mode,
        "UpdateConfig": update_config(s),
        "RollbackConfig": rollback_config(s),
        "EndpointSpec": _endpoint(s.path, s.ports, options.endpoint_mode),
    }


def parallelism(s: Service) -> int:
    """Tasks Swarm replaces at once (0: all). As set; else all at once when start-first (the old
    tasks serve until the new ones run), and half of them (rounded up) when stop-first, so that a
    stop-first update never takes every replica down together."""
    if s.rollout.parallelism:
        return s.rollout.parallelism
    if s.effective_order == "stop-first" and s.replicas > 1:
        return (s.replicas + 1) // 2
    return 0


def planned(d: Desired, system: str, env: str, commit: str, aliases: tuple[str, ...]) -> dict[str, Any]:
    """The ServiceSpec a deploy sends for `d`, computed without a cluster: configs and secrets by
    their content names (their IDs are known once they exist), the network by name. For plans
    and drift (compare.comparable leaves the IDs out)."""
    fps = {v["name"]: v["fingerprint"] for v in (d.definition.get("secrets") or {}).values()}
    configs = {c.source: Mounted("", object_name(system, env, c.source, c.digest)) for c in d.service.configs}
    secrets = {x.name: Mounted("", object_name(system, env, x.name, fps.get(x.name, ""))) for x in d.service.secrets}
    return service_spec(d, name=service_name(system, env, d.path), system=system, env=env, commit=commit,
                        image=d.image_id, network=network_name(system, env), aliases=aliases, configs=configs,
                        secrets=secrets)


def update_config(s: Service) -> dict[str, Any]:
    """The rollout as Swarm's UpdateConfig; failures pause (gitdeploy rolls back the whole deploy)."""
    return {
        "Parallelism": parallelism(s),
        "Delay": 0,
        "FailureAction": "pause",
        "Monitor": int(s.rollout.monitor * NS),
        "MaxFailureRatio": 0,
        "Order": s.effective_order,
    }


def rollback_config(s: Service) -> dict[str, Any]:
    """How Swarm takes a service back to its previous spec when gitdeploy rolls a deploy back: as
    its update, but start-first goes all at once (the previous spec is the verified one, and its
    old tasks serve until the new ones run); stop-first keeps the update's batches."""
    out = update_config(s)
    if s.effective_order == "start-first":
        out["Parallelism"] = 0
    return out


def restart_policy(restart: str) -> dict[str, Any]:
    """The spec's `restart` (docker's words) as a Swarm RestartPolicy."""
    if restart in ("no", ""):
        return {"Condition": "none"}
    if restart.startswith("on-failure"):
        _, _, n = restart.partition(":")
        return {"Condition": "on-failure", "MaxAttempts": int(n or 0)}
    return {"Condition": "any"}  # always, unless-stopped: Swarm has no "stopped by hand"


def _healthcheck(h: HealthCheck) -> dict[str, Any]:
    if h.test and h.test[0] == "NONE":
        return {"Test": ["NONE"]}
    return {
        "Test": list(h.test),
        "Interval": int(h.interval * NS),
        "Timeout": int(h.timeout * NS),
        "Retries": h.retries,
        "StartPeriod": int(h.start_period * NS),
    }


def _placement(p: Placement | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p is None:
        return out
    if p.constraints:
        out["Constraints"] = list(p.constraints)
    if p.preferences:
        out["Preferences"] = [{"Spread": {"SpreadDescriptor": d}} for d in p.preferences]
    if p.max_replicas_per_node:
        out["MaxReplicas"] = p.max_replicas_per_node
    return out


def _resources(r: Resources | None) -> dict[str, Any]:
    def part(a: Amounts) -> dict[str, int]:
        out = {}
        if a.nano_cpus is not None:
            out["NanoCPUs"] = a.nano_cpus
        if a.memory is not None:
            out["MemoryBytes"] = a.memory
        return out

    out: dict[str, Any] = {}
    if r is None:
        return out
    if limits := part(r.limits):
        out["Limits"] = limits
    if reservations := part(r.reservations):
        out["Reservations"] = reservations
    return out


def _endpoint(path: str, ports: tuple[Port, ...], mode: str) -> dict[str, Any]:
    published = [p for p in ports if p.host is not None]
    for p in published:
        if p.host_ip:
            raise GitdeployError(
                f"service {path}: port {p} is bound to {p.host_ip}, which a Swarm service cannot do",
                "publish it on every address (drop the IP) or put a proxy in front",
                exit_code=EXIT_INVALID,
            )
    # Swarm's routing mesh (ingress) needs a virtual IP; with dnsrr a port is published on the
    # node that runs the task.
    publish = "host" if mode == "dnsrr" else "ingress"
    return {
        "Mode": mode,
        "Ports": [
            {"Protocol": p.protocol, "TargetPort": p.container, "PublishedPort": p.host, "PublishMode": publish}
            for p in published
        ],
    }
