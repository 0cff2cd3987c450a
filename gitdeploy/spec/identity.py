"""A service's identity: its resolved definition and the hash over it.

The definition is everything that makes a container what it is: the image ID it runs, its
command and environment, the contents of every repo file it mounts and a keyed hash of every
secret it mounts. Change any of them and the hash changes, so the container is replaced: config
always moves in lock-step with code. Replicas, dependencies and rollout settings are not part of
a container's identity (changing them never replaces a container); nor are placement, mode and
endpoint_mode, which say where and how tasks run on a cluster, not what a container is.
`resources` is (a container's limits are set when it is created).

The definition is also the source of what the engine is asked to create: the container-config
builder (`live/container_config.py`) translates these values into engine settings (restart
policy, health-check nanoseconds, ...), so the hash covers everything a container is sent. Its
shape is frozen: any change to it changes every hash, and redeploys every container (`resources`
joins it only when set).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from gitdeploy.spec.model import Resources, Service

SECRET_CHANGED = "(secret changed)"


@dataclass(frozen=True)
class Desired:
    """One service as it will run: spec + what only the deploying host knows."""

    service: Service
    image_id: str
    definition: dict[str, Any]  # canonical, JSON-able, secret-free
    hash: str  # sha256 hex over the canonical definition
    secret_values: tuple[tuple[str, bytes], ...] = ()  # (fingerprint, value): never rendered or logged

    @property
    def path(self) -> str:
        return self.service.path

    def definition_json(self) -> str:
        return canonical_json(self.definition)

    def __repr__(self) -> str:  # keep secret values out of any accidental log line
        return f"Desired(path={self.path!r}, hash={self.hash[:12]}, image_id={self.image_id[:19]})"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_of(service: Service, image_id: str, secret_fingerprints: dict[str, str]) -> dict[str, Any]:
    """The canonical definition of `service` (a plain dict; see the module docstring).

    `resources` is in it only when set, so the hash of every service without them stays what it was.
    """
    hc = service.healthcheck
    out = {
        "image": service.image or f"build:{service.build.context if service.build else ''}",
        "image_id": image_id,
        "command": list(service.command) if service.command is not None else None,
        "entrypoint": list(service.entrypoint) if service.entrypoint is not None else None,
        "environment": dict(service.environment),
        "ports": sorted(str(p) for p in service.ports),
        "volumes": sorted(str(v) for v in service.volumes),
        "configs": {
            c.target: {"source": c.source, "digest": c.digest, "mode": oct(c.mode)} for c in service.configs
        },
        "secrets": {
            s.target: {"name": s.name, "fingerprint": secret_fingerprints.get(s.name, "")}
            for s in service.secrets
        },
        "healthcheck": None
        if hc is None
        else {
            "test": list(hc.test),
            "interval": hc.interval,
            "timeout": hc.timeout,
            "retries": hc.retries,
            "start_period": hc.start_period,
        },
        "labels": dict(service.labels),
        "restart": service.restart,
        "init": service.init,
        "user": service.user,
        "working_dir": service.working_dir,
        "stop_grace_period": service.stop_grace_period,
    }
    if service.resources is not None:
        out["resources"] = resources_definition(service.resources)
    return out


def resources_definition(r: Resources) -> dict[str, Any]:
    """{"limits.cpus": "0.5", "limits.memory": 268435456, ...}: only what is set, CPUs as exact
    decimal text, memory in bytes (so a change shows as `resources.limits.memory`)."""
    out: dict[str, Any] = {}
    for kind, amounts in (("limits", r.limits), ("reservations", r.reservations)):
        if amounts.cpus is not None:
            out[f"{kind}.cpus"] = amounts.cpus
        if amounts.memory is not None:
            out[f"{kind}.memory"] = amounts.memory
    return out


def hash_definition(definition: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()


def field_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every field that differs, as (field, old, new) display strings; secrets never in clear.

    Mappings are compared key by key (`environment.LOG_LEVEL`, `configs./etc/app.conf`).
    """
    if old is None:
        return [("definition", "(unknown)", "(new)")]
    out: list[tuple[str, str, str]] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "secrets":
            out.extend(_secret_changes(a or {}, b or {}))
        elif key == "configs":
            for t in sorted(set(a or {}) | set(b or {})):
                ca, cb = (a or {}).get(t), (b or {}).get(t)
                if ca != cb:
                    out.append((f"configs.{t}", _config_str(ca), _config_str(cb)))
        elif isinstance(a, dict) and isinstance(b, dict) and key != "healthcheck":
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    out.append((f"{key}.{k}", _show(a.get(k)), _show(b.get(k))))
        else:
            out.append((key, _show(a), _show(b)))
    return out


def _secret_changes(a: dict, b: dict) -> list[tuple[str, str, str]]:
    out = []
    for t in sorted(set(a) | set(b)):
        sa, sb = a.get(t), b.get(t)
        if sa == sb:
            continue
        if sa is None:
            out.append((f"secrets.{t}", "(none)", f"(secret {sb['name']})"))
        elif sb is None:
            out.append((f"secrets.{t}", f"(secret {sa['name']})", "(none)"))
        else:
            out.append((f"secrets.{t}", f"(secret {sa['name']})", SECRET_CHANGED))
    return out


def _config_str(c: dict | None) -> str:
    if c is None:
        return "(none)"
    return f"{c['source']} @{c['digest'][:12]}"


def _show(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True)
