"""The services/groups tree: parses every service and group setting and carries group settings
down to the services ("containers all the way down").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitdeploy.spec import fields as F
from gitdeploy.spec import mounts as M
from gitdeploy.spec import scheduling as S
from gitdeploy.spec.imageref import image_problem
from gitdeploy.spec.names import DNS_LABEL_MAX, dns_name
from gitdeploy.spec.yamlnode import Node, Pos, Report, check_keys, describe, entries, shown_text


def _image(r: Report, n: Node, what: str) -> str | None:
    text = F.get_str(r, n, "image")
    if text is None:
        return None
    if (problem := image_problem(text)) is not None:
        r.at(n.pos, problem[0], problem[1])
        return None
    return text


Parser = Callable[[Report, Node, str], Any]

SERVICE_PARSERS: dict[str, Parser] = {
    "image": _image,
    "build": M.parse_build,
    "command": lambda r, n, w: F.parse_command(r, n, f"command of {w}"),
    "entrypoint": lambda r, n, w: F.parse_command(r, n, f"entrypoint of {w}"),
    "environment": lambda r, n, w: F.parse_mapping_or_list(r, n, f"environment of {w}", "environment"),
    "env_file": M.parse_env_file,
    "ports": M.parse_ports,
    "volumes": M.parse_volumes,
    "configs": M.parse_configs,
    "secrets": M.parse_secrets,
    "healthcheck": F.parse_healthcheck,
    "depends_on": F.parse_depends_on,
    "replicas": lambda r, n, w: F.get_int(r, n, "replicas", 0, F.MAX_REPLICAS),
    "labels": lambda r, n, w: F.parse_mapping_or_list(r, n, f"labels of {w}", "labels"),
    "restart": F.parse_restart,
    "init": lambda r, n, w: F.get_bool(r, n, "init"),
    "user": lambda r, n, w: F.get_str(r, n, "user", allow_numbers=True),
    "working_dir": lambda r, n, w: F.get_abs_path(r, n, "working_dir"),
    "stop_grace_period": lambda r, n, w: F.get_duration(r, n, "stop_grace_period"),
    "rollout": F.parse_rollout,
    "drift_ignore": F.parse_drift_ignore,
    "resources": S.parse_resources,
    "placement": S.parse_placement,
    "mode": S.parse_mode,
    "endpoint_mode": S.parse_endpoint_mode,
}
SERVICE_KEYS = tuple(SERVICE_PARSERS)
INHERITED_KEYS = ("environment", "labels", "rollout", "restart", "init", "drift_ignore")
GROUP_KEYS = ("services", "groups", *INHERITED_KEYS)

_REMOVE = "remove it; gitdeploy does not apply it"
# Compose service keys gitdeploy refuses, so a setting is never silently ignored.
UNSUPPORTED_SERVICE_KEYS: dict[str, str] = {
    k: _REMOVE
    for k in (
        "annotations attach blkio_config cgroup cgroup_parent cpu_count cpu_percent cpu_period "
        "cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec develop "
        "device_cgroup_rules devices dns dns_opt dns_search domainname driver_opts extra_hosts gpus "
        "group_add isolation ipc label_file logging mac_address mem_limit mem_reservation "
        "mem_swappiness memswap_limit oom_kill_disable oom_score_adj pid pids_limit platform "
        "post_start pre_stop privileged provider pull_policy read_only runtime security_opt "
        "shm_size stdin_open stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket "
        "userns_mode uts cap_add cap_drop models"
    ).split()
} | {
    "deploy": "write its settings on the service (replicas, rollout, resources, placement, mode, endpoint_mode); "
              "`gitdeploy import` translates a deploy block",
    "scale": "use `replicas`",
    "cpus": "use resources: {limits: {cpus: ...}}",
    "mem_limit": "use resources: {limits: {memory: ...}}",
    "mem_reservation": "use resources: {reservations: {memory: ...}}",
    "container_name": "remove it; gitdeploy names containers after the system and service path",
    "hostname": "remove it; the service name is its DNS name on the system's network",
    "links": "remove it; services reach each other by name on the system's network",
    "external_links": "remove it; services reach each other by name on the system's network",
    "network_mode": "remove it; every service joins the system's own network",
    "networks": "remove it; every service joins the system's own network",
    "extends": "put shared settings on a group (`groups:`) instead",
    "profiles": "use groups to organise services",
    "expose": "remove it; services on the system's network reach every port; use `ports` to publish",
    "volumes_from": "mount the same named volume in both services",
}


@dataclass
class Inherited:
    """What groups pass down to their members, merged from the outermost group inwards."""

    environment: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    rollout: dict[str, Any] = field(default_factory=dict)
    restart: str | None = None
    init: bool | None = None
    drift_ignore: list[str] = field(default_factory=list)

    def child(self, values: dict[str, Any]) -> Inherited:
        """The settings a member of this group sees once the group's own `values` apply."""
        env = {k: v for k, (v, _) in (values.get("environment") or {}).items()}
        labels = {k: v for k, (v, _) in (values.get("labels") or {}).items()}
        return Inherited(
            environment={**self.environment, **env},
            labels={**self.labels, **labels},
            rollout={**self.rollout, **(values.get("rollout") or {})},
            restart=values.get("restart") or self.restart,
            init=values["init"] if values.get("init") is not None else self.init,
            drift_ignore=self.drift_ignore
            + [p for p in values.get("drift_ignore") or [] if p not in self.drift_ignore],
        )


@dataclass
class Draft:
    """A service as parsed: its own settings (valid ones only) and what its groups pass down."""

    path: str
    pos: Pos  # where its name is written
    values: dict[str, Any]
    inherited: Inherited


@dataclass
class Tree:
    drafts: list[Draft] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    positions: dict[str, Pos] = field(default_factory=dict)  # service and group paths
    engine: str = S.DEFAULT_ENGINE


def read_tree(r: Report, services: Node | None, groups: Node | None, engine: str = S.DEFAULT_ENGINE) -> Tree:
    """Every service with its inherited settings, and every group path (parents first).

    Keys that `engine` cannot honour are reported where they are written.
    """
    tree = Tree(engine=engine)
    _level(r, tree, services, groups, "", Inherited())
    return tree


def _level(
    r: Report, tree: Tree, services: Node | None, groups: Node | None, prefix: str, inh: Inherited
) -> None:
    names: dict[str, str] = {}  # name -> "service"/"group" at this level
    where = f"group '{prefix.rstrip('/')}'" if prefix else "the spec"
    if services is not None and services.value is not None:
        if not services.is_map:
            r.at(
                services.pos,
                f"`services` in {where} must be a mapping of names to services, not {describe(services.value)}",
            )
        else:
            for name, kpos, node in entries(services):
                if F.get_name(r, kpos, name, "service") and _fits_dns(r, prefix + name, kpos, "service", 0):
                    names[name] = "service"
                    _service(r, tree, prefix + name, kpos, node, inh)
    if groups is not None and groups.value is not None:
        if not groups.is_map:
            r.at(
                groups.pos,
                f"`groups` in {where} must be a mapping of names to groups, not {describe(groups.value)}",
            )
            return
        for name, kpos, node in entries(groups):
            if not F.get_name(r, kpos, name, "group"):
                continue
            if names.get(name) == "service":
                first = tree.positions.get(prefix + name, (0, 0))
                r.at(
                    kpos,
                    f"a service and a group are both named '{prefix + name}' (the service is at line {first[0]})",
                    "rename one of them; a path must name exactly one thing",
                )
                continue
            names[name] = "group"
            # a member adds at least '-x' to the group's DNS name: a group too long for one is
            # not read further (this also bounds how deep groups nest)
            if _fits_dns(r, prefix + name, kpos, "group", 2):
                _group(r, tree, prefix + name, kpos, node, inh)


def _fits_dns(r: Report, path: str, pos: Pos, what: str, room: int) -> bool:
    dashed = dns_name(path)
    if len(dashed) + room <= DNS_LABEL_MAX:
        return True
    limit = DNS_LABEL_MAX - room
    r.at(pos, f"the DNS name of {what} '{shown_text(path)}' ('{shown_text(dashed)}', its path with '/' as '-') "
              f"has {len(dashed)} characters (at most {limit}{' for a group' if room else ''})",
         "use shorter service or group names, or nest groups less deeply")
    return False


def _group(r: Report, tree: Tree, path: str, kpos: Pos, node: Node, inh: Inherited) -> None:
    what = f"group '{path}'"
    if node.value is None:
        node = Node({}, kpos)
    if not node.is_map:
        r.at(node.pos, f"{what} must be a mapping, not {describe(node.value)}")
        return
    tree.groups.append(path)
    tree.positions[path] = kpos
    unsupported = {
        k: "groups only carry: " + ", ".join(GROUP_KEYS) for k in SERVICE_KEYS if k not in GROUP_KEYS
    }
    found = check_keys(r, node, GROUP_KEYS, what, unsupported)
    values = {k: SERVICE_PARSERS[k](r, v, what) for k, (_, v) in found.items() if k in INHERITED_KEYS}
    child = inh.child(values)
    sub_services = found["services"][1] if "services" in found else None
    sub_groups = found["groups"][1] if "groups" in found else None
    _level(r, tree, sub_services, sub_groups, path + "/", child)


def _service(r: Report, tree: Tree, path: str, kpos: Pos, node: Node, inh: Inherited) -> None:
    what = f"service '{path}'"
    tree.positions[path] = kpos
    if not node.is_map:
        r.at(
            node.pos if node.value is not None else kpos,
            f"{what} must be a mapping, not {describe(node.value)}",
            "give it at least an `image` or a `build`",
        )
        return
    found = check_keys(r, node, SERVICE_KEYS, what, UNSUPPORTED_SERVICE_KEYS)
    values: dict[str, Any] = {}
    for key, (_, v) in found.items():
        parsed = SERVICE_PARSERS[key](r, v, what)
        if parsed is not None:
            values[key] = parsed
    S.check_service(r, found, values, what, tree.engine)
    if "image" in found and "build" in found:
        r.at(found["build"][0], f"{what} has both `image` and `build`", "keep exactly one of them")
    elif "image" not in found and "build" not in found:
        r.at(kpos, f"{what} has neither `image` nor `build`", "add image: NAME:TAG or build: DIRECTORY")
    tree.drafts.append(Draft(path, kpos, values, inh))
