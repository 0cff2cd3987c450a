"""Loading `gitdeploy.yaml` from a spec source into a `Spec`, reporting every problem at once.

load_spec(source, secrets, engine)      -> Spec, or raises SpecInvalid listing all problems
validate_spec(source, secrets, engine)  -> [Problem, ...] (empty when the spec is valid)

`engine` ("docker", the default, or "swarm") is the engine the spec is meant for: keys it
cannot honour are problems (see gitdeploy.spec.scheduling).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from gitdeploy.errors import Problem, SpecInvalid
from gitdeploy.spec import checks
from gitdeploy.spec.assemble import assemble
from gitdeploy.spec.fields import get_int, get_name, get_str
from gitdeploy.spec.model import Service, Spec
from gitdeploy.spec.names import alias_collisions, name_problem
from gitdeploy.spec.repofiles import repo_path
from gitdeploy.spec.scheduling import DEFAULT_ENGINE, check_engine_name
from gitdeploy.spec.secrets import SecretStore
from gitdeploy.spec.shown import shown
from gitdeploy.spec.source import SPEC_FILE, SpecSource
from gitdeploy.spec.tree import Draft, read_tree
from gitdeploy.spec.yamlnode import Node, Pos, Report, check_keys, describe, entries, read_yaml

MAX_BYTES = 4 * 1024 * 1024  # gitdeploy.yaml; 5,000 services take about 1 MiB
TOP_KEYS = ("system", "services", "groups", "keep", "configs", "secrets", "volumes")
UNSUPPORTED_TOP_KEYS = {
    "version": "remove it; gitdeploy.yaml has no version",
    "name": "use `system: NAME`",
    "networks": "remove it; every system gets its own network",
    "include": "put everything in gitdeploy.yaml; use groups to organise it",
    "models": "remove it",
}
NOT_IN_REPO = "remove it; declare the file with `file: PATH` (a file of the repository)"


def load_spec(source: SpecSource, secrets: SecretStore | None = None, engine: str = DEFAULT_ENGINE) -> Spec:
    """The spec of `source` for `engine`. Raises SpecInvalid listing every problem when there is any."""
    spec, problems = _load(source, secrets, engine)
    if problems or spec is None:
        raise SpecInvalid(problems)
    return spec


def validate_spec(
    source: SpecSource, secrets: SecretStore | None = None, engine: str = DEFAULT_ENGINE
) -> list[Problem]:
    """Every problem of the spec in `source` for `engine`, sorted by file and position (empty when valid)."""
    return _load(source, secrets, engine)[1]


def _load(source: SpecSource, secrets: SecretStore | None, engine: str) -> tuple[Spec | None, list[Problem]]:
    check_engine_name(engine)
    r = Report(SPEC_FILE)
    spec, problems = _load_unsorted(r, source, secrets, engine)
    problems.sort(key=lambda p: (p.file != SPEC_FILE, p.file, p.line, p.column))
    if r.dropped:
        problems.append(Problem(f"and {r.dropped:,} more problems (only the first {len(problems):,} are listed)"))
    return spec, problems


def _load_unsorted(
    r: Report, source: SpecSource, secrets: SecretStore | None, engine: str
) -> tuple[Spec | None, list[Problem]]:
    try:
        data = source.read(SPEC_FILE)
    except FileNotFoundError:
        r.at(
            (0, 0),
            f"there is no {SPEC_FILE} at the root of the {source.label}",
            "create one (`gitdeploy init`, or `gitdeploy import` from a docker-compose.yml) and commit it",
        )
        return None, r.problems
    if len(data) > MAX_BYTES:
        r.at(byte_position(data, MAX_BYTES), f"{SPEC_FILE} is larger than {MAX_BYTES // 1024 // 1024} MiB "
             f"({len(data):,} bytes)", "split what is repeated into groups and aliases")
        return None, r.problems
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        r.at(byte_position(data, exc.start), f"{SPEC_FILE} is not UTF-8 text ({exc.reason} at byte {exc.start})",
             "save the file as UTF-8")
        return None, r.problems
    root = read_yaml(text, r)
    if root is None:
        return None, r.problems
    if not root.is_map:
        r.at(
            (1, 1),
            f"{SPEC_FILE} must be a mapping with `system` and `services`, not {describe(root.value)}",
            "start with: system: NAME",
        )
        return None, r.problems
    top = check_keys(r, root, TOP_KEYS, SPEC_FILE, UNSUPPORTED_TOP_KEYS)
    system = _system(r, top.get("system"))
    keep = get_int(r, top["keep"][1], "keep", 0) if "keep" in top else 2
    named_configs = _named_configs(r, source, top["configs"][1]) if "configs" in top else {}
    if "secrets" in top:
        _declared_secrets(r, top["secrets"][1])
    if "volumes" in top:
        _declared_volumes(r, top["volumes"][1])
    services = top["services"][1] if "services" in top else None
    groups = top["groups"][1] if "groups" in top else None
    if services is None and groups is None:
        r.at((1, 1), f"{SPEC_FILE} defines no services", "add `services:` (and `groups:` if you need them)")
    tree = read_tree(r, services, groups, engine)
    _report_alias_collisions(r, tree.drafts, tree.positions)
    checks.limit_ports(r, tree.drafts)

    files: dict[str, bytes] = {}
    built = [assemble(r, d, source, named_configs, files) for d in tree.drafts]
    deps = checks.resolve_dependencies(r, tree.drafts)
    checks.report_cycles(r, deps)
    checks.report_unmeetable_health_conditions(r, deps, built)
    checks.report_port_conflicts(r, built, {d.path: d.values.get("ports", []) for d in tree.drafts})
    if secrets is not None:
        checks.report_missing_secrets(r, tree.drafts, secrets)
    services_out: list[Service] = [
        dataclasses.replace(s, depends_on=tuple(dep for dep, _ in deps.get(s.path, ()))) for s in built
    ]
    if r.problems or system is None or keep is None:
        return None, r.problems
    spec = Spec(
        system=system,
        services=tuple(services_out),
        groups=tuple(tree.groups),
        files=MappingProxyType(dict(sorted(files.items()))),
        commit=source.commit,
        keep=keep,
    )
    return spec, []


def _system(r: Report, entry: tuple[tuple[int, int], Node] | None) -> str | None:
    if entry is None:
        r.at((1, 1), "`system` is missing", "add `system: NAME` (lowercase letters, digits, '_', '-')")
        return None
    n = entry[1]
    name = get_str(r, n, "system")
    if name is not None and (problem := name_problem(name, "system")) is not None:
        r.at(n.pos, *problem)
        return None
    return name


def byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """The (line, column) of byte `offset`, counting columns in characters as editors do."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, len(data[line_start:offset].decode("utf-8", "replace")) + 1


def _report_alias_collisions(r: Report, drafts: list[Draft], positions: dict[str, Pos]) -> None:
    for c in alias_collisions(d.path for d in drafts):
        first = positions.get(c.first, (0, 0))
        r.at(positions.get(c.second, (0, 0)),
             f"services '{c.first}' (line {first[0]}) and '{c.second}' both answer to the DNS name '{c.alias}'",
             "rename one of them; a service's DNS name is its path with '/' as '-'")


def _named_configs(r: Report, source: SpecSource, n: Node) -> dict[str, str]:
    """{config name: repo path} of the top-level `configs` declarations."""
    if not n.is_map:
        if n.value is not None:
            r.at(n.pos, f"`configs` must be a mapping of names to {{file: PATH}}, not {describe(n.value)}")
        return {}
    out: dict[str, str] = {}
    unsupported = {k: NOT_IN_REPO for k in ("external", "content", "environment", "name", "template_driver")}
    for name, kpos, v in entries(n):
        if not get_name(r, kpos, name, "config"):
            continue
        if not v.is_map:
            r.at(v.pos, f"config {shown(name)} must be a mapping like {{file: PATH}}, not {describe(v.value)}")
            continue
        f = check_keys(r, v, ("file",), f"config {shown(name)}", unsupported)
        if "file" not in f:
            r.at(kpos, f"config {shown(name)} has no `file`", "add file: PATH (a file of the repository)")
            continue
        path = get_str(r, f["file"][1], f"config {shown(name)} file")
        if path is not None:
            found = repo_path(r, source, path, f["file"][1].pos, f"config {shown(name)}", "file")
            if found is not None:
                out[name] = found
    return out


def _declared_secrets(r: Report, n: Node) -> None:
    if not n.is_map:
        if n.value is not None:
            r.at(n.pos, f"`secrets` must be a mapping of names to declarations, not {describe(n.value)}")
        return
    unsupported = {
        "file": "secret values never live in the repository; provide them on the deploying host",
        "external": "remove it; every secret comes from the deploying host",
        "name": "remove it",
    }
    for name, kpos, v in entries(n):
        if not get_name(r, kpos, name, "secret") or v.value is None:
            continue
        if not v.is_map:
            r.at(v.pos, f"secret {shown(name)} must be a mapping, not {describe(v.value)}")
            continue
        f = check_keys(r, v, ("environment",), f"secret {shown(name)}", unsupported)
        if "environment" in f:
            get_str(r, f["environment"][1], f"secret {shown(name)} environment")


def _declared_volumes(r: Report, n: Node) -> None:
    if not n.is_map:
        if n.value is not None:
            r.at(n.pos, f"`volumes` must be a mapping of volume names, not {describe(n.value)}")
        return
    hint = "remove it; gitdeploy creates plain local volumes named <system>_<name>"
    unsupported = {k: hint for k in ("driver", "driver_opts", "external", "labels", "name")}
    for name, kpos, v in entries(n):
        if not get_name(r, kpos, name, "volume") or v.value is None:
            continue
        if not v.is_map:
            r.at(v.pos, f"volume {shown(name)} must be an empty mapping, not {describe(v.value)}")
            continue
        check_keys(r, v, (), f"volume {shown(name)}", unsupported)
