"""A Compose or stack file's `deploy:` block, onto gitdeploy's service keys.

replicas -> replicas, mode -> mode, endpoint_mode -> endpoint_mode, placement -> placement,
resources -> resources, update_config -> rollout, restart_policy -> restart. What has no
equivalent is reported with the reason, never dropped silently; what only the swarm engine
honours is said so (`gitdeploy validate --engine swarm`).
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap

_RESTART_CONDITIONS = {"none": "no", "on-failure": "on-failure", "any": "always"}
_FAILURE_ACTIONS = {"rollback": "rollback", "pause": "pause"}
_DROPPED = {
    "labels": "service labels of a swarm service; put container labels in `labels`",
    "rollback_config": "gitdeploy rolls the whole deploy back with the service's `rollout`",
}
_UPDATE_DROPPED = {
    "delay": "gitdeploy starts the next batch once the last one passed its health gate",
    "max_failure_ratio": "gitdeploy rolls back at the first replica that fails its gate",
}
# deploy key -> the service key it becomes
_TARGETS = {"replicas": "replicas", "update_config": "rollout", "restart_policy": "restart", "mode": "mode",
            "endpoint_mode": "endpoint_mode", "placement": "placement", "resources": "resources"}
_SWARM = "honoured only by the swarm engine (validate and deploy with --engine swarm)"


def translate_deploy(where: str, svc: CommentedMap, warnings: list[str]) -> None:
    """Replaces svc["deploy"] by the service keys it maps to (written where `deploy` was)."""
    deploy = svc["deploy"]
    at = list(svc).index("deploy")
    del svc["deploy"]
    if not isinstance(deploy, dict):
        warnings.append(f"{where}: deploy dropped (not a mapping)")
        return
    out: list[tuple[str, Any]] = []
    for key, value in deploy.items():
        k = str(key)
        if k in _TARGETS and _TARGETS[k] in svc:
            warnings.append(f"{where}: deploy.{k} dropped (the service sets `{_TARGETS[k]}` already)")
        elif k == "replicas":
            out.append(("replicas", value))
            warnings.append(f"{where}: deploy.replicas became `replicas`")
        elif k == "update_config":
            if (rollout := _rollout(where, value, warnings)) is not None:
                out.append(("rollout", rollout))
        elif k == "restart_policy":
            if (restart := _restart(value)) is not None:
                out.append(("restart", restart))
                warnings.append(f"{where}: deploy.restart_policy became `restart: {restart}`")
            else:
                warnings.append(f"{where}: deploy.restart_policy dropped (no restart condition gitdeploy knows)")
        elif k == "mode":
            if value in ("replicated", "global"):
                out.append(("mode", value))
                if value == "global":
                    warnings.append(f"{where}: deploy.mode became `mode: global`, {_SWARM}")
            else:
                warnings.append(f"{where}: deploy.mode {value} dropped (gitdeploy runs replicated or global "
                                "services, not jobs)")
        elif k == "endpoint_mode":
            out.append(("endpoint_mode", value))
            warnings.append(f"{where}: deploy.endpoint_mode became `endpoint_mode`, {_SWARM}")
        elif k == "placement":
            if (placement := _placement(where, value, warnings)) is not None:
                out.append(("placement", placement))
                warnings.append(f"{where}: deploy.placement became `placement`, {_SWARM}")
        elif k == "resources":
            if (resources := _resources(where, value, warnings)) is not None:
                out.append(("resources", resources))
        else:
            warnings.append(f"{where}: deploy.{k} dropped ({_DROPPED.get(k, 'not supported by gitdeploy')})")
    for i, (key, value) in enumerate(out):
        svc.insert(at + i, key, value)


def _restart(policy: Any) -> str | None:
    if not isinstance(policy, dict) or policy.get("condition", "any") not in _RESTART_CONDITIONS:
        return None
    restart = _RESTART_CONDITIONS[policy.get("condition", "any")]
    if restart == "on-failure" and isinstance(policy.get("max_attempts"), int):
        restart += f":{policy['max_attempts']}"
    return restart


def _rollout(where: str, update: Any, warnings: list[str]) -> CommentedMap | None:
    if not isinstance(update, dict):
        warnings.append(f"{where}: deploy.update_config dropped (not a mapping)")
        return None
    rollout = CommentedMap()
    for key, value in update.items():
        if key == "parallelism" and isinstance(value, int) and value >= 1:
            rollout["parallelism"] = value
        elif key == "order" and value in ("start-first", "stop-first"):
            rollout["order"] = value
        elif key == "monitor":
            rollout["monitor"] = value
        elif key == "failure_action" and value in _FAILURE_ACTIONS:
            rollout["on_failure"] = _FAILURE_ACTIONS[value]
        elif key == "parallelism" and value == 0:
            warnings.append(f"{where}: deploy.update_config.parallelism 0 (all at once) dropped; "
                            "set rollout.parallelism to the number of replicas")
        elif key == "failure_action" and value == "continue":
            warnings.append(f"{where}: deploy.update_config.failure_action continue dropped; "
                            "gitdeploy never keeps a failed update (rollout.on_failure: rollback or pause)")
        else:
            reason = _UPDATE_DROPPED.get(str(key), "not supported by gitdeploy")
            warnings.append(f"{where}: deploy.update_config.{key} dropped ({reason})")
    if not rollout:
        return None
    warnings.append(f"{where}: deploy.update_config became `rollout`")
    return rollout


def _placement(where: str, placement: Any, warnings: list[str]) -> CommentedMap | None:
    if not isinstance(placement, dict):
        warnings.append(f"{where}: deploy.placement dropped (not a mapping)")
        return None
    out = CommentedMap()
    for key, value in placement.items():
        if key in ("constraints", "preferences", "max_replicas_per_node"):
            out[key] = value
        else:
            why = "the image decides the platform" if key == "platforms" else "not supported by gitdeploy"
            warnings.append(f"{where}: deploy.placement.{key} dropped ({why})")
    return out or None


def _resources(where: str, resources: Any, warnings: list[str]) -> CommentedMap | None:
    if not isinstance(resources, dict):
        warnings.append(f"{where}: deploy.resources dropped (not a mapping)")
        return None
    out = CommentedMap()
    for kind, amounts in resources.items():
        if kind not in ("limits", "reservations") or not isinstance(amounts, dict):
            warnings.append(f"{where}: deploy.resources.{kind} dropped (not supported by gitdeploy)")
            continue
        kept = CommentedMap()
        for key, value in amounts.items():
            if key in ("cpus", "memory"):
                kept[key] = value
            else:
                warnings.append(f"{where}: deploy.resources.{kind}.{key} dropped (not supported by gitdeploy)")
        if kept:
            out[kind] = kept
    if not out:
        return None
    warnings.append(f"{where}: deploy.resources became `resources`")
    if "cpus" in out.get("reservations", {}):
        warnings.append(f"{where}: resources.reservations.cpus is {_SWARM}")
    return out


# Compose's service-level resource keys -> (resources kind, amount)
_SERVICE_LEVEL = {"cpus": ("limits", "cpus"), "mem_limit": ("limits", "memory"),
                  "mem_reservation": ("reservations", "memory")}


def translate_service_limits(where: str, svc: CommentedMap, warnings: list[str]) -> None:
    """Compose's `cpus`, `mem_limit` and `mem_reservation` on the service become `resources`
    (unless a deploy block gave them already: then they are reported and dropped)."""
    present = [k for k in _SERVICE_LEVEL if k in svc]
    if not present:
        return
    if "resources" in svc:
        for k in present:
            warnings.append(f"{where}: '{k}' dropped (deploy.resources gives the resources)")
            del svc[k]
        return
    at = min(list(svc).index(k) for k in present)
    resources = CommentedMap()
    for k in present:
        kind, amount = _SERVICE_LEVEL[k]
        resources.setdefault(kind, CommentedMap())[amount] = svc.pop(k)
        warnings.append(f"{where}: '{k}' became `resources.{kind}.{amount}`")
    svc.insert(at, "resources", resources)
