"""The one pipeline every entry point (CLI, webhook bot, git hooks) goes through:

    spec (git) -> resolve -> live (engine) -> diff -> plan -> execute -> verify -> record

Functions here wire the pure core to its edges (git, Docker, the data directory); they hold no
decisions of their own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Set
from dataclasses import dataclass, field, replace
from pathlib import Path

import docker
import git

from gitdeploy.deploy.execute import Executor
from gitdeploy.deploy.freeze import HaltResult, check_not_frozen, clear_halted
from gitdeploy.deploy.freeze import halt as halt_system
from gitdeploy.deploy.lock import acquire as acquire_lock
from gitdeploy.deploy.lock import whoami
from gitdeploy.deploy.result import Event, EventSink, Result
from gitdeploy.deploy.verify import Verification, verify
from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import Attempt, deployed_commit, open_repo, record
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
    only: frozenset[str] | None = None  # the services in scope (None: all)


def load(ctx: Context, rev: str = "HEAD", worktree: bool = False) -> tuple[SpecSource, Spec]:
    """Read and validate the spec at `rev`. Raises SpecInvalid listing every problem."""
    source = open_source(ctx.repo, rev, worktree)
    return source, load_spec(source, ctx.secrets())


def prepare(
    ctx: Context, rev: str = "HEAD", worktree: bool = False, tainted: Set[str] = frozenset(),
    only: Set[str] | None = None,
) -> Prepared:
    """spec -> resolve -> live -> diff -> plan. `tainted` containers are replaced (see diff).

    `only` limits the plan to those service paths (a heal repairing some services leaves the
    others, e.g. one it gave up on, as they are).
    """
    source, spec = load(ctx, rev, worktree)
    engine = ctx.engine()
    scope = None if only is None else frozenset(only)
    foreign = engine.foreign_envs(spec.system, ctx.env)
    if foreign:
        raise GitdeployError(
            f"system '{spec.system}' on this engine belongs to environment(s) {', '.join(sorted(foreign))}, "
            f"not '{ctx.env}'",
            "use a different `system:` name per environment on a shared engine, or the right --env",
        )
    desired = tuple(resolve(spec, source, ImageResolver(engine.client), ctx.secrets()))
    if scope is not None:
        desired = tuple(d for d in desired if d.path in scope)
        engine.only = scope
    live = engine.analyze(spec.system, ctx.env)
    changes = diff(desired, live, tainted)
    plan = make_plan(spec.system, ctx.env, spec.commit, desired, changes, live)
    return Prepared(source, spec, desired, live, plan, scope)


def execute(ctx: Context, prepared: Prepared, on_event: EventSink | None = None) -> Result:
    """Execute the plan as a transaction (see deploy.execute) and return the verified result."""
    engine = ctx.engine()
    engine.only = prepared.only  # verify, tidy and undo look at the services in scope only
    executor = Executor(engine, prepared.spec, prepared.desired, ctx.env, on_event=on_event)
    return executor.run(prepared.plan, prepared.live)


def check_verified(ctx: Context, prepared: Prepared) -> Verification:
    """Verify the live system against the prepared target without changing anything."""
    return verify(prepared.desired, ctx.engine().analyze(prepared.spec.system, ctx.env))



def deploy(
    ctx: Context, rev: str = "HEAD", *, worktree: bool = False, trigger: str = "cli", who: str | None = None,
    on_event: EventSink | None = None, tainted: Set[str] = frozenset(),
    on_plan: Callable[[Plan], None] | None = None, only: Set[str] | None = None,
) -> Result:
    """The whole pipeline for one deployment attempt: prepare, execute, verify (and roll back).

    `trigger` (cli, push, comment, hook, heal, rollback) and `who` describe the attempt for the
    record. `on_plan` sees the plan before anything is executed; `only` limits it to those
    services (see prepare). Refuses to run while the
    environment is frozen or another deploy holds its lock; every attempt on a commit is
    recorded in git (see gitdeploy.history) and a verified one clears a halt.
    """
    who = who or whoami()
    check_not_frozen(ctx.data_dir, ctx.env)
    with acquire_lock(ctx.data_dir, ctx.env, trigger=trigger, reason=f"deploy {rev}", owner=who) as held:
        check_not_frozen(ctx.data_dir, ctx.env)  # frozen while we took the lock
        early: list[Event] = []
        if held.recovered and held.recovered.pid != os.getpid():
            early.append(Event(time.time(), "", "lock-recovered",
                               f"recovered a stale lock from pid {held.recovered.pid} ({held.recovered.owner})"))
            if on_event:
                on_event(early[-1])
        started = time.time()
        try:
            prepared = prepare(ctx, rev, worktree, tainted, only)
        except GitdeployError as exc:
            commit = None if worktree else _commit_of(ctx, rev)
            if commit:
                _record(ctx, Attempt(commit, ctx.env, "", trigger, who, started, time.time(), "failed",
                                     failure=exc.message), on_event)
            raise
        if on_plan:
            on_plan(prepared.plan)
        result = execute(ctx, prepared, on_event)
        if early:
            result = replace(result, events=tuple(early) + result.events)
        if result.ok:
            clear_halted(ctx.data_dir, ctx.env, prepared.spec.system)
        if prepared.spec.commit:  # a working-tree deploy is never recorded as deployed
            missing = _record(ctx, _attempt(ctx, prepared, result, trigger, who, started), on_event)
            if missing:  # the result says what of the record is missing (the ref moves regardless)
                result = replace(result, events=result.events + (missing,))
        return result


def halt(ctx: Context, reason: str = "", who: str | None = None, system: str | None = None) -> HaltResult:
    """The kill switch: stop every container of the system now, mark it halted, record it."""
    who = who or whoami()
    started = time.time()
    commit = None
    if system is None:
        _, spec = load(ctx)
        system, commit = spec.system, spec.commit
    out = halt_system(ctx, system, reason, who)
    repo = open_repo(ctx.repo)
    deployed = deployed_commit(repo, ctx.env) or commit
    if deployed:
        _record(ctx, Attempt(deployed, ctx.env, system, "halt", who, started, time.time(), "halted",
                             summary=f"{out.stopped} container(s) stopped", failure=reason), None)
    return out


def _attempt(ctx: Context, prepared: Prepared, result: Result, trigger: str, who: str, started: float) -> Attempt:
    v = result.verification
    outcome = "ok" if result.ok else "rolled-back" if result.rolled_back else "paused" if result.paused else "failed"
    failure = result.failure
    if result.rolled_back and not result.rollback_verified:
        failure += " (rollback NOT verified)"
    return Attempt(
        commit=prepared.spec.commit or "", env=ctx.env, system=prepared.spec.system, trigger=trigger, who=who,
        started=started, ended=time.time(), result=outcome, summary=prepared.plan.summary(),
        verified=f"{v.at_target}/{v.expected}" if v else "", failure=failure,
    )


def _commit_of(ctx: Context, rev: str) -> str | None:
    try:
        return open_repo(ctx.repo).commit(rev).hexsha
    except (GitdeployError, ValueError, git.BadName, git.GitCommandError):
        return None


def _record(ctx: Context, attempt: Attempt, on_event: EventSink | None) -> Event | None:
    """Record in git; a failure to record is reported as an event (returned), never hides the result.

    history.record moves refs/gitdeploy/<env> even when the note cannot be written; its error
    (RecordIncomplete) says which part is missing.
    """
    try:
        record(open_repo(ctx.repo), attempt)
    except GitdeployError as exc:
        ev = Event(time.time(), "", "record-failed", exc.message)
        if on_event:
            on_event(ev)
        return ev
    return None
