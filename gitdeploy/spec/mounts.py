"""Parsers for what connects a container to the outside: ports, volumes, configs, secrets,
env files and build contexts. Repository paths are only read here; `repofiles` checks them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from gitdeploy.spec.fields import get_bool, get_int, get_name, get_str, parse_mapping_or_list
from gitdeploy.spec.model import Port, SecretRef, Volume
from gitdeploy.spec.shown import shown
from gitdeploy.spec.yamlnode import Node, Pos, Report, check_keys, describe, items

PROTOCOLS = ("tcp", "udp", "sctp")
_PORT_RE = (  # compiled on first use (re caches it): not at start-up for a spec without ports
    r"(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:]*):)??"
    r"(?:(?P<host>[0-9]+(?:-[0-9]+)?)?:)?"
    r"(?P<container>[0-9]+(?:-[0-9]+)?)"
    r"(?:/(?P<proto>[a-z]+))?"
)


@dataclass(frozen=True)
class PortEntry:
    """One `ports` entry: a range of container ports, maybe published on a host range of the
    same length. Kept as intervals until the spec's port budget is checked (see checks)."""

    container: tuple[int, int]  # first, last
    host: tuple[int, int] | None = None
    host_ip: str = ""
    protocol: str = "tcp"

    @property
    def size(self) -> int:
        return self.container[1] - self.container[0] + 1

    def ports(self) -> list[Port]:
        """The entry port by port."""
        c0, h0 = self.container[0], self.host[0] if self.host else None
        return [
            Port(container=c0 + i, host=None if h0 is None else h0 + i, host_ip=self.host_ip, protocol=self.protocol)
            for i in range(self.size)
        ]


def parse_port_entry(text: str) -> PortEntry:
    """A port from the short syntax ("8080:80", "127.0.0.1:8080:80/udp", "80", ranges
    "8000-8001:80-81"). Raises ValueError with the reason."""
    m = re.fullmatch(_PORT_RE, text.strip()) if len(text) < 100 else None
    if m is None:
        raise ValueError(f"invalid port {shown(text)}")
    proto = m.group("proto") or "tcp"
    if proto not in PROTOCOLS:
        raise ValueError(f"invalid protocol {shown(proto)} in port {shown(text)}")
    ip = (m.group("ip") or "").strip("[]")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError(f"invalid host IP {shown(ip)} in port {shown(text)}") from None
    if ip and m.group("host") is None:
        raise ValueError(f"port {shown(text)} gives a host IP but no host port")
    container = _port_range(m.group("container"), text)
    host = _port_range(m.group("host"), text) if m.group("host") else None
    if host is not None and host[1] - host[0] != container[1] - container[0]:
        raise ValueError(f"port ranges of different lengths in {shown(text)}")
    return PortEntry(container, host, ip, proto)


def _port_range(text: str, whole: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    first, last = int(lo), int(hi or lo)
    if not (1 <= first <= last <= 65535):
        raise ValueError(f"invalid port number or range {shown(text)} in {shown(whole)} (1-65535)")
    return first, last


PORT_KEYS = ("target", "published", "host_ip", "protocol", "mode")


def parse_ports(r: Report, n: Node, what: str) -> list[tuple[PortEntry, Pos]] | None:
    """Every port entry with its position."""
    if not n.is_list:
        r.at(n.pos, f"ports in {what} must be a list, not {describe(n.value)}")
        return None
    out: list[tuple[PortEntry, Pos]] = []
    for _, item in items(n):
        if isinstance(item.value, int | str) and not isinstance(item.value, bool):
            try:
                out.append((parse_port_entry(str(item.value)), item.pos))
            except ValueError as exc:
                r.at(item.pos, str(exc), 'e.g. "8080:80", "127.0.0.1:8080:80/udp" or "80"')
        elif item.is_map:
            port = _long_port(r, item)
            if port is not None:
                out.append((port, item.pos))
        else:
            r.at(item.pos, f"a port must be a string or a mapping, not {describe(item.value)}")
    return out


def _long_port(r: Report, n: Node) -> PortEntry | None:
    before = r.count()
    f = check_keys(r, n, PORT_KEYS, "a port", {"name": "remove it", "app_protocol": "remove it"})
    if "target" not in f:
        r.at(n.pos, "a port needs `target` (the container port)")
        return None
    target = get_int(r, f["target"][1], "ports.target", 1, 65535)
    host = get_int(r, f["published"][1], "ports.published", 1, 65535) if "published" in f else None
    ip = get_str(r, f["host_ip"][1], "ports.host_ip") if "host_ip" in f else ""
    proto = f["protocol"][1].value if "protocol" in f else "tcp"
    if proto not in PROTOCOLS:
        r.at(f["protocol"][1].pos, f"invalid protocol {shown(proto)}", "use tcp, udp or sctp")
    if "mode" in f and f["mode"][1].value != "host":
        r.at(f["mode"][1].pos, "only `mode: host` is supported by gitdeploy (no swarm ingress)")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            r.at(f["host_ip"][1].pos, f"invalid host IP {shown(ip)}")
    if r.count() != before or target is None:
        return None
    return PortEntry((target, target), None if host is None else (host, host), ip or "", str(proto))


BIND_HINT = (
    "gitdeploy mounts named volumes only; to ship a file from the repository use `configs`, "
    "for data use a named volume ('data:/path')"
)


def parse_volumes(r: Report, n: Node, what: str) -> list[tuple[Volume, Pos]] | None:
    """Named volumes, each with its position; bind mounts and anonymous volumes are reported."""
    if not n.is_list:
        r.at(n.pos, f"volumes in {what} must be a list, not {describe(n.value)}")
        return None
    out: list[tuple[Volume, Pos]] = []
    for _, item in items(n):
        v = _short_volume(r, item) if isinstance(item.value, str) else None
        if item.is_map:
            v = _long_volume(r, item)
        elif not isinstance(item.value, str):
            r.at(item.pos, f"a volume must be a string or a mapping, not {describe(item.value)}")
        if v is not None:
            out.append((v, item.pos))
    return out


def _short_volume(r: Report, n: Node) -> Volume | None:
    parts = str(n.value).split(":")
    if len(parts) == 1:
        r.at(n.pos, f"anonymous volume {shown(n.value)} is not supported", "name it: 'NAME:" + parts[0] + "'")
        return None
    if len(parts) > 3:
        r.at(n.pos, f"invalid volume {shown(n.value)}", "use 'NAME:/path' or 'NAME:/path:ro'")
        return None
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if source.startswith(("/", ".", "~", "$")) or "/" in source:
        r.at(n.pos, f"bind mount {shown(n.value)} is not supported", BIND_HINT)
        return None
    if not get_name(r, n.pos, source, "volume"):
        return None
    if not target.startswith("/"):
        r.at(n.pos, f"volume target {shown(target)} must be an absolute path inside the container")
        return None
    if mode not in ("ro", "rw"):
        r.at(n.pos, f"volume option {shown(mode)} is not supported by gitdeploy", "use ro or rw")
        return None
    return Volume(source=source, target=target, read_only=mode == "ro")


VOLUME_KEYS = ("type", "source", "target", "read_only")
VOLUME_UNSUPPORTED = {k: "remove it" for k in ("bind", "volume", "tmpfs", "image", "consistency")}


def _long_volume(r: Report, n: Node) -> Volume | None:
    before = r.count()
    f = check_keys(r, n, VOLUME_KEYS, "a volume", VOLUME_UNSUPPORTED)
    kind = f["type"][1].value if "type" in f else "volume"
    if kind == "bind":
        r.at(f["type"][1].pos, "bind mounts are not supported", BIND_HINT)
        return None
    if kind != "volume":
        r.at(f["type"][1].pos, f"volume type {shown(kind)} is not supported by gitdeploy", "use type: volume")
        return None
    if "source" not in f or "target" not in f:
        r.at(n.pos, "a volume needs `source` (the volume name) and `target`")
        return None
    source = get_str(r, f["source"][1], "volume source")
    target = get_str(r, f["target"][1], "volume target")
    ro = get_bool(r, f["read_only"][1], "read_only") if "read_only" in f else False
    if source is not None and get_name(r, f["source"][1].pos, source, "volume") is False:
        source = None
    if target is not None and not target.startswith("/"):
        r.at(f["target"][1].pos, f"volume target {shown(target)} must be an absolute path inside the container")
    if r.count() != before or source is None or target is None:
        return None
    return Volume(source=source, target=target, read_only=bool(ro))


@dataclass(frozen=True)
class RawConfig:
    """A configs entry as written: `source` is a repo path or a top-level config name."""

    source: str
    target: str | None
    mode: int
    pos: Pos


def parse_configs(r: Report, n: Node, what: str) -> list[RawConfig] | None:
    """The configs entries as written (sources not yet checked against the repository)."""
    if not n.is_list:
        r.at(n.pos, f"configs in {what} must be a list, not {describe(n.value)}")
        return None
    out: list[RawConfig] = []
    for _, item in items(n):
        if isinstance(item.value, str):
            source, _, target = str(item.value).partition(":")
            out.append(RawConfig(source, target or None, 0o444, item.pos))
        elif item.is_map:
            before = r.count()
            f = check_keys(
                r, item, ("source", "target", "mode"), "a config", {"uid": "remove it", "gid": "remove it"}
            )
            if "source" not in f:
                r.at(item.pos, "a config needs `source`")
                continue
            source = get_str(r, f["source"][1], "config source")
            target = get_str(r, f["target"][1], "config target") if "target" in f else None
            mode = _mode(r, f["mode"][1]) if "mode" in f else 0o444
            if r.count() == before and source is not None and mode is not None:
                out.append(RawConfig(source, target, mode, item.pos))
        else:
            r.at(item.pos, f"a config must be a string or a mapping, not {describe(item.value)}")
    for c in out:
        if c.target is not None and not c.target.startswith("/"):
            r.at(c.pos, f"config target {shown(c.target)} must be an absolute path inside the container")
    return [c for c in out if c.target is None or c.target.startswith("/")]


def _mode(r: Report, n: Node) -> int | None:
    v = n.value
    # YAML 1.2 reads 0444 as decimal 444; people mean octal, so octal digits are read as such.
    if isinstance(v, int) and not isinstance(v, bool):
        text = oct(v)[2:] if type(v).__name__ == "OctalInt" else str(v)
    elif isinstance(v, str):
        text = v.removeprefix("0o")
    else:
        text = ""
    if not re.fullmatch(r"[0-7]{1,4}", text) or int(text, 8) > 0o777:
        r.at(n.pos, f"config mode must be octal permissions like 0444, not {shown(v)}")
        return None
    return int(text, 8)


def parse_secrets(r: Report, n: Node, what: str) -> list[tuple[SecretRef, Pos]] | None:
    """The secrets mounted, each with the position of its entry."""
    if not n.is_list:
        r.at(n.pos, f"secrets in {what} must be a list, not {describe(n.value)}")
        return None
    out: list[tuple[SecretRef, Pos]] = []
    for _, item in items(n):
        name, target = None, None
        if isinstance(item.value, str):
            name = str(item.value)
        elif item.is_map:
            unsupported = {k: "remove it" for k in ("uid", "gid", "mode")}
            f = check_keys(r, item, ("source", "target"), "a secret", unsupported)
            if "source" not in f:
                r.at(item.pos, "a secret needs `source` (its name)")
                continue
            name = get_str(r, f["source"][1], "secret source")
            target = get_str(r, f["target"][1], "secret target") if "target" in f else None
        else:
            r.at(item.pos, f"a secret must be a name or a mapping, not {describe(item.value)}")
        if name is None or not get_name(r, item.pos, name, "secret"):
            continue
        target = target or name
        if not target.startswith("/"):
            target = f"/run/secrets/{target}"
        out.append((SecretRef(name=name, target=target), item.pos))
    return out


@dataclass(frozen=True)
class RawEnvFile:
    path: str
    required: bool
    pos: Pos


def parse_env_file(r: Report, n: Node, what: str) -> list[RawEnvFile] | None:
    """The env files in order (paths not yet checked against the repository)."""
    nodes = [n] if not n.is_list else [item for _, item in items(n)]
    out: list[RawEnvFile] = []
    for item in nodes:
        if isinstance(item.value, str):
            out.append(RawEnvFile(str(item.value), True, item.pos))
        elif item.is_map:
            f = check_keys(r, item, ("path", "required"), "an env_file entry", {"format": "remove it"})
            if "path" not in f:
                r.at(item.pos, "an env_file entry needs `path`")
                continue
            path = get_str(r, f["path"][1], "env_file path")
            required = get_bool(r, f["required"][1], "env_file required") if "required" in f else True
            if path is not None and required is not None:
                out.append(RawEnvFile(path, required, item.pos))
        else:
            r.at(item.pos, f"env_file must be a path or a list of paths, not {describe(item.value)}")
    return out


@dataclass(frozen=True)
class RawBuild:
    context: str
    context_pos: Pos
    dockerfile: str
    dockerfile_pos: Pos
    args: tuple[tuple[str, str], ...]
    target: str | None


BUILD_KEYS = ("context", "dockerfile", "args", "target")


def parse_build(r: Report, n: Node, what: str) -> RawBuild | None:
    """The build settings as written (paths not yet checked against the repository)."""
    if isinstance(n.value, str):
        return RawBuild(str(n.value), n.pos, "Dockerfile", n.pos, (), None)
    if not n.is_map:
        r.at(n.pos, f"build in {what} must be a directory or a mapping, not {describe(n.value)}")
        return None
    before = r.count()
    hint = "remove it; gitdeploy builds from the context and Dockerfile in the repository"
    f = check_keys(r, n, BUILD_KEYS, f"build of {what}", {k: hint for k in BUILD_UNSUPPORTED})
    context_pos = f["context"][1].pos if "context" in f else n.pos
    context = get_str(r, f["context"][1], "build.context") if "context" in f else "."
    dockerfile_pos = f["dockerfile"][1].pos if "dockerfile" in f else context_pos
    dockerfile = get_str(r, f["dockerfile"][1], "build.dockerfile") if "dockerfile" in f else "Dockerfile"
    args = parse_mapping_or_list(r, f["args"][1], "build.args", "args") if "args" in f else {}
    target = get_str(r, f["target"][1], "build.target") if "target" in f else None
    if r.count() != before or context is None or dockerfile is None or args is None:
        return None
    return RawBuild(
        context,
        context_pos,
        dockerfile,
        dockerfile_pos,
        tuple(sorted((k, v) for k, (v, _) in args.items())),
        target,
    )


BUILD_UNSUPPORTED = (
    "dockerfile_inline", "additional_contexts", "cache_from", "cache_to", "extra_hosts", "isolation",
    "labels", "network", "no_cache", "platforms", "privileged", "pull", "secrets", "shm_size", "ssh",
    "tags", "ulimits", "entitlements",
)  # fmt: skip
