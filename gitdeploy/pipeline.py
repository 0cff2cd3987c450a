"""The one pipeline every entry point (CLI, webhook bot, git hooks) goes through:

    spec (git) -> resolve -> live (engine) -> diff -> plan -> execute -> verify -> record

Functions here wire the pure core to its edges (git, Docker, the data directory); they hold no
decisions of their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from pathlib import Path

import docker

from gitdeploy.deploy.execute import Executor
from gitdeploy.deploy.result import EventSink, Result
from gitdeploy.deploy.verify import Verification, verify
from gitdeploy.errors import GitdeployError
from gitdeploy.live.engine import Engine, connect
from gitdeploy.live.images import ImageResolver
from gitdeploy.live.model import Live
from gitdeploy.plan.diff import diff
from gitdeploy.plan.model import Plan
from gitdeploy.plan.planner import make_plan
from gitdeploy.spec.identity import Desired
from gitdeploy.spec.load import load_spec
from gitdeploy.spec.model import Spec
from gitdeploy.spec.resolve import resolve
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
    client: docker.DockerClient | None = None  # injected by tests and the server; else connected lazily

    def docker(self) -> docker.DockerClient:
        if self.client is None:
            self.client = connect(self.docker_host)
        return self.client

    def engine(self) -> Engine:
        return Engine(self.docker(), self.data_dir)

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


def load(ctx: Context, rev: str = "HEAD", worktree: bool = False) -> tuple[SpecSource, Spec]:
    """Read and validate the spec at `rev`. Raises SpecInvalid listing every problem."""
    source = open_source(ctx.repo, rev, worktree)
    return source, load_spec(source, ctx.secrets())


def prepare(ctx: Context, rev: str = "HEAD", worktree: bool = False, tainted: Set[str] = frozenset()) -> Prepared:
    """spec -> resolve -> live -> diff -> plan. `tainted` containers are replaced (see diff)."""
    source, spec = load(ctx, rev, worktree)
    engine = ctx.engine()
    foreign = engine.foreign_envs(spec.system, ctx.env)
    if foreign:
        raise GitdeployError(
            f"system '{spec.system}' on this engine belongs to environment(s) {', '.join(sorted(foreign))}, "
            f"not '{ctx.env}'",
            "use a different `system:` name per environment on a shared engine, or the right --env",
        )
    desired = tuple(resolve(spec, source, ImageResolver(engine.client), ctx.secrets()))
    live = engine.analyze(spec.system, ctx.env)
    changes = diff(desired, live, tainted)
    plan = make_plan(spec.system, ctx.env, spec.commit, desired, changes, live)
    return Prepared(source, spec, desired, live, plan)


def execute(ctx: Context, prepared: Prepared, on_event: EventSink | None = None) -> Result:
    """Execute the plan as a transaction (see deploy.execute) and return the verified result."""
    executor = Executor(ctx.engine(), prepared.spec, prepared.desired, ctx.env, on_event=on_event)
    return executor.run(prepared.plan, prepared.live)


def check_verified(ctx: Context, prepared: Prepared) -> Verification:
    """Verify the live system against the prepared target without changing anything."""
    return verify(prepared.desired, ctx.engine().analyze(prepared.spec.system, ctx.env))



def deploy(
    ctx: Context, rev: str = "HEAD", *, worktree: bool = False, trigger: str = "cli", who: str | None = None,
    on_event: EventSink | None = None, tainted: Set[str] = frozenset(),
    on_plan: Callable[[Plan], None] | None = None,
) -> Result:
    """The whole pipeline for one deployment attempt: prepare, execute, verify (and roll back).

    `trigger` (cli, push, comment, hook, heal, rollback) and `who` describe the attempt for the
    record. `on_plan` sees the plan before anything is executed.
    """
    prepared = prepare(ctx, rev, worktree, tainted)
    if on_plan:
        on_plan(prepared.plan)
    return execute(ctx, prepared, on_event)
