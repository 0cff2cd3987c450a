"""What the safe-deploy features say, read in one place for the healer: the deployed commit,
freeze, halt, and who deploys right now (gitdeploy.history, gitdeploy.deploy.freeze and .lock,
and the engine lock)."""

from __future__ import annotations

from gitdeploy.deploy.freeze import frozen as read_freeze
from gitdeploy.deploy.freeze import halted as read_halt
from gitdeploy.deploy.lock import holder
from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import verified_revision
from gitdeploy.pipeline import Context
from gitdeploy.plumbing import find_repo


def deployed_commit(ctx: Context) -> str:
    """The commit last deployed and verified to ctx.env (refs/gitdeploy/<env>).

    Never HEAD: drift is measured against, and repairs deploy, only what was verified. A
    missing or broken ref is a GitdeployError that says how to repair it.
    """
    repo = find_repo(ctx.repo)
    if repo is None:
        raise GitdeployError(f"{ctx.repo} is not a git repository", "use --repo to name the spec repository")
    return verified_revision(repo, ctx.env)


def frozen(ctx: Context) -> str | None:
    """Why ctx.env is frozen (who, since, reason), or None."""
    brake = read_freeze(ctx.data_dir, ctx.env)
    return brake.describe() if brake else None


def halted(ctx: Context, system: str) -> str | None:
    """Why `system` is halted in ctx.env (stopped on purpose: not drift), or None."""
    brake = read_halt(ctx.data_dir, ctx.env, system)
    return brake.describe() if brake else None


def deploying(ctx: Context, system: str | None = None) -> str | None:
    """Who deploys now (a deploy is changing the system), or None: the holder of ctx.env's
    deploy lock, else of `system`'s engine lock (a deploy from another data dir)."""
    held = holder(ctx.data_dir, ctx.env)
    if held:
        return held.describe()
    if system is None:
        return None
    lock = ctx.engine().lock_holder(system, ctx.env)
    return f"{lock.describe()} (engine lock)" if lock else None
