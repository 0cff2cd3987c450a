"""Turns a parsed service (a `Draft`) into a `Service`: reads its repository files, merges what
its groups pass down, and checks that every path stays inside the repository.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from gitdeploy.spec.model import Build, ConfigFile, Rollout, Service
from gitdeploy.spec.mounts import RawBuild, RawConfig, RawEnvFile
from gitdeploy.spec.repofiles import check_build_context, parse_env_text, repo_path
from gitdeploy.spec.shown import shown
from gitdeploy.spec.source import SpecSource
from gitdeploy.spec.tree import Draft
from gitdeploy.spec.yamlnode import Pos, Report


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assemble(
    r: Report,
    draft: Draft,
    source: SpecSource,
    named_configs: dict[str, str],
    files: dict[str, bytes],
) -> Service:
    """The service with everything inherited and read from the repository (depends_on left empty).

    Every file it uses is added to `files` (repo path -> bytes).
    """
    v, inh = draft.values, draft.inherited
    environment = dict(inh.environment)
    env_files: list[tuple[str, str]] = []
    for ef in v.get("env_file", []):
        loaded = _env_file(r, source, ef, files)
        if loaded is not None:
            path, data, values = loaded
            env_files.append((path, sha256(data)))
            environment.update(values)
    environment.update({k: text for k, (text, _) in v.get("environment", {}).items()})
    labels = {**inh.labels, **{k: text for k, (text, _) in v.get("labels", {}).items()}}
    drift = list(inh.drift_ignore)
    drift += [p for p in v.get("drift_ignore", []) if p not in drift]
    configs = _configs(r, source, v.get("configs", []), named_configs, files)
    _check_targets(r, draft.path, [*(("volume", x.target, p) for x, p in v.get("volumes", [])),
                                   *(("config", c.target, p) for c, p in configs),
                                   *(("secret", x.target, p) for x, p in v.get("secrets", []))])
    kwargs: dict[str, Any] = {
        "path": draft.path,
        "image": v.get("image"),
        "build": _build(r, source, v["build"]) if "build" in v else None,
        "command": v.get("command"),
        "entrypoint": v.get("entrypoint"),
        "environment": tuple(sorted(environment.items())),
        "env_files": tuple(env_files),
        "ports": tuple(p for entry, _ in v.get("ports", []) for p in entry.ports()),
        "volumes": tuple(vol for vol, _ in v.get("volumes", [])),
        "configs": tuple(c for c, _ in configs),
        "secrets": tuple(s for s, _ in v.get("secrets", [])),
        "healthcheck": v.get("healthcheck"),
        "replicas": v.get("replicas", 1),
        "labels": tuple(sorted(labels.items())),
        "restart": v.get("restart") or inh.restart or "unless-stopped",
        "init": v["init"] if v.get("init") is not None else inh.init,
        "user": v.get("user"),
        "working_dir": v.get("working_dir"),
        "stop_grace_period": v.get("stop_grace_period", 10.0),
        "rollout": Rollout(**{**inh.rollout, **v.get("rollout", {})}),
        "drift_ignore": tuple(drift),
        "resources": v.get("resources"),
        "placement": v.get("placement"),
        "mode": v.get("mode", "replicated"),
        "endpoint_mode": v.get("endpoint_mode"),
    }
    return Service(**kwargs)


def _env_file(
    r: Report, source: SpecSource, ef: RawEnvFile, files: dict[str, bytes]
) -> tuple[str, bytes, dict[str, str]] | None:
    path = repo_path(r, source, ef.path, ef.pos, "env_file", "file", required=ef.required)
    if path is None:
        return None
    data = source.read(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        r.at(ef.pos, f"env_file {shown(path)} is not UTF-8 text")
        return None
    files[path] = data
    return path, data, parse_env_text(r, text, path)


def _check_targets(r: Report, path: str, mounts: list[tuple[str, str, Pos]]) -> None:
    """Every mount (volume, config, secret) needs a target of its own, and never `/`."""
    taken: dict[str, tuple[str, Pos]] = {}
    for kind, target, pos in mounts:
        norm = "/" + "/".join(p for p in posixpath.normpath(target).split("/") if p)
        if norm == "/":
            r.at(pos, f"a {kind} of service '{path}' is mounted at '/', the container's root",
                 "mount it at a path below /")
            continue
        if norm in taken:
            other, at = taken[norm]
            r.at(pos, f"a {kind} of service '{path}' is mounted at {shown(norm)}, where a {other} "
                      f"(line {at[0]}) is mounted already", "give each volume, config and secret its own target")
            continue
        taken[norm] = (kind, pos)


def _configs(
    r: Report, source: SpecSource, raw: list[RawConfig], named: dict[str, str], files: dict[str, bytes]
) -> list[tuple[ConfigFile, Pos]]:
    out: list[tuple[ConfigFile, Pos]] = []
    targets: dict[str, str] = {}
    for c in raw:
        if c.source in named:
            path: str | None = named[c.source]
            default_target = "/" + c.source
        else:
            path = repo_path(r, source, c.source, c.pos, "config", "file")
            default_target = "/" + posixpath.basename(c.source)
        if path is None:
            continue
        target = c.target or default_target
        if target in targets:
            r.at(c.pos, f"two configs are mounted at {shown(target)} ({shown(targets[target])} and {shown(path)})")
            continue
        targets[target] = path
        data = source.read(path)
        files[path] = data
        out.append((ConfigFile(source=path, target=target, digest=sha256(data), mode=c.mode), c.pos))
    return out


def _build(r: Report, source: SpecSource, b: RawBuild) -> Build | None:
    if "://" in b.context or b.context.startswith("git@"):
        r.at(
            b.context_pos,
            f"build context {shown(b.context)} is not a directory of the repository",
            "commit the sources to build into the spec repository, or build elsewhere and use `image`",
        )
        return None
    context = repo_path(r, source, b.context, b.context_pos, "build context", "dir")
    if context is None:
        return None
    check_build_context(r, source, context, b.context_pos)
    parts = [p for p in b.dockerfile.split("/") if p not in ("", ".")]
    if b.dockerfile.startswith("/") or ".." in parts:
        r.at(
            b.dockerfile_pos,
            f"dockerfile {shown(b.dockerfile)} must be inside the build context",
            "give a path relative to the context, without '..'",
        )
        return None
    dockerfile = "/".join(parts)
    full = dockerfile if context == "." else f"{context}/{dockerfile}"
    if repo_path(r, source, full, b.dockerfile_pos, "dockerfile", "file") is None:
        return None
    return Build(context=context, dockerfile=dockerfile, args=b.args, target=b.target)
