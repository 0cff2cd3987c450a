"""Compare one live container (from `docker inspect` and `docker diff`) with its definition.

Pure functions over plain dicts. The expected side is what `live.container_config.config_for`
builds (what the engine was asked to create), merged with the image the way the engine merges
it at create. What the engine adds on its own is expected precisely, never ignored wholesale: the
image's environment, command, user, working directory, labels and anonymous volumes; the mount
points, working directory and `/sbin/docker-init` the engine creates in the container's file
system - as the directories themselves, never what is put inside them.
"""

from __future__ import annotations

import hashlib
import json
import operator
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitdeploy.live import labels
from gitdeploy.live.container_config import config_for
from gitdeploy.live.model import FileChange
from gitdeploy.live.resources import swap_as_created
from gitdeploy.spec.identity import Desired

DOCKER_INIT = "/sbin/docker-init"
DIFF_KINDS = {0: "C", 1: "A", 2: "D"}
ANONYMOUS = "(anonymous, from the image)"

Field = tuple[str, str, str]  # (field, expected, actual)


def _show(v: Any) -> str:
    if v is None or v == [] or v == "":
        return "(none)"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, sort_keys=True)


def _opt(v: str | None) -> str:
    return "(unset)" if v is None else v


@dataclass(frozen=True)
class Row:
    """One setting: its expected value from (create body, image config), its value in the inspect.

    `same(want, have)` says when they agree; `show_*` word each side for the drift.
    """

    field: str
    want: Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
    have: Callable[[Mapping[str, Any]], Any]
    same: Callable[[Any, Any], bool] = operator.eq
    show_want: Callable[[Any], str] = _show
    show_have: Callable[[Any], str] = _show


@dataclass(frozen=True)
class Keyed:
    """A mapping compared key by key (`environment.LEVEL`)."""

    field: str
    want: Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, str]]
    have: Callable[[Mapping[str, Any]], Mapping[str, str]]


def _cfg(info: Mapping[str, Any]) -> Mapping[str, Any]:
    return info.get("Config") or {}


def _host(info: Mapping[str, Any]) -> Mapping[str, Any]:
    return info.get("HostConfig") or {}


def _run(body: Mapping[str, Any], img: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(entrypoint, command) after the engine merged the image's: an entrypoint given drops the
    image's command; none given keeps the image's entrypoint."""
    ent, cmd = body.get("Entrypoint"), body.get("Cmd")
    if not ent:
        if not cmd:
            cmd = img.get("Cmd")
        if ent is None:
            ent = img.get("Entrypoint")
    return ent or [], cmd or []


def _env(entries: Sequence[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in entries or []:
        k, sep, v = e.partition("=")
        out[k] = v if sep else ""
    return out


def _health(h: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not h or not h.get("Test"):
        return None
    return {"test": list(h["Test"]), "interval": h.get("Interval") or 0, "timeout": h.get("Timeout") or 0,
            "retries": h.get("Retries") or 0, "start_period": h.get("StartPeriod") or 0}


def _merged_health(h: Mapping[str, Any] | None, image: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The health check the engine makes at create: each unset (empty, 0) field is the image's."""
    if h is None or image is None:
        return h or image
    return {k: v or image.get(k) for k, v in h.items()}


def _restart(p: Mapping[str, Any] | None) -> str:
    name = (p or {}).get("Name") or "no"
    return f"on-failure:{(p or {}).get('MaximumRetryCount') or 0}" if name == "on-failure" else name


def _ports(bindings: Mapping[str, Any] | None) -> list[str]:
    return sorted(f"{b.get('HostIp') + ':' if b.get('HostIp') else ''}{b.get('HostPort') or ''}->{key}"
                  for key, bs in (bindings or {}).items() for b in bs or [])


def _own(lab: Mapping[str, str] | None) -> dict[str, str]:
    """Labels that are not gitdeploy's own (those say which container this is, not what it runs)."""
    return {k: v for k, v in (lab or {}).items() if not k.startswith(labels.PREFIX)}


def _unset(v: Any) -> bool:
    return v in (None, 0, "", False, [])


def _resource(key: str) -> Callable[[Any], str]:
    def show(v: Any) -> str:
        if key in ("Memory", "MemorySwap", "MemoryReservation", "KernelMemory") and isinstance(v, int):
            return "-1 (unlimited)" if v == -1 else f"{v} ({_bytes(v)})"
        if key == "NanoCpus" and isinstance(v, int):
            return f"{v / 1e9:g}"
        return _show(v)
    return show


def _host_setting(field: str, key: str, unset_word: str, show: Callable[[Any], str] = _show) -> Row:
    """A HostConfig setting the create body leaves to the engine: any value but unset is drift
    (`docker update`, by hand) - or, were the body to set it, any other value."""
    return Row(field, lambda b, _: (b.get("HostConfig") or {}).get(key), lambda i: _host(i).get(key),
               same=lambda w, h: w == h if w is not None else _unset(h),
               show_want=lambda w: unset_word if w is None else show(w), show_have=show)


def _host_namespace(field: str, key: str) -> Row:
    """A namespace of the host (`host`) shared with the container: gitdeploy never asks for one."""
    return Row(field, lambda b, _: None, lambda i: _host(i).get(key), same=lambda _, h: h != "host",
               show_want=lambda _: "(the container's own)")


# HostConfig settings gitdeploy sets only from `resources` (live.resources): any other value is
# drift (docker update, by hand); MemorySwap is the engine's own default for the memory limit.
RESOURCES: tuple[tuple[str, str], ...] = (
    ("Memory", "memory"),
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

# The settings compared, in the order drifts are reported (mounts come after the ports).
SETTINGS: tuple[Row | Keyed, ...] = (
    Row("entrypoint", lambda b, img: _run(b, img)[0], lambda i: _cfg(i).get("Entrypoint") or []),
    Row("command", lambda b, img: _run(b, img)[1], lambda i: _cfg(i).get("Cmd") or []),
    Keyed("environment", lambda b, img: _env(img.get("Env")) | _env(b.get("Env")), lambda i: _env(_cfg(i).get("Env"))),
    # an empty user or working dir is the image's (the engine fills it in at create)
    Row("user", lambda b, img: b.get("User") or img.get("User") or "", lambda i: _cfg(i).get("User") or ""),
    Row("working_dir", lambda b, img: b.get("WorkingDir") or img.get("WorkingDir") or "",
        lambda i: _cfg(i).get("WorkingDir") or ""),
    Row("healthcheck", lambda b, img: _health(_merged_health(b.get("Healthcheck"), img.get("Healthcheck"))),
        lambda i: _health(_cfg(i).get("Healthcheck"))),
    Row("stop_grace_period", lambda b, _: b.get("StopTimeout"), lambda i: _cfg(i).get("StopTimeout")),
    Row("init", lambda b, _: b["HostConfig"].get("Init"), lambda i: bool(_host(i).get("Init")),
        same=lambda w, h: bool(w) == h, show_want=lambda w: "(engine default)" if w is None else _show(w)),
    Row("restart", lambda b, _: _restart(b["HostConfig"].get("RestartPolicy")),
        lambda i: _restart(_host(i).get("RestartPolicy"))),
    Row("ports", lambda b, _: _ports(b["HostConfig"].get("PortBindings")), lambda i: _ports(_host(i).get("PortBindings"))),
)
OWNERSHIP: tuple[Row | Keyed, ...] = (
    Keyed("labels", lambda b, img: _own(img.get("Labels")) | _own(b.get("Labels")), lambda i: _own(_cfg(i).get("Labels"))),
    Row(f"labels.{labels.DEFINITION}", lambda b, _: b["Labels"][labels.DEFINITION],
        lambda i: (_cfg(i).get("Labels") or {}).get(labels.DEFINITION),
        show_want=lambda _: "the deployed definition", show_have=lambda _: "another definition"),
    *(_host_setting(f"resources.{name}", key, "(unset)", _resource(key)) for key, name in RESOURCES),
    # the engine's own swap for the memory limit the body sets (twice it, or -1 without swap accounting)
    Row("resources.memory_swap", lambda b, _: (b.get("HostConfig") or {}).get("Memory"),
        lambda i: _host(i).get("MemorySwap"), same=swap_as_created, show_want=lambda _: "(engine default)",
        show_have=_resource("MemorySwap")),
    *(_host_setting(name, key, "(none)") for key, name in PRIVILEGES),
    *(_host_namespace(name, key) for key, name in HOST_NAMESPACES),
)


def config_differences(
    d: Desired, replica: int, info: Mapping[str, Any], image: Mapping[str, Any] | None,
    system: str, env: str, file_digest: Callable[[str], str | None] = lambda _: None,
) -> tuple[Field | None, list[Field]]:
    """(image difference or None, configuration differences) between `info` and `d`.

    `info` is the container's inspect, `image` the resolved image's `Config` (None: unknown),
    `file_digest(host_path)` the sha256 of a bind-mounted host file when it can be read here.
    The expected side is replica `replica`'s create body (`config_for`).
    """
    # bind-mounted files are matched by name (their digest): where the data dir is does not matter
    body = config_for(d, system, env, replica, commit="", aliases=(), data_dir="/")
    img = dict(image or {})
    image_diff = None
    if info.get("Image") != body["Image"]:
        image_diff = ("image", f"{d.definition.get('image')} ({_short(d.image_id)})", _short(info.get("Image") or ""))
    out = _compare(SETTINGS, body, img, info)
    out += _mount_differences(d, body, img, info, file_digest)
    out += _compare(OWNERSHIP, body, img, info)
    return image_diff, out


def _compare(rows: Sequence[Row | Keyed], body: Mapping[str, Any], img: Mapping[str, Any],
             info: Mapping[str, Any]) -> list[Field]:
    out: list[Field] = []
    for row in rows:
        want, have = row.want(body, img), row.have(info)
        if isinstance(row, Keyed):
            out += [(f"{row.field}.{k}", _opt(want.get(k)), _opt(have.get(k)))
                    for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]
        elif not row.same(want, have):
            out.append((row.field, row.show_want(want), row.show_have(have)))
    return out


def _mount_differences(d: Desired, body: Mapping[str, Any], img: Mapping[str, Any], info: Mapping[str, Any],
                       file_digest: Callable[[str], str | None]) -> list[Field]:
    """Mounts by target, worded by what each is (config, secret, volume); a bind-mounted config
    whose file on the host no longer has its digest is drift too."""
    roles = {t: ("config", c["source"]) for t, c in d.definition["configs"].items()} | {
        t: ("secret", x["name"]) for t, x in d.definition["secrets"].items()}
    want = {t: f"volume {ANONYMOUS} rw" for t in img.get("Volumes") or {}} | {
        m["Target"]: _mount_words(m["Type"], m["Source"], not m["ReadOnly"], roles.get(m["Target"]))
        for m in body["HostConfig"].get("Mounts") or ()}
    have = {m.get("Destination", ""): m for m in info.get("Mounts") or []}
    out: list[Field] = []
    for target in sorted(set(want) | set(have)):
        w, m = want.get(target), have.get(target)
        h = _inspected_mount(m, w, roles.get(target)) if m else None
        if w != h:
            out.append((f"mounts.{target}", w or "(none)", h or "(none)"))
        elif m and roles.get(target, ("",))[0] == "config":
            out += _changed_file(target, m.get("Source") or "", file_digest)
    return out


def _changed_file(target: str, source: str, file_digest: Callable[[str], str | None]) -> list[Field]:
    """A content-addressed host file (named by its sha256) whose contents were changed."""
    seen, digest = file_digest(source), posixpath.basename(source)
    if seen is None or seen == digest:
        return []
    return [(f"mounts.{target}", f"contents sha256 {digest[:12]}",
             f"contents sha256 {seen[:12]} (the file on the host was changed)")]


def _mount_words(type_: str, source: str, rw: bool, role: tuple[str, str] | None) -> str:
    """A mount in words: `config app.conf @1a2b3c4d5e6f ro`, `volume sys.prod.data rw`."""
    mode = "rw" if rw else "ro"
    if type_ == "volume":
        return f"volume {source} {mode}"
    if type_ == "bind" and role:
        return f"{role[0]} {role[1]} @{posixpath.basename(source)[:12]} {mode}"
    return f"{type_} {source} {mode}"


def _inspected_mount(m: Mapping[str, Any], expected: str | None, role: tuple[str, str] | None) -> str:
    """An inspected mount in the words of `_mount_words`, so equal means equal."""
    name = m.get("Name") or ""
    if m.get("Type") == "volume" and (expected or "").startswith(f"volume {ANONYMOUS}") and len(name) == 64:
        name = ANONYMOUS
    source = name if m.get("Type") == "volume" else m.get("Source") or name
    return _mount_words(m.get("Type") or "", source, bool(m.get("RW")), role)


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

def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} B"


def _short(image_id: str) -> str:
    return image_id[:19] if image_id.startswith("sha256:") else image_id[:12]
