"""What a spec repository says about itself in its git config, and the repositories a data
directory serves.

    git config gitdeploy.env.<name>.branch <branch>   # pushes to <branch> deploy to <name>
    git config gitdeploy.env.<name>.engine swarm      # docker (default) or swarm
    git config gitdeploy.env.<name>.registry HOST[:PORT][/PREFIX]   # swarm: where built images go
    git config gitdeploy.env.<name>.dockerHost ssh://deploy@manager1   # its engine (a manager)
    git config gitdeploy.dataDir <path>               # the data directory its hooks use

With no `gitdeploy.env.*` entries the default is one environment, `production`, deployed from
`main`. An environment's engine, registry and docker host, where set, win over the hook's
--engine/--registry/--docker-host (GITDEPLOY_ENGINE, GITDEPLOY_REGISTRY, DOCKER_HOST).
`gitdeploy hooks install` records the data directory and registers the repository in
`<data dir>/repositories.txt` (one absolute path a line), which the dashboard reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import git

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.fsutil import atomic_write
from gitdeploy.live.swarm.registry import Registry
from gitdeploy.pipeline import Context
from gitdeploy.spec.engines import ENGINES

DEFAULT_ENVIRONMENTS = {"production": "main"}
REGISTRY_FILE = "repositories.txt"


def environments(repo: git.Repo) -> dict[str, str]:
    """Environment name -> branch, from `gitdeploy.env.<name>.branch` (default production <- main)."""
    try:
        raw = repo.git.config("--get-regexp", r"^gitdeploy\.env\..*\.branch$")
    except git.GitCommandError:
        return dict(DEFAULT_ENVIRONMENTS)  # no entries: git config exits 1
    out: dict[str, str] = {}
    for line in raw.splitlines():
        key, _, branch = line.partition(" ")
        name = key[len("gitdeploy.env."):-len(".branch")]
        if name and branch.strip():
            out[name] = branch.strip()
    return out or dict(DEFAULT_ENVIRONMENTS)


def environments_for_ref(repo: git.Repo, ref: str) -> list[str]:
    """The environments a push to `ref` (refs/heads/<branch>) deploys, sorted."""
    if not ref.startswith("refs/heads/"):
        return []
    branch = ref.removeprefix("refs/heads/")
    return sorted(name for name, b in environments(repo).items() if b == branch)


@dataclass(frozen=True)
class EngineSettings:
    """Where an environment deploys, as its git config says; None where it says nothing."""

    engine: str | None = None
    registry: str | None = None
    docker_host: str | None = None


_SETTINGS = {"engine": "engine", "registry": "registry", "dockerhost": "docker_host"}  # git lower-cases names


def engine_settings(repo: git.Repo, env: str) -> EngineSettings:
    """`gitdeploy.env.<env>.engine`, `.registry` and `.dockerHost`. Raises GitdeployError (exit 2)
    naming the key when the engine is not docker or swarm, or the registry is not HOST[:PORT][/PREFIX]."""
    prefix = f"gitdeploy.env.{env}."
    try:
        # env names are letters, digits, - and _ (check_env_name): only the dots need escaping
        raw = repo.git.config("--get-regexp", "^" + prefix.replace(".", r"\.") + "(engine|registry|dockerhost)$")
    except git.GitCommandError:
        return EngineSettings()  # none set: git config exits 1
    values: dict[str, str] = {}
    for line in raw.splitlines():
        key, _, value = line.partition(" ")
        name = _SETTINGS.get(key[len(prefix):].lower())
        if name and value.strip():
            values[name] = value.strip()  # the last one wins, as with `git config --get`
    engine = values.get("engine")
    if engine is not None and engine not in ENGINES:
        raise GitdeployError(f"git config {prefix}engine is {engine!r}", f"use one of: {', '.join(ENGINES)}",
                             exit_code=EXIT_INVALID)
    registry = values.get("registry")
    if registry is not None:
        try:
            registry = str(Registry.parse(registry))
        except GitdeployError as exc:
            raise GitdeployError(f"git config {prefix}registry: {exc.message}",
                                 f"git config {prefix}registry registry.example.com:5000/team",
                                 exit_code=EXIT_INVALID) from None
    return EngineSettings(engine, registry, values.get("docker_host"))


def environment_context(ctx: Context, env: str) -> Context:
    """`ctx` (the hook's or server's) for environment `env` of its repository: the environment's
    engine settings from git config where set, `ctx`'s otherwise. Raises GitdeployError (exit 2)
    for a bad setting (see engine_settings)."""
    found = engine_settings(git.Repo(ctx.repo), env)
    host = found.docker_host or ctx.docker_host
    # the connection is shared only when it goes where this environment's engine is
    return replace(ctx, env=env, docker_host=host, client=ctx.client if host == ctx.docker_host else None,
                   engine_kind=found.engine or ctx.engine_kind, registry=found.registry or ctx.registry)


def configured_data_dir(repo: git.Repo) -> Path | None:
    """`gitdeploy.dataDir` of the repository, or None."""
    try:
        value = repo.git.config("--get", "gitdeploy.dataDir").strip()
    except git.GitCommandError:
        return None
    return Path(value).expanduser() if value else None


def hook_data_dir(repo: git.Repo, fallback: Path) -> Path:
    """The data directory a hook acts on: $GITDEPLOY_HOME, else gitdeploy.dataDir, else `fallback`."""
    if os.environ.get("GITDEPLOY_HOME"):
        return fallback
    return (configured_data_dir(repo) or fallback).resolve()


def register(data_dir: Path, repo_path: Path) -> None:
    """Add `repo_path` to the data directory's list of served repositories (idempotent)."""
    path = data_dir / REGISTRY_FILE
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        lines = []
    if str(repo_path.resolve()) not in lines:
        atomic_write(path, "".join(f"{line}\n" for line in [*lines, str(repo_path.resolve())]).encode(), 0o644)


def registered(data_dir: Path) -> list[Path]:
    """The repositories registered in `data_dir` that still exist, in registration order."""
    try:
        lines = (data_dir / REGISTRY_FILE).read_text().splitlines()
    except OSError:
        return []
    out: list[Path] = []
    for line in lines:
        p = Path(line.strip())
        if line.strip() and p.exists() and p not in out:
            out.append(p)
    return out
