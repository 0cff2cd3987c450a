"""Checks across services: dependencies and their cycles, host ports, secrets on this host."""

from __future__ import annotations

from gitdeploy.spec.fields import RawDep
from gitdeploy.spec.model import Dependency, Port, Service
from gitdeploy.spec.secrets import SecretStore
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
    for d in drafts:
        group = d.path.rsplit("/", 1)[0] if "/" in d.path else ""
        deps: list[tuple[Dependency, Pos]] = []
        seen: set[str] = set()
        raw: list[RawDep] = d.values.get("depends_on", [])
        for dep in raw:
            target = resolve_target(dep.name, group, paths)
            if target is None:
                r.at(
                    dep.pos,
                    f"service '{d.path}' depends on '{dep.name}', which does not exist",
                    did_you_mean(dep.name, paths)
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
    """Reports each dependency cycle once, as 'a -> b -> a', at the entry that starts it."""
    order = list(deps)
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset[str]] = set()

    def visit(path: str, stack: list[str]) -> None:
        state[path] = 1
        stack.append(path)
        for dep, _ in deps.get(path, ()):
            nxt = dep.service
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    _report_cycle(r, cycle, deps, order)
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[path] = 2

    for path in order:
        if path not in state:
            visit(path, [])


def _report_cycle(
    r: Report, cycle: list[str], deps: dict[str, tuple[tuple[Dependency, Pos], ...]], order: list[str]
) -> None:
    # Start the cycle at the service written first, so the message does not depend on traversal.
    first = min(cycle, key=order.index)
    i = cycle.index(first)
    cycle = cycle[i:] + cycle[:i]
    nxt = cycle[1] if len(cycle) > 1 else cycle[0]
    pos = next(p for d, p in deps[first] if d.service == nxt)
    text = " -> ".join([*cycle, first])
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


def report_port_conflicts(
    r: Report, services: list[Service], port_pos: dict[str, list[tuple[Port, Pos]]]
) -> None:
    """Reports host ports published twice (same ip+port+protocol, or a wildcard IP overlapping)."""
    taken: list[tuple[Port, str]] = []
    for s in services:
        if s.replicas < 1:
            continue
        for port, pos in port_pos.get(s.path, []):
            if port.host is None:
                continue
            if s.replicas > 1:
                r.at(
                    pos,
                    f"service '{s.path}' publishes host port {_host(port)} but has {s.replicas} replicas",
                    "only one container can hold a host port: use replicas: 1, or publish no host port",
                )
            for other, owner in taken:
                if _overlap(port, other):
                    where = "itself" if owner == s.path else f"service '{owner}'"
                    r.at(
                        pos,
                        f"host port {_host(port)} of service '{s.path}' is already published by {where}",
                        "publish a different host port",
                    )
                    break
            taken.append((port, s.path))


def _host(p: Port) -> str:
    return f"{p.host_ip + ':' if p.host_ip else ''}{p.host}/{p.protocol}"


def _overlap(a: Port, b: Port) -> bool:
    if a.host != b.host or a.protocol != b.protocol:
        return False
    return a.host_ip == b.host_ip or a.host_ip in WILDCARD_IPS or b.host_ip in WILDCARD_IPS


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
