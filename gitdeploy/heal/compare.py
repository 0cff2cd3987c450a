"""Compare one live container (from `docker inspect` and `docker diff`) with its definition.

Pure functions over plain dicts. What the engine adds on its own is expected precisely, never
ignored wholesale: the image's environment, command, user, working directory, labels and
anonymous volumes; the `GITDEPLOY_REPLICA` variable with the container's own replica index;
the mount points, working directory and `/sbin/docker-init` the engine creates in the
container's file system - as the directories themselves, never what is put inside them.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitdeploy.live import labels
from gitdeploy.live.model import FileChange
from gitdeploy.live.resources import host_resources, swap_as_created
from gitdeploy.spec.identity import Desired

REPLICA_ENV = "GITDEPLOY_REPLICA"  # set by the engine edge (live/engine.py), outside the definition
DOCKER_INIT = "/sbin/docker-init"
DIFF_KINDS = {0: "C", 1: "A", 2: "D"}

# HostConfig settings gitdeploy sets only from `resources` (live.resources): any other value is
# drift (docker update, by hand); MemorySwap is the engine's own default for the memory limit.
RESOURCES: tuple[tuple[str, str], ...] = (
    ("Memory", "memory"),
    ("MemorySwap", "memory_swap"),
    ("MemoryReservation", "memory_reservation"),
    ("NanoCpus", "cpus"),
    ("CpuShares", "cpu_shares"),
    ("CpuQuota", "cpu_quota"),
    ("CpuPeriod", "cpu_period"),
    ("CpuRealtimeRuntime", "cpu_rt_runtime"),
    ("CpusetCpus", "cpuset_cpus"),
    ("CpusetMems", "cpuset_mems"),
    ("PidsLimit", "pids_limit"),
    ("BlkioWeight", "blkio_weight"),
    ("KernelMemory", "kernel_memory"),
)
# Privileges gitdeploy never grants, and host namespaces it never shares.
PRIVILEGES: tuple[tuple[str, str], ...] = (
    ("Privileged", "privileged"), ("CapAdd", "cap_add"), ("Devices", "devices"), ("SecurityOpt", "security_opt"),
)
HOST_NAMESPACES: tuple[tuple[str, str], ...] = (
    ("PidMode", "pid_mode"), ("IpcMode", "ipc_mode"), ("UsernsMode", "userns_mode"), ("UTSMode", "uts_mode"),
    ("NetworkMode", "network_mode"),
)

Field = tuple[str, str, str]  # (field, expected, actual)


def config_differences(
    d: Desired, replica: int, info: Mapping[str, Any], image: Mapping[str, Any] | None,
    system: str, env: str, file_digest: Callable[[str], str | None] = lambda _: None,
) -> tuple[Field | None, list[Field]]:
    """(image difference or None, configuration differences) between `info` and `d`.

    `info` is the container's inspect, `image` the resolved image's `Config` (None: unknown),
    `file_digest(host_path)` the sha256 of a bind-mounted host file when it can be read here.
    """
    cfg = info.get("Config") or {}
    host = info.get("HostConfig") or {}
    img = dict(image or {})
    s = d.service
    image_diff = None
    if info.get("Image") != d.image_id:
        image_diff = ("image", f"{d.definition.get('image')} ({_short(d.image_id)})", _short(info.get("Image") or ""))
    out: list[Field] = []

    # command and entrypoint, merged with the image's the way the engine does at create
    ent = list(s.entrypoint) if s.entrypoint is not None else None
    cmd = list(s.command) if s.command is not None else None
    if not ent:
        if not cmd:
            cmd = img.get("Cmd")
        if ent is None:
            ent = img.get("Entrypoint")
    _cmp(out, "entrypoint", ent or [], cfg.get("Entrypoint") or [])
    _cmp(out, "command", cmd or [], cfg.get("Cmd") or [])

    # environment: the image's, overridden by the spec's, plus this replica's index
    want = _env(img.get("Env")) | dict(s.environment)
    have = _env(cfg.get("Env"))
    if have.get(REPLICA_ENV) == str(replica) and REPLICA_ENV not in want:
        del have[REPLICA_ENV]
    for k in sorted(set(want) | set(have)):
        if want.get(k) != have.get(k):
            out.append((f"environment.{k}", _opt(want.get(k)), _opt(have.get(k))))

    _cmp(out, "user", s.user if s.user is not None else img.get("User") or "", cfg.get("User") or "")
    _cmp(out, "working_dir", s.working_dir if s.working_dir is not None else img.get("WorkingDir") or "",
         cfg.get("WorkingDir") or "")
    _cmp(out, "healthcheck", _health_expected(d, img), _health(cfg.get("Healthcheck")))
    _cmp(out, "stop_grace_period", max(1, int(round(s.stop_grace_period))), cfg.get("StopTimeout"))
    if s.init is None:
        if host.get("Init"):
            out.append(("init", "(engine default)", "true"))
    else:
        _cmp(out, "init", s.init, bool(host.get("Init")))
    _cmp(out, "restart", _restart_expected(s.restart), _restart_actual(host.get("RestartPolicy")))

    # published ports
    want_ports = sorted(_port_str(p.host_ip, str(p.host), f"{p.container}/{p.protocol}")
                        for p in s.ports if p.host is not None)
    have_ports = sorted(_port_str(b.get("HostIp") or "", str(b.get("HostPort") or ""), key)
                        for key, bindings in (host.get("PortBindings") or {}).items() for b in bindings or [])
    _cmp(out, "ports", want_ports, have_ports)

    # mounts, by target
    want_m = _mounts_expected(d, img, system, env)
    have_m = {m.get("Destination", ""): m for m in info.get("Mounts") or []}
    for target in sorted(set(want_m) | set(have_m)):
        w, m = want_m.get(target), have_m.get(target)
        h = _mount_str(m, w) if m else None
        if w != h:
            out.append((f"mounts.{target}", w or "(none)", h or "(none)"))
        elif m and m.get("Type") == "bind" and w and w.startswith("config "):
            seen = file_digest(m.get("Source", ""))
            digest = posixpath.basename(m.get("Source", ""))
            if seen is not None and seen != digest:
                out.append((f"mounts.{target}", f"contents sha256 {digest[:12]}",
                            f"contents sha256 {seen[:12]} (the file on the host was changed)"))

    # labels: the image's and the spec's exactly; gitdeploy's own definition label
    want_l = dict(img.get("Labels") or {}) | dict(s.labels)
    have_l = dict(cfg.get("Labels") or {})
    for k in sorted(set(want_l) | {k for k in have_l if not k.startswith(labels.PREFIX)}):
        if want_l.get(k) != have_l.get(k):
            out.append((f"labels.{k}", _opt(want_l.get(k)), _opt(have_l.get(k))))
    if have_l.get(labels.DEFINITION) != d.definition_json():
        out.append((f"labels.{labels.DEFINITION}", "the deployed definition", "another definition"))

    want_res = host_resources(d.definition)  # what create sent; every other setting is unset
    for key, name in RESOURCES:
        v, w = host.get(key), want_res.get(key)
        if key == "MemorySwap":
            if not swap_as_created(want_res.get("Memory"), v):
                out.append((f"resources.{name}", "(engine default)", _resource(key, v)))
        elif w is not None and v != w:
            out.append((f"resources.{name}", _resource(key, w), _resource(key, v)))
        elif w is None and v not in (None, 0, ""):
            out.append((f"resources.{name}", "(unset)", _resource(key, v)))
    for key, name in PRIVILEGES:
        if host.get(key) not in (None, False, "", []):
            out.append((name, "(none)", _show(host.get(key))))
    for key, name in HOST_NAMESPACES:
        if host.get(key) == "host":
            out.append((name, "(the container's own)", "host"))
    return image_diff, out


def tampered_paths(d: Desired, info: Mapping[str, Any], changes: Sequence[FileChange] | None) -> list[str]:
    """File changes (`docker diff`) that nothing declared explains, as "A /etc/x", sorted by path."""
    s = d.service
    subtrees = {v.target for v in s.volumes} | set(s.drift_ignore) | set(
        (info.get("Config") or {}).get("Volumes") or {})  # anonymous volumes of the image
    points = {c.target for c in s.configs} | {x.target for x in s.secrets}
    wd = (info.get("Config") or {}).get("WorkingDir") or ""
    if wd:
        points.add(posixpath.normpath(wd))
    if (info.get("HostConfig") or {}).get("Init"):
        points.add(DOCKER_INIT)
    created = set(points)  # mount points, the working dir and docker-init are made by the engine
    for p in list(points | subtrees):
        parent = posixpath.dirname(p)
        while parent not in ("/", ""):
            created.add(parent)
            parent = posixpath.dirname(parent)
    out = []
    for ch in changes or []:
        path, kind = ch.path, DIFF_KINDS.get(ch.kind, "?")
        if any(path == t or path.startswith(t.rstrip("/") + "/") for t in subtrees):
            continue
        if path in created and kind in ("A", "C"):
            continue
        out.append(f"{kind} {path}")
    return sorted(out, key=lambda e: e[2:])


def file_sha256(path: str) -> str | None:
    """The sha256 of a file on this host, or None when it cannot be read (remote engine)."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


# -- helpers ---------------------------------------------------------------------------------

def _mounts_expected(d: Desired, img: Mapping[str, Any], system: str, env: str) -> dict[str, str]:
    s = d.service
    out = {t: "volume (anonymous, from the image) rw" for t in (img.get("Volumes") or {})}
    for c in s.configs:
        out[c.target] = f"config {c.source} @{c.digest[:12]} ro"
    fps = {t: v.get("fingerprint", "") for t, v in (d.definition.get("secrets") or {}).items()}
    for x in s.secrets:
        out[x.target] = f"secret {x.name} @{fps.get(x.target, '')[:12]} ro"
    for v in s.volumes:
        out[v.target] = f"volume {system}.{env}.{v.source} {'ro' if v.read_only else 'rw'}"
    return out


def _mount_str(m: Mapping[str, Any], expected: str | None) -> str:
    """The mount in the words of `_mounts_expected`, so equal means equal."""
    rw = "rw" if m.get("RW") else "ro"
    if m.get("Type") == "volume":
        name = m.get("Name") or ""
        if expected and expected.startswith("volume (anonymous") and len(name) == 64:
            return f"volume (anonymous, from the image) {rw}"
        return f"volume {name} {rw}"
    if m.get("Type") == "bind":
        digest = posixpath.basename(m.get("Source") or "")
        if expected and expected.startswith(("config ", "secret ")):
            word, name, _ = expected.split(" ", 2)
            return f"{word} {name} @{digest[:12]} {rw}"
        return f"bind {m.get('Source')} {rw}"
    return f"{m.get('Type')} {m.get('Source') or m.get('Name') or ''} {rw}"


def _health_expected(d: Desired, img: Mapping[str, Any]) -> dict[str, Any] | None:
    h = d.service.healthcheck
    if h is None:
        return _health(img.get("Healthcheck"))
    return _health({"Test": list(h.test), "Interval": int(h.interval * 1e9), "Timeout": int(h.timeout * 1e9),
                    "Retries": h.retries, "StartPeriod": int(h.start_period * 1e9)})


def _health(h: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not h or not h.get("Test"):
        return None
    return {"test": list(h["Test"]), "interval": h.get("Interval") or 0, "timeout": h.get("Timeout") or 0,
            "retries": h.get("Retries") or 0, "start_period": h.get("StartPeriod") or 0}


def _restart_expected(restart: str) -> str:
    if restart in ("no", ""):
        return "no"
    if restart.startswith("on-failure"):
        _, _, n = restart.partition(":")
        return f"on-failure:{int(n or 0)}"
    return restart


def _restart_actual(p: Mapping[str, Any] | None) -> str:
    name = (p or {}).get("Name") or "no"
    return f"on-failure:{(p or {}).get('MaximumRetryCount') or 0}" if name == "on-failure" else name


def _env(entries: Sequence[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in entries or []:
        k, sep, v = e.partition("=")
        out[k] = v if sep else ""
    return out


def _port_str(ip: str, host: str, key: str) -> str:
    return f"{ip + ':' if ip else ''}{host}->{key}"


def _cmp(out: list[Field], name: str, want: Any, have: Any) -> None:
    if want != have:
        out.append((name, _show(want), _show(have)))


def _opt(v: str | None) -> str:
    return "(unset)" if v is None else v


def _show(v: Any) -> str:
    if v is None or v == [] or v == "":
        return "(none)"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, sort_keys=True)


def _resource(key: str, v: Any) -> str:
    if key in ("Memory", "MemorySwap", "MemoryReservation", "KernelMemory") and isinstance(v, int):
        return "-1 (unlimited)" if v == -1 else f"{v} ({_bytes(v)})"
    if key == "NanoCpus" and isinstance(v, int):
        return f"{v / 1e9:g}"
    return _show(v)


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} B"


def _short(image_id: str) -> str:
    return image_id[:19] if image_id.startswith("sha256:") else image_id[:12]
