"""The entry points: deploy (locked, journaled, recorded), halt and down."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, replace

from gitdeploy.deploy.execute import Fault
from gitdeploy.deploy.freeze import HaltResult, check_not_frozen, clear_halted, mark_halted
from gitdeploy.deploy.freeze import halt as halt_system
from gitdeploy.deploy.journal import Journal
from gitdeploy.deploy.lock import acquire as acquire_lock
from gitdeploy.deploy.lock import env_dir, whoami
from gitdeploy.deploy.result import Event, EventSink, Result
from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import Attempt, deployed_commit, open_repo
from gitdeploy.live.engine import Cancel
from gitdeploy.live.enginelock import Holder
from gitdeploy.live.factory import as_swarm
from gitdeploy.pipeline.context import Context, load
from gitdeploy.pipeline.record import _attempt, _commit_of, _deployed_or_none, _record, _record_told
from gitdeploy.pipeline.recovery import _engine_lock, _intent, _recover_locked
from gitdeploy.pipeline.transaction import _discard_tainted, execute, prepare
from gitdeploy.plan.model import Plan


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
    `recover`). `tainted` containers (drift inside them) are replaced, and removed once the
    deploy is verified (`Result.removed`). Every attempt on a commit is recorded in git (see gitdeploy.history); a verified
    one clears a halt. `cancel` (Ctrl-C) stops starting work and rolls back.
    """
    who = who or whoami()
    check_not_frozen(ctx.data_dir, ctx.env)
    try:  # read once: an invalid spec is refused (and recorded) below, after recovery - not parsed twice
        loaded, unloadable = load(ctx, rev, worktree), None
    except GitdeployError as exc:
        loaded, unloadable = None, exc
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
            if unloadable is not None:
                raise unloadable
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
            if tainted:
                result = _discard_tainted(ctx, prepared, frozenset(tainted), result, on_event)
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



def _prune_secrets(ctx: Context, on_event: EventSink | None) -> None:
    """Remove secret values no container mounts any more; a failure is reported, never fatal."""
    try:
        gone = ctx.engine().prune_secret_files()
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
    engine = ctx.engine()
    cluster = as_swarm(engine)
    if cluster is not None:
        from gitdeploy.deploy.swarm import halt as halt_cluster

        out = halt_cluster(cluster, ctx.data_dir, ctx.env, system, reason, who)
        was = ", ".join(f"{p}={n}" for p, n in out.scaled)
        summary = f"{len(out.scaled)} service(s) scaled to 0 ({out.stopped} task(s) stopped; replicas were: " \
                  f"{was or 'none'}); the next deploy gives them back"
    else:
        out = halt_system(engine, ctx.data_dir, ctx.env, system, reason, who)
        summary = f"{out.stopped} container(s) stopped"
    repo = open_repo(ctx.repo)
    deployed = deployed_commit(repo, ctx.env) or commit
    if deployed:
        _record(ctx, Attempt(deployed, ctx.env, system, "halt", who, started, time.time(), "halted",
                             summary=summary, failure=reason), None)
    return out



@dataclass(frozen=True)
class DownResult:
    """What `down` removed."""

    system: str
    containers: int
    networks: int
    volumes: int | None  # None: volumes were kept



def down(ctx: Context, system: str | None = None, *, volumes: bool = False, trigger: str = "cli",
         who: str | None = None) -> DownResult:
    """Remove every container and the network of the system in ctx.env (with `volumes`, its
    named volumes too: data!). Like a deploy it refuses while the environment is frozen or
    another operation holds its lock (data dir or engine), and it is recorded in the history
    (result `down`). The system is marked halted (stopped on purpose), so the healer does not
    bring it back; the next verified deploy clears that. Raises Frozen, Locked, GitdeployError."""
    from gitdeploy.deploy import failpoint  # the crash tests' kill switch: only `down` needs it

    who = who or whoami()
    check_not_frozen(ctx.data_dir, ctx.env)
    commit = None
    if system is None:
        _, spec = load(ctx)
        system, commit = spec.system, spec.commit
    engine = ctx.engine()
    cluster = as_swarm(engine)
    started = time.time()
    with (acquire_lock(ctx.data_dir, ctx.env, trigger=trigger, reason="down", owner=who),
          engine.hold_lock(system, ctx.env, Holder.here(f"{trigger}: down", who, str(ctx.data_dir)))):
        check_not_frozen(ctx.data_dir, ctx.env)  # frozen while we took the locks
        mark_halted(ctx.data_dir, ctx.env, system, f"down by {who}", who)  # before removing: not a crash
        live = engine.analyze(system, ctx.env, inspect=False)
        if cluster is not None:
            for st in cluster.services(system, ctx.env).values():
                with failpoint.step("down"):
                    cluster.remove_service(st.id)
        else:
            for c in live.containers:
                with failpoint.step("down"):
                    engine.remove(c.id)
        nets = engine.networks(system, ctx.env)
        for n in nets:
            with failpoint.step("down"):
                engine.remove_network(n)
        vols = engine.volumes(system, ctx.env) if volumes else []
        for v in vols:
            with failpoint.step("down"):
                engine.remove_volume(v)
        if cluster is not None:
            with failpoint.step("down"):
                cluster.prune_objects(system, ctx.env, set())
        out = DownResult(system, len(live.containers), len(nets), len(vols) if volumes else None)
        deployed = _deployed_or_none(ctx) or commit
        if deployed:
            kept = "" if volumes else "; volumes kept"
            _record(ctx, Attempt(deployed, ctx.env, system, trigger, who, started, time.time(), "down",
                                 summary=f"{out.containers} container(s) removed{kept}"), None)
    return out

