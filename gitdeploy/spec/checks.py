"""Checks across services: dependencies and their cycles, host ports, secrets on this host."""

from __future__ import annotations

from dataclasses import dataclass

from gitdeploy.spec.fields import RawDep
from gitdeploy.spec.model import Dependency, Service
from gitdeploy.spec.mounts import PortEntry
from gitdeploy.spec.secrets import SecretStore
from gitdeploy.spec.shown import shown
from gitdeploy.spec.tree import Draft
from gitdeploy.spec.yamlnode import Pos, Report, did_you_mean

WILDCARD_IPS = ("", "0.0.0.0", "::")


def resolve_target(name: str, group: str, paths: set[str]) -> str | None:
    """The full path `name` refers to from inside `group`, or None when nothing matches.

    A name without '/' is a sibling in the same group first, then a top-level service; a name
    with '/' is a full path.
    """
    if "/" in name:
        return name if name in paths else None
    sibling = f"{group}/{name}" if group else name
    if sibling in paths:
        return sibling
    return name if name in paths else None


def resolve_dependencies(r: Report, drafts: list[Draft]) -> dict[str, tuple[tuple[Dependency, Pos], ...]]:
    """Every service's dependencies as full paths, each with the position of its entry."""
    paths = {d.path for d in drafts}
    out: dict[str, tuple[tuple[Dependency, Pos], ...]] = {}
    suggestions = 20  # each costs a comparison with every path: only for the first few mistakes
    for d in drafts:
        group = d.path.rsplit("/", 1)[0] if "/" in d.path else ""
        deps: list[tuple[Dependency, Pos]] = []
        seen: set[str] = set()
        raw: list[RawDep] = d.values.get("depends_on", [])
        for dep in raw:
            target = resolve_target(dep.name, group, paths)
            if target is None:
                suggestions -= 1
                r.at(
                    dep.pos,
                    f"service '{d.path}' depends on {shown(dep.name)}, which does not exist",
                    (did_you_mean(dep.name, paths) if suggestions >= 0 else "")
                    or "name a service of the same group, a top-level service or a full path",
                )
                continue
            if target in seen:
                r.at(dep.pos, f"service '{d.path}' depends on '{target}' twice")
                continue
            seen.add(target)
            deps.append((Dependency(service=target, condition=dep.condition), dep.pos))  # type: ignore[arg-type]
        out[d.path] = tuple(deps)
    return out


def report_cycles(r: Report, deps: dict[str, tuple[tuple[Dependency, Pos], ...]]) -> None:
    """Reports each dependency cycle once, as 'a -> b -> a', at the entry that starts it.

    A depth-first search with its own stack: chains of any length, no recursion limit.
    """
    order = list(deps)
    done: set[str] = set()
    reported: set[frozenset[str]] = set()
    for root in order:
        if root in done:
            continue
        stack: list[str] = [root]
        on_stack: dict[str, int] = {root: 0}  # path -> index in stack
        nexts: list[int] = [0]  # per stack entry: the next dependency to look at
        while stack:
            path = stack[-1]
            entries = deps.get(path, ())
            if nexts[-1] >= len(entries):
                done.add(path)
                del on_stack[path]
                stack.pop()
                nexts.pop()
                continue
            nxt = entries[nexts[-1]][0].service
            nexts[-1] += 1
            if nxt in on_stack:
                cycle = stack[on_stack[nxt]:]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    _report_cycle(r, cycle, deps, order)
            elif nxt not in done:
                on_stack[nxt] = len(stack)
                stack.append(nxt)
                nexts.append(0)


def _report_cycle(
    r: Report, cycle: list[str], deps: dict[str, tuple[tuple[Dependency, Pos], ...]], order: list[str]
) -> None:
    # Start the cycle at the service written first, so the message does not depend on traversal.
    first = min(cycle, key=order.index)
    i = cycle.index(first)
    cycle = cycle[i:] + cycle[:i]
    nxt = cycle[1] if len(cycle) > 1 else cycle[0]
    pos = next(p for d, p in deps[first] if d.service == nxt)
    shown_cycle = cycle if len(cycle) <= 12 else [*cycle[:6], f"({len(cycle) - 10:,} more)", *cycle[-4:]]
    text = " -> ".join([*shown_cycle, first])
    r.at(pos, f"dependency cycle: {text}", "remove one of these depends_on entries")


def report_unmeetable_health_conditions(
    r: Report, deps: dict[str, tuple[tuple[Dependency, Pos], ...]], built: list[Service]
) -> None:
    """`condition: service_healthy` on a service without a health check could never be met."""
    checked = {s.path for s in built if s.healthcheck is not None and s.healthcheck.test[:1] != ("NONE",)}
    for path, entries in deps.items():
        for dep, pos in entries:
            if dep.condition == "service_healthy" and dep.service not in checked:
                r.at(pos, f"service '{path}' waits for '{dep.service}' to be healthy, but it has no health check",
                     f"give '{dep.service}' a healthcheck, or use condition: service_started")


MAX_PORTS = 65_535  # ports in a whole spec, a range counting each of its ports


def limit_ports(r: Report, drafts: list[Draft]) -> None:
    """Reports the entry where the spec's ports pass MAX_PORTS and drops the ports from there
    on, before anything expands a range port by port."""
    total = 0
    for d in drafts:
        entries: list[tuple[PortEntry, Pos]] = d.values.get("ports", [])
        for i, (entry, pos) in enumerate(entries):
            total += entry.size
            if total > MAX_PORTS:
                r.at(pos, f"the spec declares more than {MAX_PORTS:,} ports (a range counts each of its ports)",
                     "publish fewer or shorter port ranges")
                d.values["ports"] = entries[:i]
                for rest in drafts[drafts.index(d) + 1:]:
                    rest.values.pop("ports", None)
                return


@dataclass(frozen=True)
class _Published:
    index: int  # in the order written
    path: str
    pos: Pos
    entry: PortEntry
    lo: int
    hi: int

    @property
    def wildcard(self) -> bool:
        return self.entry.host_ip in WILDCARD_IPS


def report_port_conflicts(
    r: Report, services: list[Service], port_pos: dict[str, list[tuple[PortEntry, Pos]]]
) -> None:
    """Reports host ports published twice (same ip+port+protocol, or a wildcard IP overlapping).

    Ranges are compared as intervals, sorted once: a range of 30,000 ports costs no more than
    one port.
    """
    published: list[_Published] = []
    for s in services:
        if s.replicas < 1:
            continue
        for entry, pos in port_pos.get(s.path, []):
            if entry.host is None:
                continue
            if s.replicas > 1:
                r.at(
                    pos,
                    f"service '{s.path}' publishes host port {_host(entry, entry.host[0])} but has {s.replicas} replicas",
                    "only one container can hold a host port: use replicas: 1, or publish no host port",
                )
            published.append(_Published(len(published), s.path, pos, entry, entry.host[0], entry.host[1]))
    reported: set[int] = set()
    for proto in sorted({p.entry.protocol for p in published}):
        # Sweep by first port: an entry overlaps an earlier-starting one exactly when the
        # latest-ending compatible one seen so far ends at or after its start.
        reach_by_ip: dict[str, _Published] = {}  # specific IP -> the one reaching furthest
        reach_wild: _Published | None = None
        reach_any: _Published | None = None
        for p in sorted((p for p in published if p.entry.protocol == proto), key=lambda p: (p.lo, p.index)):
            candidates = [reach_any] if p.wildcard else [reach_by_ip.get(p.entry.host_ip), reach_wild]
            hit = max((c for c in candidates if c is not None and c.hi >= p.lo), key=lambda c: c.hi, default=None)
            if hit is not None:
                later, earlier = (p, hit) if p.index > hit.index else (hit, p)
                if later.index not in reported:
                    reported.add(later.index)
                    where = "itself" if earlier.path == later.path else f"service '{earlier.path}'"
                    port = max(later.lo, earlier.lo)
                    r.at(later.pos, f"host port {_host(later.entry, port)} of service '{later.path}' "
                                    f"is already published by {where}", "publish a different host port")
            if reach_any is None or p.hi > reach_any.hi:
                reach_any = p
            if p.wildcard:
                if reach_wild is None or p.hi > reach_wild.hi:
                    reach_wild = p
            elif p.entry.host_ip not in reach_by_ip or p.hi > reach_by_ip[p.entry.host_ip].hi:
                reach_by_ip[p.entry.host_ip] = p


def _host(e: PortEntry, port: int) -> str:
    return f"{e.host_ip + ':' if e.host_ip else ''}{port}/{e.protocol}"


def report_missing_secrets(r: Report, drafts: list[Draft], secrets: SecretStore) -> None:
    """Reports every secret a service mounts that this host does not provide."""
    known: dict[str, bool] = {}
    for d in drafts:
        for ref, pos in d.values.get("secrets", []):
            if ref.name not in known:
                known[ref.name] = secrets.get(ref.name) is not None
            if not known[ref.name]:
                r.at(
                    pos,
                    f"secret '{ref.name}' of service '{d.path}' is not provided on this host",
                    f"put its value in {secrets.where(ref.name)}",
                )
