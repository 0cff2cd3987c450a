"""What the safe-deploy features say, read in one place: the deployed commit, freeze, halt, lock.

Each reader prefers the real implementation (gitdeploy.history, gitdeploy.deploy.freeze and
.lock) and falls back to reading the same state directly while those are not installed.
"""

from __future__ import annotations

import git

from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import verified_revision
from gitdeploy.pipeline import Context


def deployed_commit(ctx: Context) -> str:
    """The commit last deployed and verified to ctx.env (refs/gitdeploy/<env>).

    Never HEAD: drift is measured against, and repairs deploy, only what was verified. A
    missing or broken ref is a GitdeployError that says how to repair it.
    """
    try:
        repo = git.Repo(ctx.repo)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitdeployError(f"{ctx.repo} is not a git repository", "use --repo to name the spec repository") from None
    return verified_revision(repo, ctx.env)


def frozen(ctx: Context) -> str | None:
    """Why ctx.env is frozen (who, since, reason), or None."""
    try:
        from gitdeploy.deploy.freeze import frozen as read
    except ImportError:
        return None
    brake = read(ctx.data_dir, ctx.env)
    return brake.describe() if brake else None


def halted(ctx: Context, system: str) -> str | None:
    """Why `system` is halted in ctx.env (stopped on purpose: not drift), or None."""
    try:
        from gitdeploy.deploy.freeze import halted as read
    except ImportError:
        return None
    brake = read(ctx.data_dir, ctx.env, system)
    return brake.describe() if brake else None


def deploying(ctx: Context, system: str | None = None) -> str | None:
    """Who deploys now (a deploy is changing the system), or None: the holder of ctx.env's
    deploy lock, else of `system`'s engine lock (a deploy from another data dir)."""
    try:
        from gitdeploy.deploy.lock import holder
    except ImportError:
        return None
    held = holder(ctx.data_dir, ctx.env)
    if held:
        return held.describe()
    if system is None:
        return None
    from gitdeploy.live.enginelock import held as engine_held

    lock = engine_held(ctx.docker(), system, ctx.env)
    return f"{lock.describe()} (engine lock)" if lock else None
