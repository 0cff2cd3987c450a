"""Field-by-field differences between the ServiceSpec gitdeploy sent and the one a service has now.

A hand edit (`docker service update --env-add ...`) shows up here as config drift, field by
field. The engine gives a spec back normalised - zero values dropped, networks by ID, defaults
filled in - so both sides are brought to one form first (`normal`). Pure.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from gitdeploy.live import labels

HALTED = labels.PREFIX + "halted-replicas"  # on a service a halt scaled to 0: how many it ran
RESTART_DELAY = 5_000_000_000  # Swarm's own restart delay (ns): the engine writes it in when a client sends the spec back

# Defaults the engine fills in that a spec built by gitdeploy leaves out.
_DEFAULTS = {
    ("TaskTemplate", "ContainerSpec", "Isolation"): "default",
    ("TaskTemplate", "Runtime"): "container",
}


def normal(spec: Mapping[str, Any], network_ids: Mapping[str, str]) -> dict[str, Any]:
    """`spec` without empty or zero values and engine defaults, networks named by ID."""

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                w = walk(v, (*path, k))
                if w not in (None, 0, "", [], {}, False) and _DEFAULTS.get((*path, k)) != w:
                    out[k] = w
            return out
        if isinstance(value, list):
            return [walk(v, path) for v in value]
        return value

    out = walk(spec, ())
    if "Replicated" in (spec.get("Mode") or {}):  # the engine leaves out 0 replicas (a halt)
        replicas = (spec["Mode"]["Replicated"] or {}).get("Replicas", 0)
        out.setdefault("Mode", {})["Replicated"] = {"Replicas": replicas}
    for net in out.get("TaskTemplate", {}).get("Networks", []):
        net["Target"] = network_ids.get(net.get("Target", ""), net.get("Target"))
    return out


def drift(sent: Mapping[str, Any], live: Mapping[str, Any], network_ids: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """Every field where the live spec is not what was sent, as (field, sent, live) display strings.

    Lists of KEY=VALUE (Env) are compared by key: `TaskTemplate.ContainerSpec.Env.LOG_LEVEL`.
    """
    out: list[tuple[str, str, str]] = []

    def show(v: Any) -> str:
        return "(none)" if v is None else v if isinstance(v, str) else json.dumps(v, sort_keys=True)

    def walk(a: Any, b: Any, path: str) -> None:
        if a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        elif path.endswith(".Env") and isinstance(a or [], list) and isinstance(b or [], list):
            ea = dict(x.split("=", 1) for x in (a or []) if "=" in x)
            eb = dict(x.split("=", 1) for x in (b or []) if "=" in x)
            for k in sorted(set(ea) | set(eb)):
                if ea.get(k) != eb.get(k):
                    out.append((f"{path}.{k}", show(ea.get(k)), show(eb.get(k))))
        else:
            out.append((path, show(a), show(b)))

    walk(normal(sent, network_ids), normal(live, network_ids), "")
    return out


def comparable(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A ServiceSpec without what may differ while the service is the same: the commit label (a
    service a later deploy left unchanged keeps the commit that last changed it), a halt's note,
    config and secret IDs (their names are their contents), the force counter (a repair that
    replaced the tasks) - and the restart delay Swarm writes in by itself when a client sends a
    spec back, so a hand edit shows only what the hand changed. Pure; `spec` is not changed."""
    out = copy.deepcopy(dict(spec))
    out["Labels"] = {k: v for k, v in (out.get("Labels") or {}).items() if k not in (labels.COMMIT, HALTED)}
    task = out.get("TaskTemplate") or {}
    task.pop("ForceUpdate", None)
    container = task.get("ContainerSpec") or {}
    for kind, key in (("Configs", "ConfigID"), ("Secrets", "SecretID")):
        for ref in container.get(kind) or []:
            ref.pop(key, None)
    policy = task.get("RestartPolicy") or {}
    if policy.get("Delay") == RESTART_DELAY:
        del policy["Delay"]
    return out
