"""The one pipeline every entry point (CLI, webhook bot, git hooks) goes through:

    spec (git) -> resolve -> live (engine) -> diff -> plan -> execute -> verify -> record

Functions here wire the pure core to its edges (git, Docker, the data directory); they hold no
decisions of their own.

Truth under interruption: a deploy writes its intent to a journal before it touches the engine
and its progress as it goes (gitdeploy.deploy.journal). Whoever next takes the environment's
lock and finds a journal left behind recovers first: back to the last verified revision
(refs/gitdeploy/<env>), verified, and the attempt recorded as `interrupted`. A failed deploy
rolls back to the same place - the last verified revision, never "whatever ran before".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Set
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import docker
import git

from gitdeploy.deploy.execute import Fault, Runner, Target, describe_error, failures
from gitdeploy.deploy.freeze import HaltResult, check_not_frozen, clear_halted
from gitdeploy.deploy.freeze import halt as halt_system
from gitdeploy.deploy.journal import Journal
from gitdeploy.deploy.journal import read as journal_read
from gitdeploy.deploy.lock import acquire as acquire_lock
from gitdeploy.deploy.lock import env_dir, whoami
from gitdeploy.deploy.result import Event, EventSink, Result
from gitdeploy.deploy.verify import Verification, unfit_containers, verify, verify_restored
from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import Attempt, deployed_commit, open_repo, record
from gitdeploy.live import secretfiles
from gitdeploy.live.engine import Cancel, Engine, aliases_for, check_env_name, connect, network_name
from gitdeploy.live.enginelock import EngineLock, Holder
from gitdeploy.live.enginelock import hold as hold_engine
from gitdeploy.live.images import ImageResolver
from gitdeploy.live.model import Live
from gitdeploy.plan.diff import diff
from gitdeploy.plan.model import Plan
from gitdeploy.plan.planner import make_plan
from gitdeploy.plan.rollout import Kept, restore_plan
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

    def __post_init__(self) -> None:
        check_env_name(self.env)  # from --env, git config or the server's config: exit 2 if bad

    def docker(self) -> docker.DockerClient:
        if self.client is None:
            self.client = connect(self.docker_host)
        return self.client

    def engine(self, only: frozenset[str] | None = None) -> Engine:
        return Engine(self.docker(), self.data_dir, only)

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
    ctx: Context, rev: str = "HEAD", worktree: bool = False, tainted: Mapping[str, str] | Set[str] = frozenset(),
    only: Set[str] | None = None, loaded: tuple[SpecSource, Spec] | None = None,
) -> Prepared:
    """spec -> resolve -> live -> diff -> plan. `tainted` containers are replaced (see diff), and
    so is every running container at its target that is unhealthy or not reachable by name: no
    container is kept that verification would not pass.

    `only` limits the plan to those service paths (a heal repairing some services leaves the
    others, e.g. one it gave up on, as they are). `loaded`: the spec at `rev`, when read already.
    """
    source, spec = loaded or load(ctx, rev, worktree)
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
    unfit = unfit_containers(desired, live, network_name(spec.system, ctx.env), aliases_for(spec))
    taint = dict(unfit) | (dict(tainted) if isinstance(tainted, Mapping) else dict.fromkeys(tainted, "drift"))
    changes = diff(desired, live, taint)
    plan = make_plan(spec.system, ctx.env, spec.commit, desired, changes, live, keep=spec.keep)
    return Prepared(source, spec, desired, live, plan, scope)


def target_of(ctx: Context, prepared: Prepared) -> Target:
    return Target(prepared.spec.system, ctx.env, prepared.spec.commit or "", aliases_for(prepared.spec),
                  {d.path: d for d in prepared.desired}, prepared.spec)


def verify_target(ctx: Context, prepared: Prepared, live: Live | None = None) -> Verification:
    """Every replica at the target, healthy and reachable by name; nothing else running."""
    system = prepared.spec.system
    live = live or ctx.engine(prepared.only).analyze(system, ctx.env)
    return verify(prepared.desired, live, network_name(system, ctx.env), aliases_for(prepared.spec))


def check_verified(ctx: Context, prepared: Prepared) -> Verification:
    """Verify the live system against the prepared target without changing anything."""
    return verify_target(ctx, prepared)


def execute(
    ctx: Context, prepared: Prepared, on_event: EventSink | None = None, *, cancel: Cancel | None = None,
    fault: Fault | None = None, journal: Journal | None = None, verified_before: str | None = None,
    guard: Callable[[], None] | None = None,
) -> Result:
    """Execute the plan as a transaction: run its steps, verify the target; on any failure (or a
    cancel) return to the last verified revision - `verified_before` - and verify that.

    Never raises for what happens on the engine: every failure is in the Result.
    """
    plan = prepared.plan
    engine = ctx.engine(prepared.only)
    cancel = cancel if cancel is not None else Cancel()
    started = time.time()
    runner = Runner(engine, target_of(ctx, prepared), on_event=on_event, journal=journal, cancel=cancel,
                    fault=fault, guard=guard)
    verification: Verification | None = None
    try:
        if journal:
            journal.note(phase="execute")
        outcomes = runner.run(plan)
        failure = failures(outcomes) or ("interrupted" if cancel else "")
    except Exception as exc:  # noqa: BLE001 - e.g. the journal cannot be written: undo what was done
        outcomes, failure = [], describe_error(exc)
    if not failure:
        try:
            verification = verify_target(ctx, prepared)
            runner.emit("", "verify", verification.headline(plan.commit))
            if not verification.ok:
                failure = "verification failed: " + "; ".join(verification.problems)
            elif journal:
                journal.note(phase="verified")
        except Exception as exc:  # noqa: BLE001 - a lost engine: what ran cannot be known, roll back
            failure = f"verification could not run: {describe_error(exc)}"
    if not failure:
        _prune(engine, plan, runner)
        return _result(plan, True, outcomes, verification, "", started, runner)
    if cancel:
        runner.emit("", "interrupted", "interrupted: nothing new is started; rolling back")
    pause = [o.path for o in outcomes if not o.ok and not o.skipped and _pauses(prepared, o.path)]
    if pause and not cancel:
        runner.emit("", "paused", f"on_failure: pause ({', '.join(pause)}): left as it is")
        return _result(plan, False, outcomes, verification, failure, started, runner, paused=True)
    runner.emit("", "rollback-start", f"rolling back: {failure}")
    restored, detail = rollback(ctx, prepared, verified_before, runner.emit, journal)
    runner.emit("", "rollback-done", detail)
    if restored:
        discard(engine, runner.created, runner.emit)
    else:  # said in the result and the record, not only in an event
        failure += f"; {detail}"
    return _result(plan, False, outcomes, verification, failure, started, runner, rolled_back=True,
                   rollback_verified=restored, interrupted=bool(cancel))


def rollback(ctx: Context, prepared: Prepared, verified: str | None, emit: Callable[[str, str, str], None],
             journal: Journal | None = None, before: tuple[Kept, ...] | None = None) -> tuple[bool, str]:
    """Return the system to `verified` (the last verified revision) and verify it; where there is
    none (or it is the commit that failed), to exactly the containers that ran before.
    Returns (verified, what was done). Never raises."""
    try:
        if journal:
            journal.tolerant = True  # a full disk must not stop the rollback itself
            journal.note(phase="rollback", to=verified or "before")
        if verified and verified != prepared.spec.commit:
            restored = converge(ctx, verified, prepared.only, emit, journal)
            where = f"last verified revision {verified[:7]}"
        else:
            restored = restore(ctx, prepared.spec.system, before if before is not None else kept(prepared.live),
                               aliases_for(prepared.spec), emit, journal)
            where = "the containers that ran before"
        ok = restored.ok
        if journal:
            journal.note(phase="rolled-back", ok=ok)
        for p in restored.problems:
            emit("", "rollback-error", p)
        return ok, f"{where} restored and verified ({restored.at_target}/{restored.expected})" if ok else (
            f"{where}: rollback NOT verified: " + "; ".join(restored.problems[:5]))
    except Exception as exc:  # noqa: BLE001 - said, and the journal stays for the next run to finish
        emit("", "rollback-error", describe_error(exc))
        return False, f"rollback could not complete ({describe_error(exc)}); the next deploy, fix or server " \
                      f"start recovers it"


def converge(ctx: Context, rev: str, only: frozenset[str] | None, emit: Callable[[str, str, str], None],
             journal: Journal | None, stage: str = "rollback", rounds: int = 3) -> Verification:
    """Bring the system to commit `rev` (no rollback of its own) and verify it.

    Plans again, up to `rounds` times, while verification fails: engine requests a killed
    process had sent may still land after the first look (a container it was starting)."""
    for round_ in range(1, rounds + 1):
        prepared = prepare(ctx, rev, only=only)
        runner = Runner(ctx.engine(only), target_of(ctx, prepared), on_event=_sink(emit), journal=journal,
                        stage=stage)
        outcomes = runner.run(prepared.plan)
        verification = verify_target(ctx, prepared)
        emit("", "verify", verification.headline(prepared.spec.commit) + f" ({stage})")
        failed = failures(outcomes)
        if failed and verification.ok:  # cannot happen, but never hide a failed step
            verification = replace(verification, ok=False, problems=(failed,))
        if verification.ok:
            _prune(ctx.engine(only), prepared.plan, runner)
            return verification
        if round_ < rounds:
            emit("", "rollback-error", "not verified yet, planning again: " + "; ".join(verification.problems[:3]))
    return verification


def restore(ctx: Context, system: str, before: tuple[Kept, ...], aliases: dict[str, tuple[str, ...]],
            emit: Callable[[str, str, str], None], journal: Journal | None, rounds: int = 3) -> Verification:
    """Back to exactly the containers in `before` (see plan.rollout.restore_plan) and verify
    (again, up to `rounds` times, as `converge`)."""
    engine = ctx.engine()
    net = network_name(system, ctx.env)
    for round_ in range(1, rounds + 1):
        live = engine.analyze(system, ctx.env)
        published = {c.id: bool(c.published(net, aliases.get(c.service, (c.service.replace("/", "-"),))))
                     for c in live.containers if c.running}
        plan = restore_plan(system, ctx.env, live, before, published)
        target = Target(system, ctx.env, "", aliases, {})
        Runner(engine, target, on_event=_sink(emit), journal=journal, stage="rollback").run(plan)
        verification = verify_restored(before, engine.analyze(system, ctx.env), net, aliases)
        if verification.ok or round_ == rounds:
            return verification
        emit("", "rollback-error", "not restored yet, planning again: " + "; ".join(verification.problems[:3]))
    raise AssertionError("unreachable")


def kept(live: Live) -> tuple[Kept, ...]:
    """The running containers of `live`, as what a rollback without a verified revision restores."""
    return tuple(Kept(c.id, c.service, c.replica, c.health != "none") for c in live.containers if c.running)


def discard(engine: Engine, created: list[str], emit: Callable[[str, str, str], None]) -> None:
    """Remove the containers a failed attempt created: a revision that never passed is no
    rollback target. Only stopped ones (a rollback stopped them); failures are only said."""
    if not created:
        return
    try:
        stopped = {c.id for c in engine.analyze_ids(created) if not c.running}
        for cid in created:
            if cid in stopped:
                engine.remove(cid)
        emit("", "discarded", f"{len(stopped)} container(s) of the failed revision removed")
    except Exception as exc:  # noqa: BLE001 - tidying; pruning catches them later
        emit("", "prune-failed", describe_error(exc))


def _sink(emit: Callable[[str, str, str], None]) -> EventSink:
    return lambda ev: emit(ev.path, ev.kind, ev.message)


def _prune(engine: Engine, plan: Plan, runner: Runner) -> None:
    """After a verified deploy: remove what the plan said to prune (failures are only said)."""
    removed = 0
    for cid in plan.prune:
        try:
            engine.remove(cid)
            removed += 1
        except Exception as exc:  # noqa: BLE001 - pruning is tidying; the deploy stands
            runner.emit("", "prune-failed", describe_error(exc))
    if removed:
        runner.emit("", "pruned", f"{removed} old container(s) removed (keep: {plan.keep})")


def _pauses(prepared: Prepared, path: str) -> bool:
    d = next((d for d in prepared.desired if d.path == path), None)
    return bool(d and d.service.rollout.on_failure == "pause")


def _result(plan: Plan, ok: bool, outcomes, verification, failure: str, started: float, runner: Runner,
            **kw) -> Result:
    return Result(plan=plan, ok=ok, outcomes=tuple(outcomes), verification=verification, failure=failure,
                  duration=time.time() - started, events=tuple(runner.events), **kw)


def deploy(
    ctx: Context, rev: str = "HEAD", *, worktree: bool = False, trigger: str = "cli", who: str | None = None,
    on_event: EventSink | None = None, tainted: Mapping[str, str] | Set[str] = frozenset(),
    on_plan: Callable[[Plan], None] | None = None, only: Set[str] | None = None, cancel: Cancel | None = None,
    fault: Fault | None = None,
) -> Result:
    """The whole pipeline for one deployment attempt: recover, prepare, execute, verify (and roll
    back), record.

    `trigger` (cli, push, comment, hook, heal, rollback) and `who` describe the attempt for the
    record. `on_plan` sees the plan before anything is executed; `only` limits it to those
    services (see prepare). Refuses to run while the environment is frozen or another deploy
    holds its lock. An attempt left unfinished by an earlier process is recovered first (see
    `recover`). Every attempt on a commit is recorded in git (see gitdeploy.history); a verified
    one clears a halt. `cancel` (Ctrl-C) stops starting work and rolls back.
    """
    who = who or whoami()
    check_not_frozen(ctx.data_dir, ctx.env)
    loaded = _load_or_none(ctx, rev, worktree)
    with (acquire_lock(ctx.data_dir, ctx.env, trigger=trigger, reason=f"deploy {rev}", owner=who) as held,
          _engine_lock(ctx, loaded, rev, trigger, who) as engine_held):
        check_not_frozen(ctx.data_dir, ctx.env)  # frozen while we took the lock
        early: list[Event] = []

        def say(path: str, kind: str, message: str) -> None:
            early.append(Event(time.time(), path, kind, message))
            if on_event:
                on_event(early[-1])

        if held.recovered and held.recovered.pid != os.getpid():
            say("", "lock-recovered",
                f"recovered a stale lock from pid {held.recovered.pid} ({held.recovered.owner})")
        if engine_held and engine_held.recovered:
            stale, why = engine_held.recovered
            say("", "lock-recovered", f"recovered the engine lock of "
                f"{stale.describe() if stale else 'an unknown holder'}: {why}")
        _recover_locked(ctx, say, who)
        started = time.time()
        try:
            prepared = prepare(ctx, rev, worktree, tainted, only, loaded)
        except GitdeployError as exc:
            commit = None if worktree else _commit_of(ctx, rev)
            if commit:
                _record(ctx, Attempt(commit, ctx.env, "", trigger, who, started, time.time(), "failed",
                                     failure=exc.message), on_event)
            raise
        if on_plan:
            on_plan(prepared.plan)
        verified = deployed_commit(open_repo(ctx.repo), ctx.env)
        journal = None
        if prepared.plan.has_changes:
            journal = Journal(env_dir(ctx.data_dir, ctx.env))
            try:
                journal.begin(_intent(ctx, prepared, verified, trigger, who))
            except GitdeployError as exc:  # a full disk: refused before the engine is touched
                if prepared.spec.commit:
                    _record(ctx, Attempt(prepared.spec.commit, ctx.env, prepared.spec.system, trigger, who, started,
                                         time.time(), "failed", summary=prepared.plan.summary(),
                                         failure=exc.message), on_event)
                raise
        result = execute(ctx, prepared, on_event, cancel=cancel, fault=fault, journal=journal,
                         verified_before=verified, guard=engine_held.check if engine_held else None)
        if journal:
            journal.tolerant = True  # from here a full disk is said, never raised
        if early:
            result = replace(result, events=tuple(early) + result.events)
        if result.ok:
            clear_halted(ctx.data_dir, ctx.env, prepared.spec.system)
            _prune_secrets(ctx, on_event)  # values only pruned revisions used
        recorded = True
        if prepared.spec.commit:  # a working-tree deploy is never recorded as deployed
            if journal:
                journal.note(phase="record")
            recorded, missing = _record_told(ctx, _attempt(ctx, prepared, result, trigger, who, started), on_event)
            if missing:  # the result says what of the record is missing (the ref moves regardless)
                result = replace(result, events=result.events + (missing,))
            if journal and recorded:
                journal.note(phase="recorded")  # a recovery then adds its own line, not a second one for this
        if journal and (recorded or not result.ok) and not (result.rolled_back and not result.rollback_verified):
            journal.finish()  # else it stays: the next run recovers (or records) what this one could not
        return result


def _intent(ctx: Context, prepared: Prepared, verified: str | None, trigger: str, who: str) -> dict:
    plan = prepared.plan
    return {
        "system": prepared.spec.system, "env": ctx.env, "target": prepared.spec.commit or "",
        "verified_before": verified or "", "trigger": trigger, "who": who,
        "only": sorted(prepared.only) if prepared.only is not None else None,
        "before": [asdict(k) for k in kept(prepared.live)],
        "steps": [{"path": s.path, "action": s.change.action, "ops": [op.describe() for op in s.ops]}
                  for s in plan.steps],
    }


@dataclass(frozen=True)
class Recovery:
    """What recovering an interrupted attempt did."""

    target: str  # the commit the interrupted attempt deployed ("" for a working tree)
    where: str  # how far it got
    outcome: str  # "restored <sha>" / "completed" / ...
    ok: bool


def recover(ctx: Context, on_event: EventSink | None = None, who: str | None = None) -> Recovery | None:
    """Finish an attempt an earlier process left behind (kill -9, power loss, a second Ctrl-C):
    return the system to the last verified revision, verify it, record the attempt as
    `interrupted`. None when there was nothing to recover. Raises GitdeployError (locked, or the
    recovery itself failed: nothing else may then run)."""
    who = who or whoami()
    say = (lambda p, k, m: on_event(Event(time.time(), p, k, m))) if on_event else (lambda p, k, m: None)
    with acquire_lock(ctx.data_dir, ctx.env, trigger="recover", reason="recover an interrupted deploy", owner=who):
        left = journal_read(env_dir(ctx.data_dir, ctx.env))
        if left is None:
            return None
        system = str(left.intent.get("system") or "")
        engine_lock = hold_engine(ctx.docker(), system, ctx.env,
                                  Holder.here("recover an interrupted deploy", who, str(ctx.data_dir))) if system \
            else nullcontext()
        with engine_lock:
            return _recover_locked(ctx, say, who)


def _recover_locked(ctx: Context, say: Callable[[str, str, str], None], who: str) -> Recovery | None:
    folder = env_dir(ctx.data_dir, ctx.env)
    left = journal_read(folder)
    if left is None:
        return None
    started = time.time()
    where = left.where()
    if left.problem:
        say("", "recovery", f"the journal is damaged: {left.problem}")
    say("", "recovery", f"an earlier deploy of {left.target[:7] or 'the working tree'} was interrupted {where}; "
                        "recovering before anything else")
    repo = open_repo(ctx.repo)
    verified = deployed_commit(repo, ctx.env) or left.verified_before or None
    only = frozenset(left.intent["only"]) if isinstance(left.intent.get("only"), list) else None
    journal = Journal(folder)
    journal.resume()
    outcome, ok = "", False
    rolled_back_ok = any(r.get("phase") == "rolled-back" and r.get("ok") is True for r in left.records)
    finished = "recorded" in left.phases and (rolled_back_ok or "rollback" not in left.phases)
    try:
        if finished:  # it had ended and was recorded; only its journal was left behind
            v = converge(ctx, verified, only, say, journal, stage="recover") if verified else None
            if v is None or v.ok:
                journal.finish()
                say("", "recovery", f"the attempt of {left.target[:7] or 'the working tree'} had finished and "
                                    "was recorded; only its journal was left (removed)")
                return Recovery(left.target, where, "finished", True)
        if left.phase in ("verified", "record") and left.target:
            prepared = prepare(ctx, left.target, only=only)
            v = verify_target(ctx, prepared)
            if v.ok:  # it had succeeded; only the record was missing
                attempt = Attempt(left.target, ctx.env, prepared.spec.system, str(left.intent.get("trigger", "")),
                                  str(left.intent.get("who", who)), float(left.intent.get("started", started)),
                                  time.time(), "ok", summary="recorded after an interruption",
                                  verified=f"{v.at_target}/{v.expected}")
                if _record(ctx, attempt, None):
                    journal.finish()
                    say("", "recovery", f"{left.target[:7]} was deployed and verified before the interruption: "
                                        f"{v.headline(left.target)}; now recorded")
                    return Recovery(left.target, where, "completed", True)
        system = str(left.intent.get("system") or "")
        if verified:
            v = converge(ctx, verified, only, say, journal, stage="recover")
            outcome = f"last verified revision {verified[:7]} restored"
        elif system:
            before = tuple(Kept(str(k["id"]), str(k["service"]), int(k["replica"]), bool(k["healthcheck"]))
                           for k in left.intent.get("before") or [])
            spec_aliases: dict[str, tuple[str, ...]] = {}
            try:
                _, spec = load(ctx, left.target) if left.target else (None, None)
                spec_aliases = aliases_for(spec) if spec else {}
            except GitdeployError:
                pass
            v = restore(ctx, system, before, spec_aliases, say, journal)
            outcome = "the containers that ran before restored"
        else:
            raise GitdeployError("the interrupted attempt's journal names no system and no revision was verified",
                                 f"inspect {folder}, repair by hand, then remove journal.json there")
    except GitdeployError as exc:
        raise GitdeployError(
            f"an interrupted deploy ({where}) could not be recovered: {exc.message}",
            "fix the cause (is the engine reachable? is there disk space?) and run `gitdeploy fix` or "
            "`gitdeploy deploy` again: recovery runs first, every time",
        ) from None
    ok = v.ok
    if ok:
        discard(ctx.engine(), [str(r["cid"]) for r in left.records if r.get("op") == "create" and r.get("cid")],
                say)
    if left.target:
        already = "recorded" in left.phases  # its failure is in the history: this line is the recovery's
        failure = (f"rollback completed by recovery: {outcome}" if already else f"interrupted {where}; {outcome}") \
            + ("" if ok else " - NOT verified: " + "; ".join(v.problems[:5]))
        _record(ctx, Attempt(left.target, ctx.env, str(left.intent.get("system", "")),
                             "recover" if already else str(left.intent.get("trigger", "")),
                             who if already else str(left.intent.get("who", "")),
                             started if already else float(left.intent.get("started", started)), time.time(),
                             "rolled-back" if already and ok else "failed" if already else "interrupted",
                             failure=failure), None)
    if not ok:
        raise GitdeployError(
            f"an interrupted deploy ({where}) was rolled back, but the result is NOT verified: "
            + "; ".join(v.problems[:5]),
            "see `gitdeploy check`; the journal is kept, so the next deploy or fix tries again",
        )
    journal.finish()
    say("", "recovery", f"recovered: {outcome} and verified ({v.at_target}/{v.expected}); "
                        "the interrupted attempt is recorded as `interrupted`")
    return Recovery(left.target, where, outcome, True)


def _load_or_none(ctx: Context, rev: str, worktree: bool) -> tuple[SpecSource, Spec] | None:
    try:
        return load(ctx, rev, worktree)
    except GitdeployError:
        return None  # prepare loads again, fails the same way and records it


def _engine_lock(ctx: Context, loaded: tuple[SpecSource, Spec] | None, rev: str, trigger: str,
                 who: str) -> AbstractContextManager[EngineLock | None]:
    """The engine lock of the system (see live.enginelock); none when the spec or the engine
    cannot be read: prepare then fails, and records that."""
    try:
        client = ctx.docker()
    except GitdeployError:
        return nullcontext()
    if loaded is None:
        return nullcontext()
    return hold_engine(client, loaded[1].system, ctx.env,
                       Holder.here(f"{trigger}: deploy {rev}", who, str(ctx.data_dir)))


def _prune_secrets(ctx: Context, on_event: EventSink | None) -> None:
    """Remove secret values no container mounts any more; a failure is reported, never fatal."""
    try:
        gone = secretfiles.prune(ctx.docker(), ctx.data_dir)
    except (GitdeployError, OSError) as exc:
        if on_event:
            on_event(Event(time.time(), "", "pruned", f"old secret files were not pruned: {exc}"))
        return
    if gone and on_event:
        on_event(Event(time.time(), "", "pruned", f"{len(gone)} unused secret file(s) removed"))


def halt(ctx: Context, reason: str = "", who: str | None = None, system: str | None = None) -> HaltResult:
    """The kill switch: stop every container of the system now, mark it halted, record it."""
    who = who or whoami()
    started = time.time()
    commit = None
    if system is None:
        _, spec = load(ctx)
        system, commit = spec.system, spec.commit
    out = halt_system(ctx.engine(), ctx.data_dir, ctx.env, system, reason, who)
    repo = open_repo(ctx.repo)
    deployed = deployed_commit(repo, ctx.env) or commit
    if deployed:
        _record(ctx, Attempt(deployed, ctx.env, system, "halt", who, started, time.time(), "halted",
                             summary=f"{out.stopped} container(s) stopped", failure=reason), None)
    return out


def _attempt(ctx: Context, prepared: Prepared, result: Result, trigger: str, who: str, started: float) -> Attempt:
    v = result.verification
    outcome = "ok" if result.ok else "interrupted" if result.interrupted else "paused" if result.paused \
        else "rolled-back" if result.rolled_back and result.rollback_verified else "failed"
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


def _record(ctx: Context, attempt: Attempt, on_event: EventSink | None) -> bool:
    """Record in git; a failure to record is reported as an event, never hides the deploy's result.
    False when it could not be recorded (see _record_told)."""
    return _record_told(ctx, attempt, on_event)[0]


def _record_told(ctx: Context, attempt: Attempt, on_event: EventSink | None) -> tuple[bool, Event | None]:
    """(recorded, the record-failed event or None). history.record moves refs/gitdeploy/<env> even
    when the note cannot be written; that counts as recorded (the verified revision is true), and
    the event says the note is missing."""
    try:
        record(open_repo(ctx.repo), attempt)
        return True, None
    except (GitdeployError, OSError, git.GitCommandError) as exc:
        ev = Event(time.time(), "", "record-failed", describe_error(exc))
        if on_event:
            on_event(ev)
        done = getattr(exc, "recorded", None)  # RecordIncomplete: which part made it
        return bool(done is not None and attempt.result == "ok" and done.ref_moved), ev
