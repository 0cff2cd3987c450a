"""Truth under interruption: the journal's intent, and recovery of an attempt left behind.

Whoever next takes the environment's lock and finds a journal recovers first: back to the last
verified revision, verified, and the attempt recorded as `interrupted`."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass

from gitdeploy.deploy.journal import Journal, Unfinished
from gitdeploy.deploy.journal import read as journal_read
from gitdeploy.deploy.lock import acquire as acquire_lock
from gitdeploy.deploy.lock import env_dir, whoami
from gitdeploy.deploy.result import Event, EventSink
from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import Attempt, deployed_commit, open_repo
from gitdeploy.live.engine import aliases_for
from gitdeploy.live.enginelock import EngineLock, Holder
from gitdeploy.pipeline.context import Context, Prepared, load
from gitdeploy.pipeline.record import _record
from gitdeploy.pipeline.transaction import converge, discard, kept, prepare, restore, verify_target
from gitdeploy.plan.rollout import Kept
from gitdeploy.spec.model import Spec
from gitdeploy.spec.source import SpecSource


def _intent(ctx: Context, prepared: Prepared, verified: str | None, trigger: str, who: str) -> dict:
    plan = prepared.plan
    services = {}
    if plan.engine == "swarm":
        from gitdeploy.pipeline import swarm

        services = {"services": swarm.journal_services(prepared)}
    return {
        "system": prepared.spec.system, "env": ctx.env, "target": prepared.spec.commit or "",
        "verified_before": verified or "", "trigger": trigger, "who": who,
        "only": sorted(prepared.only) if prepared.only is not None else None,
        "before": [asdict(k) for k in kept(prepared.live)],
        "steps": [{"path": s.path, "action": s.change.action, "ops": [op.describe() for op in s.ops]}
                  for s in plan.steps],
        **services,
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
        engine_lock = ctx.engine().hold_lock(
            system, ctx.env, Holder.here("recover an interrupted deploy", who, str(ctx.data_dir))) if system \
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
        fence(ctx, left, say)
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
        elif system and ctx.engine_kind == "swarm":
            from gitdeploy.pipeline import swarm

            v = swarm.restore_journaled(ctx, system, left.intent, say, only)
            outcome = "every service it touched back at its previous spec"
        elif system:
            before = tuple(Kept(str(k["id"]), str(k["service"]), int(k["replica"]), bool(k["healthcheck"]))
                           for k in left.intent.get("before") or [])
            spec_aliases: dict[str, tuple[str, ...]] = {}
            try:
                _, spec = load(ctx, left.target) if left.target else (None, None)
                spec_aliases = aliases_for(spec) if spec else {}
            except GitdeployError:
                pass
            v = restore(ctx, system, before, spec_aliases, say, journal, only=only)
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



def fence(ctx: Context, left: Unfinished, say: Callable[[str, str, str], None]) -> None:
    """Wait for what the dead process had asked the engine to do and not seen done.

    A stop it sent goes on in the engine after the process is gone (up to the container's grace
    period), and so does a drain: looked at too early, the replica is still running and in DNS,
    so the recovery would verify it - and it would go away afterwards, unseen. Each such request
    is sent again (a stop of a stopped container, a drain of a drained one, change nothing) and
    waited for, all at once, before anything is looked at; the plan that follows repairs what
    they took away. Raises GitdeployError (the engine cannot be reached)."""
    pending = left.in_flight
    system = str(left.intent.get("system") or "")
    if not pending or not system:
        return
    engine = ctx.engine()

    def again(r: dict) -> None:
        cid = str(r.get("cid") or "")
        say(str(r.get("step") or ""), "recovery",
            f"the interrupted process had asked the engine to {r['sending']} container {cid} and had not seen "
            "it done: asking again, and waiting for it")
        if r["sending"] == "stop":
            grace = r.get("seconds")
            engine.stop(cid, float(grace) if isinstance(grace, (int, float)) else 10.0)
        elif r["sending"] == "drain":
            engine.drain(cid, system, ctx.env)

    with ThreadPoolExecutor(max_workers=min(8, len(pending))) as pool:
        for future in [pool.submit(again, r) for r in pending]:
            future.result()



def _engine_lock(ctx: Context, loaded: tuple[SpecSource, Spec] | None, rev: str, trigger: str,
                 who: str) -> AbstractContextManager[EngineLock | None]:
    """The engine lock of the system (see live.enginelock); none when the spec or the engine
    cannot be read: prepare then fails, and records that."""
    try:
        engine = ctx.engine()
    except GitdeployError:
        return nullcontext()
    if loaded is None:
        return nullcontext()
    return engine.hold_lock(loaded[1].system, ctx.env, Holder.here(f"{trigger}: deploy {rev}", who, str(ctx.data_dir)))

