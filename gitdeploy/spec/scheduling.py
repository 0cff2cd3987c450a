"""How a service is scheduled: its `resources` (both engines) and, on a cluster, where its tasks
run (`placement`), how many (`mode`) and how other services reach them (`endpoint_mode`).

Which engine honours which key is decided here, once (`check_service`): a key the selected
engine cannot honour is refused by name where it is written, never silently ignored.
"""

from __future__ import annotations

import re
from typing import Any

from gitdeploy.spec.engines import DEFAULT_ENGINE, ENGINES, check_engine_name  # noqa: F401 - names used from here too
from gitdeploy.spec.fields import INT64_MAX, MAX_REPLICAS, get_int
from gitdeploy.spec.model import Amounts, Placement, Resources
from gitdeploy.spec.shown import shown
from gitdeploy.spec.yamlnode import Node, Pos, Report, check_keys, describe, did_you_mean, entries, items

# Swarm's constraint grammar (swarmkit's manager/constraint): a key, == or !=, a value.
# Patterns are compiled on first use (re caches them): a spec without placement or resources never
# pays for them at start-up.
_CONSTRAINT_RE = r"\s*(?P<attr>[^=!<>~\s]+)\s*(?P<op>==|!=)\s*(?P<value>.*?)\s*"  # re.S
_KEY_RE = r"[A-Za-z_][A-Za-z0-9_.-]+"
_VALUE_RE = r"[A-Za-z0-9:\-_\s.*()?+\[\]\\^$|/]+"
NODE_ATTRS = ("node.id", "node.hostname", "node.ip", "node.role", "node.platform.os", "node.platform.arch")
SPREAD_ATTRS = ("node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch")
LABEL_PREFIXES = ("node.labels.", "engine.labels.")
ROLES = ("manager", "worker")
MAX_CONSTRAINTS = 100  # per service: a hostile spec must not make a list of millions

MIN_NANO_CPUS = 10_000_000  # Docker's minimum: 0.01 CPU
MAX_CPUS = 4_096
MIN_MEMORY = 6 * 1024 * 1024  # Docker's minimum memory limit and reservation: 6 MiB
_CPUS_RE = r"[0-9]{0,40}(\.[0-9]{0,40})?"
# Docker's RAMInBytes (go-units): binary units, case-insensitive, an optional i and b.
_MEMORY_RE = r"(?P<num>[0-9]{1,20}(?:\.[0-9]{1,20})?) ?(?:(?P<unit>[kmgtp])i?)?b?"  # re.I
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
MEMORY_HINT = "write bytes with a unit: 512k, 256M, 1G (binary: 1M = 1,048,576 bytes)"

_RESOURCE_UNSUPPORTED = {k: "remove it; gitdeploy does not apply it" for k in ("pids", "devices", "generic_resources")}
MODES = ("replicated", "global")
ENDPOINT_MODES = ("vip", "dnsrr")


# -- parsers (the SERVICE_PARSERS signature: report, node, "service 'x'") --------------------


def parse_mode(r: Report, n: Node, what: str) -> str | None:
    if n.value in MODES:
        return str(n.value)
    r.at(n.pos, f"mode of {what} must be replicated or global, not {shown(n.value)}")
    return None


def parse_endpoint_mode(r: Report, n: Node, what: str) -> str | None:
    if n.value in ENDPOINT_MODES:
        return str(n.value)
    r.at(n.pos, f"endpoint_mode of {what} must be vip or dnsrr, not {shown(n.value)}",
         "vip: one virtual IP in front of the tasks; dnsrr: DNS answers with every task's address")
    return None


def parse_placement(r: Report, n: Node, what: str) -> Placement | None:
    """Constraints (normalised to `attr==value`), spread preferences and the per-node cap."""
    if not n.is_map:
        r.at(n.pos, f"placement of {what} must be a mapping, not {describe(n.value)}",
             "placement: {constraints: [node.role == worker], preferences: [{spread: node.labels.zone}]}")
        return None
    before = r.count()
    fields = check_keys(r, n, ("constraints", "preferences", "max_replicas_per_node"), f"placement of {what}",
                        {"platforms": "remove it; the image decides the platform"})
    constraints: list[str] = []
    if "constraints" in fields:
        for item in _bounded_list(r, fields["constraints"][1], "placement.constraints", "strings like node.role == worker"):
            if (c := parse_constraint(r, item)) is not None:
                constraints.append(c)
    preferences: list[str] = []
    if "preferences" in fields:
        for item in _bounded_list(r, fields["preferences"][1], "placement.preferences", "{spread: ATTRIBUTE} mappings"):
            if (p := _preference(r, item)) is not None:
                preferences.append(p)
    cap = 0
    if "max_replicas_per_node" in fields:
        cap = get_int(r, fields["max_replicas_per_node"][1], "placement.max_replicas_per_node", 0, MAX_REPLICAS) or 0
    if r.count() != before:
        return None
    return Placement(tuple(constraints), tuple(preferences), cap)


def _bounded_list(r: Report, n: Node, what: str, of: str) -> list[Node]:
    if not n.is_list:
        r.at(n.pos, f"{what} must be a list of {of}, not {describe(n.value)}")
        return []
    out = [item for _, item in items(n)]
    if len(out) > MAX_CONSTRAINTS:
        r.at(out[MAX_CONSTRAINTS].pos, f"{what} has more than {MAX_CONSTRAINTS} entries")
        return out[:MAX_CONSTRAINTS]
    return out


def parse_constraint(r: Report, n: Node) -> str | None:
    """`attr==value` or `attr!=value` for a constraint written `<attr> ==|!= <value>`."""
    text = n.value
    if not isinstance(text, str):
        r.at(n.pos, f"a placement constraint must be a string like node.role == worker, not {describe(text)}")
        return None
    m = re.fullmatch(_CONSTRAINT_RE, text, re.S) if len(text) <= 500 else None
    if m is None:
        r.at(n.pos, f"invalid placement constraint {shown(text)}",
             "write <attribute> == <value> or <attribute> != <value>, e.g. node.labels.zone == a")
        return None
    attr, op, value = m.group("attr"), m.group("op"), m.group("value")
    problem = _attribute_problem(attr, NODE_ATTRS)
    if problem is not None:
        r.at(n.pos, f"placement constraint {shown(text)}: {problem[0]}", problem[1])
        return None
    if not value or not re.fullmatch(_VALUE_RE, value):
        r.at(n.pos, f"placement constraint {shown(text)} has {'no value' if not value else 'an invalid value'}",
             "a value is letters, digits, spaces and : - _ . * ( ) ? + [ ] \\ ^ $ | /")
        return None
    if attr == "node.role" and value not in ROLES:
        r.at(n.pos, f"placement constraint {shown(text)}: node.role is manager or worker, not {shown(value)}")
        return None
    return f"{attr}{op}{value}"


def _preference(r: Report, n: Node) -> str | None:
    if not n.is_map:
        r.at(n.pos, f"a placement preference must be a mapping like {{spread: node.labels.zone}}, not {describe(n.value)}")
        return None
    before = r.count()
    fields = check_keys(r, n, ("spread",), "a placement preference")
    if "spread" not in fields:
        if r.count() == before:
            r.at(n.pos, "a placement preference has no `spread`", "e.g. - spread: node.labels.zone (the only strategy)")
        return None
    v = fields["spread"][1]
    if not isinstance(v.value, str):
        r.at(v.pos, f"spread must name a node attribute, not {describe(v.value)}")
        return None
    problem = _attribute_problem(v.value.strip(), SPREAD_ATTRS)
    if problem is not None:
        r.at(v.pos, f"spread over {shown(v.value)}: {problem[0]}", problem[1])
        return None
    return v.value.strip()


def _attribute_problem(attr: str, known: tuple[str, ...]) -> tuple[str, str] | None:
    """Why `attr` names no node attribute (message, hint), or None. Swarm accepts any key, but
    one it does not know never matches: the task would wait for a node forever."""
    for prefix in LABEL_PREFIXES:
        if attr.startswith(prefix):
            if re.fullmatch(_KEY_RE, attr) and len(attr) > len(prefix):
                return None
            return f"invalid label name after {shown(prefix)}", "labels are letters, digits, '.', '-' and '_'"
    if attr in known:
        return None
    return (f"unknown node attribute {shown(attr)}",
            did_you_mean(attr, known) or f"use one of {', '.join(known)}, node.labels.NAME or engine.labels.NAME")


def parse_resources(r: Report, n: Node, what: str) -> Resources | None:
    """Limits and reservations of CPUs and memory; a reservation never exceeds its limit."""
    if not n.is_map:
        r.at(n.pos, f"resources of {what} must be a mapping, not {describe(n.value)}",
             "resources: {limits: {cpus: '0.5', memory: 256M}}")
        return None
    before = r.count()
    fields = check_keys(r, n, ("limits", "reservations"), f"resources of {what}")
    got: dict[str, Amounts] = {}
    where: dict[tuple[str, str], Pos] = {}
    for key, (_, v) in fields.items():
        if not v.is_map:
            r.at(v.pos, f"resources.{key} must be a mapping like {{cpus: '0.5', memory: 256M}}, not {describe(v.value)}")
            continue
        amounts = check_keys(r, v, ("cpus", "memory"), f"resources.{key} of {what}", _RESOURCE_UNSUPPORTED)
        cpus = parse_cpus(r, amounts["cpus"][1], f"resources.{key}.cpus") if "cpus" in amounts else None
        memory = parse_memory(r, amounts["memory"][1], f"resources.{key}.memory") if "memory" in amounts else None
        got[key] = Amounts(cpus, memory)
        where |= {(key, k): p for k, (p, _) in amounts.items()}
    limits, reservations = got.get("limits", Amounts()), got.get("reservations", Amounts())
    for name, lim, res in (("cpus", limits.nano_cpus, reservations.nano_cpus),
                           ("memory", limits.memory, reservations.memory)):
        if lim is not None and res is not None and res > lim:
            r.at(where[("reservations", name)], f"resources.reservations.{name} of {what} is more than its limit",
                 f"reserve at most resources.limits.{name}")
    if r.count() != before or (limits == Amounts() and reservations == Amounts()):
        return None
    return Resources(limits, reservations)


def parse_cpus(r: Report, n: Node, what: str) -> int | None:
    """CPUs ("0.5", 2, 1.25) as nano-CPUs, exact, at least Docker's 0.01."""
    v = n.value
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        r.at(n.pos, f"{what} must be a number of CPUs like 0.5 or 2, not {describe(v)}")
        return None
    text = str(v).strip() if not isinstance(v, float) else repr(v)
    from decimal import Decimal, InvalidOperation  # only for a spec with resources (not at every start)

    try:
        amount = Decimal(text) if re.fullmatch(_CPUS_RE, text) and text not in ("", ".") else None
    except InvalidOperation:
        amount = None
    if amount is None:
        r.at(n.pos, f"{what} must be a number of CPUs like 0.5 or 2, not {shown(v)}")
        return None
    nano = amount * 10**9
    if nano != nano.to_integral_value():
        r.at(n.pos, f"{what} {shown(v)} is too precise", "at most 9 decimal places")
        return None
    if not MIN_NANO_CPUS <= nano <= MAX_CPUS * 10**9:
        r.at(n.pos, f"{what} must be between 0.01 and {MAX_CPUS:,}, not {shown(v)}")
        return None
    return int(nano)


def parse_memory(r: Report, n: Node, what: str) -> int | None:
    """Memory ("256M", "1G", "512k", or a number of bytes) in bytes, at least Docker's 6 MiB."""
    v = n.value
    if isinstance(v, bool) or not isinstance(v, int | str):
        r.at(n.pos, f"{what} must be bytes with a unit like 256M, not {describe(v)}", MEMORY_HINT)
        return None
    if isinstance(v, int):
        size = v
    else:
        m = re.fullmatch(_MEMORY_RE, v.strip(), re.I) if len(v) <= 60 else None
        if m is None:
            r.at(n.pos, f"invalid memory size {shown(v)} in {what}", MEMORY_HINT)
            return None
        from decimal import Decimal

        size = int(Decimal(m.group("num")) * _UNITS[(m.group("unit") or "").lower()])
    if size < MIN_MEMORY:
        r.at(n.pos, f"{what} must be at least 6M (Docker's minimum), not {shown(v)}", MEMORY_HINT)
        return None
    if size > INT64_MAX:
        r.at(n.pos, f"{what} {shown(v)} is too large", MEMORY_HINT)
        return None
    return size


# -- across the keys of one service, for the selected engine -------------------------------

SWARM_HINT = "validate and deploy with --engine swarm (or GITDEPLOY_ENGINE=swarm), or remove it"


def check_service(r: Report, found: dict[str, tuple[Pos, Node]], values: dict[str, Any], what: str,
                  engine: str) -> None:
    """Reports what `engine` cannot honour, by name, and `mode: global` with `replicas`."""
    mode = found.get("mode")
    if values.get("mode") == "global" and "replicas" in found:
        r.at(found["replicas"][0], f"{what} has `mode: global` and `replicas`",
             "remove `replicas`: a global service runs one task on every node")
    if engine == "swarm":
        for key, kpos in _keys_of(found.get("rollout"), ("canary", "drain")):
            r.at(kpos, f"rollout.{key} is honoured only by the docker engine, not by the swarm engine ({what}): "
                       "Swarm's update config has no canary and no drain",
                 "remove it; on a cluster `parallelism`, `order` and `monitor` shape the update")
        for entry, pos in values.get("ports") or []:
            bound = [p for p in entry.ports() if p.host is not None and p.host_ip]
            if bound:
                r.at(pos, f"port {bound[0]} is bound to {bound[0].host_ip}, which the swarm engine cannot "
                          f"honour: a service publishes on every node's addresses ({what})",
                     "drop the address (publish on all of them) or put a proxy in front")
        return
    for key in ("placement", "endpoint_mode"):
        if key in found:
            r.at(found[key][0], f"{key} is honoured only by the swarm engine (--engine swarm), "
                                f"not by the {engine} engine ({what})", SWARM_HINT)
    if mode is not None and mode[1].value == "global":
        r.at(mode[1].pos, f"mode: global is honoured only by the swarm engine (--engine swarm), "
                          f"not by the {engine} engine ({what})",
             "use replicas on the docker engine, or validate and deploy with --engine swarm")
    reservation_cpus = _reservation_cpus(found.get("resources"))
    if reservation_cpus is not None:
        r.at(reservation_cpus, f"resources.reservations.cpus is honoured only by the swarm engine "
                               f"(--engine swarm): one Docker Engine has no CPU reservation ({what})",
             "use resources.limits.cpus, or validate and deploy with --engine swarm")


def _keys_of(entry: tuple[Pos, Node] | None, keys: tuple[str, ...]) -> list[tuple[str, Pos]]:
    """The positions of `keys` written in the mapping `entry` (none when it is not a mapping)."""
    if entry is None or not entry[1].is_map:
        return []
    return [(k, kpos) for k, kpos, _ in entries(entry[1]) if k in keys]


def _reservation_cpus(entry: tuple[Pos, Node] | None) -> Pos | None:
    if entry is None or not entry[1].is_map:
        return None
    for key, _, v in entries(entry[1]):
        if key == "reservations" and v.is_map:
            for k, kpos, _ in entries(v):
                if k == "cpus":
                    return kpos
    return None
