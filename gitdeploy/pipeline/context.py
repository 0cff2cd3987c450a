"""Where a pipeline run acts: the spec repository, environment, engine and data directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitdeploy.live.engine import check_env_name
from gitdeploy.live.factory import connect, describe, open_engine
from gitdeploy.live.interface import EngineAPI
from gitdeploy.live.model import Live
from gitdeploy.plan.model import Plan
from gitdeploy.spec import cache
from gitdeploy.spec.engines import check_engine_name
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.model import Spec
from gitdeploy.spec.secrets import SecretStore, load_key
from gitdeploy.spec.source import SpecSource, open_source

DEFAULT_ENV = "production"



def default_data_dir() -> Path:
    """$GITDEPLOY_HOME, else $XDG_DATA_HOME/gitdeploy, else ~/.local/share/gitdeploy."""
    if os.environ.get("GITDEPLOY_HOME"):
        return Path(os.environ["GITDEPLOY_HOME"]).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "gitdeploy"



@dataclass
class Context:
    """Where to read the spec, which environment and engine to act on, where state lives."""

    repo: Path = field(default_factory=Path.cwd)
    env: str = DEFAULT_ENV
    data_dir: Path = field(default_factory=default_data_dir)
    docker_host: str | None = None
    secrets_dir: Path | None = None
    # the engine connection (gitdeploy.live.factory.connect), shared between contexts: injected by
    # tests and the server; else connected lazily, on first use
    client: Any = None
    untrusted: bool = False  # planning a fork's pull request: the engine never builds, pulls or starts
    engine_kind: str = "docker"  # "docker" (one Docker Engine) or "swarm" (docker_host names a manager)
    registry: str | None = None  # swarm: HOST[:PORT][/PREFIX] that built images are pushed to
    # swarm: the docker host of each node's own engine, by node hostname (the healer looks into task
    # containers there; the manager's own node needs none)
    node_hosts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_env_name(self.env)  # from --env, git config or the server's config: exit 2 if bad
        check_engine_name(self.engine_kind)

    def engine(self, only: frozenset[str] | None = None) -> EngineAPI:
        """The environment's engine (the only way to it); `only` limits analysis to those services.
        Raises GitdeployError when it cannot be reached."""
        if self.client is None:
            self.client = connect(self.docker_host)
        engine = open_engine(self.client, self.data_dir, only, describe(self.docker_host), self.engine_kind,
                             self.registry)
        return engine.untrusted() if self.untrusted else engine

    def close(self) -> None:
        """Close the engine connection, when one was made (a one-shot process is done with it)."""
        if self.client is not None:
            open_engine(self.client, self.data_dir).close()
            self.client = None

    def secrets(self) -> SecretStore:
        folder = self.secrets_dir or (self.data_dir / "secrets.d")
        return SecretStore(directory=folder, key=load_key(self.data_dir))



@dataclass(frozen=True)
class Prepared:
    """Everything up to the plan, computed against the live engine."""

    source: SpecSource
    spec: Spec
    desired: tuple[Desired, ...]
    live: Live
    plan: Plan
    only: frozenset[str] | None = None  # the services in scope (None: all)
    # a cluster: its services (path -> gitdeploy.live.swarm.engine.ServiceState) as planned against,
    # which a rollback gives back exactly
    services: Mapping[str, Any] = field(default_factory=dict)



def load(ctx: Context, rev: str = "HEAD", worktree: bool = False) -> tuple[SpecSource, Spec]:
    """Read and validate the spec at `rev`. Raises SpecInvalid listing every problem."""
    source = open_source(ctx.repo, rev, worktree)
    secrets = ctx.secrets()
    spec = cache.get(ctx.data_dir, source, ctx.engine_kind, secrets)
    if spec is None:
        # the parser and its checks: only for a tree not seen before
        from gitdeploy.spec.load import load_spec

        spec = load_spec(source, secrets, ctx.engine_kind)
        cache.put(ctx.data_dir, source, ctx.engine_kind, spec)
    return source, spec

