"""What gitdeploy asks the engine to create for one replica of a service: one pure builder.

`config_for` returns the body of the engine's `POST /containers/create` (the Docker API's own
shape). `Engine.create` sends it as it is; heal's comparison reads a container's `inspect`
against it; nothing else translates a service into engine settings.

Every setting comes from the definition the service's hash is taken over (`Desired.definition`),
so nothing reaches the engine that the hash does not cover. Ports and volumes come from the
service's own values, which the definition holds as their exact text. Outside the definition, on
purpose: the names, gitdeploy's own labels, the network aliases and the replica index
(`REPLICA_ENV`), so that replicas of one definition stay identical.

Pure: no engine, no file system. Host paths of the files to bind-mount are computed from the data
dir (`host_file`); the engine edge writes them there before it creates the container.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from gitdeploy.live import labels
from gitdeploy.live.resources import host_resources
from gitdeploy.spec.identity import Desired

REPLICA_ENV = "GITDEPLOY_REPLICA"  # set in every container: its replica index, not part of the definition
NANOSECONDS = 1_000_000_000  # the engine's unit for health-check durations


def container_name(system: str, env: str, path: str, replica: int, hash_: str) -> str:
    return f"{system}.{env}.{path.replace('/', '-')}.{replica}.{hash_[:8]}"


def network_name(system: str, env: str) -> str:
    return f"{system}.{env}"


def volume_name(system: str, env: str, source: str) -> str:
    return f"{system}.{env}.{source}"


def host_file(data_dir: str | os.PathLike[str], digest: str, secret: bool = False) -> str:
    """Where the engine edge keeps the content-addressed copy of a file to bind-mount."""
    return os.path.join(data_dir, "secrets" if secret else "files", digest)


def restart_policy(restart: str) -> dict[str, Any]:
    """The engine's RestartPolicy for a spec's `restart:` ({} for "no": the engine's default)."""
    if restart in ("no", ""):
        return {}
    if restart.startswith("on-failure"):
        _, _, n = restart.partition(":")
        return {"Name": "on-failure", "MaximumRetryCount": int(n or 0)}
    return {"Name": restart}


def nanoseconds(seconds: float) -> int:
    return int(seconds * NANOSECONDS)


def healthcheck(h: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The engine's Healthcheck for a definition's `healthcheck` (durations in seconds)."""
    if h is None:
        return None
    return {
        "Test": list(h["test"]),
        "Interval": nanoseconds(h["interval"]),
        "Timeout": nanoseconds(h["timeout"]),
        "Retries": h["retries"],
        "StartPeriod": nanoseconds(h["start_period"]),
    }


def stop_timeout(grace: float) -> int:
    """Whole seconds, at least one: the engine's StopTimeout for a `stop_grace_period`."""
    return max(1, int(round(grace)))


def config_for(
    d: Desired, system: str, env: str, replica: int, *, commit: str, aliases: tuple[str, ...],
    data_dir: str | os.PathLike[str], publish: bool = True,
) -> dict[str, Any]:
    """The create body of replica `replica` of `d` in `env` (its `name` is `container_name`).

    `publish=False` joins the system network without the service's aliases (a held-back
    container takes no traffic until it is published). Keys the engine would get as null are
    left out, as the Docker SDK leaves them out.
    """
    s, definition = d.service, d.definition
    environment = dict(definition["environment"]) | {REPLICA_ENV: str(replica)}
    body: dict[str, Any] = {
        "Image": d.image_id,
        "Cmd": definition["command"],
        "Entrypoint": definition["entrypoint"],
        "Env": [f"{k}={v}" for k, v in environment.items()],
        "Labels": dict(definition["labels"]) | {
            labels.SYSTEM: system,
            labels.ENV: env,
            labels.SERVICE: s.path,
            labels.REPLICA: str(replica),
            labels.HASH: d.hash,
            labels.COMMIT: commit,
            labels.DEFINITION: d.definition_json(),
            labels.DEPENDS: ",".join(dep.service for dep in s.depends_on),
        },
        "User": definition["user"],
        "WorkingDir": definition["working_dir"],
        "Healthcheck": healthcheck(definition["healthcheck"]),
        "StopTimeout": stop_timeout(definition["stop_grace_period"]),
        "ExposedPorts": {f"{p.container}/{p.protocol}": {} for p in s.ports} or None,
        # the Docker SDK's defaults for a container that is started, not run in a terminal
        "Tty": False, "OpenStdin": False, "StdinOnce": False, "NetworkDisabled": False,
        "AttachStdin": False, "AttachStdout": True, "AttachStderr": True,
        "HostConfig": _host_config(d, system, env, data_dir),
        "NetworkingConfig": {"EndpointsConfig": {
            network_name(system, env): {"Aliases": list(aliases)} if publish and aliases else {},
        }},
    }
    return {k: v for k, v in body.items() if v is not None}


def _host_config(d: Desired, system: str, env: str, data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The HostConfig: restart policy, published ports, init and mounts (configs, secrets, volumes)."""
    s, definition = d.service, d.definition
    host: dict[str, Any] = {"NetworkMode": "default"}
    if restart := restart_policy(definition["restart"]):
        host["RestartPolicy"] = restart
    bindings = {f"{p.container}/{p.protocol}": [{"HostIp": p.host_ip, "HostPort": str(p.host)}]
                for p in s.ports if p.host is not None}
    if bindings:
        host["PortBindings"] = bindings
    if definition["init"] is not None:
        host["Init"] = definition["init"]
    mounts = [
        _mount(target, host_file(data_dir, c["digest"]), "bind", True) for target, c in definition["configs"].items()
    ] + [
        _mount(target, host_file(data_dir, x["fingerprint"], secret=True), "bind", True)
        for target, x in definition["secrets"].items()
    ] + [
        _mount(v.target, volume_name(system, env, v.source), "volume", v.read_only) for v in s.volumes
    ]
    if mounts:
        host["Mounts"] = mounts
    host |= host_resources(definition)  # NanoCpus, Memory, MemoryReservation: only those set
    return host


def _mount(target: str, source: str, type_: str, read_only: bool) -> dict[str, Any]:
    return {"Target": target, "Source": source, "Type": type_, "ReadOnly": read_only}
