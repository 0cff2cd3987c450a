"""What the git hooks do. Each takes the repository, its input and an `emit` for the lines the
pusher (or committer) sees; each returns the hook's exit status.
"""

from __future__ import annotations

import os
from pathlib import Path

import git

from gitdeploy.errors import GitdeployError
from gitdeploy.hooks import jobs, repoconfig
from gitdeploy.hooks.report import Emit, deploy_told
from gitdeploy.hooks.validate import Verdict, check_commit, check_index, new_commits, parse_updates
from gitdeploy.pipeline import Context
from gitdeploy.server.datadir import server_running
from gitdeploy.spec.source import SPEC_FILE

PUSHER_VARIABLES = ("GITDEPLOY_PUSHER", "GL_USERNAME", "REMOTE_USER")


def pre_receive(ctx: Context, stdin: str, emit: Emit) -> int:
    """Reject the push (1) when a new commit on an environment branch has an invalid spec."""
    repo = git.Repo(ctx.repo)
    failed = False
    for update in parse_updates(stdin):
        envs = repoconfig.environments_for_ref(repo, update.ref)
        if not envs or update.deleted:
            continue
        commits = new_commits(repo, update)
        branch = update.ref.removeprefix("refs/heads/")
        emit(f"gitdeploy: checking {len(commits)} new commit(s) on {branch} ({', '.join(envs)})")
        secrets = ctx.secrets()
        for sha in commits:
            verdict = check_commit(repo, sha, secrets)
            # History from before gitdeploy may lack a spec; the head must have one.
            if verdict.missing and sha != update.new:
                continue
            if not verdict.ok:
                failed = True
                _tell_problems(verdict, emit)
    if failed:
        emit("gitdeploy: push REJECTED: fix the spec and push again (nothing was deployed)")
        return 1
    return 0


def _tell_problems(verdict: Verdict, emit: Emit) -> None:
    if verdict.missing:
        emit(f"gitdeploy: {verdict.label}: no {SPEC_FILE} at the root of the commit")
        return
    emit(f"gitdeploy: {verdict.label}: the spec is invalid ({len(verdict.problems)} problem(s)):")
    for p in verdict.problems:
        emit(f"  {p.location()}: {p.message}")
        if p.hint:
            emit(f"      hint: {p.hint}")


def post_receive(ctx: Context, stdin: str, emit: Emit) -> int:
    """Deploy the new head of every updated environment branch; 1 when a deploy failed."""
    repo = git.Repo(ctx.repo)
    who = pusher(repo)
    status = 0
    for update in parse_updates(stdin):
        if update.deleted:
            continue
        for env in repoconfig.environments_for_ref(repo, update.ref):
            env_ctx = Context(repo=ctx.repo, env=env, data_dir=ctx.data_dir, docker_host=ctx.docker_host,
                              secrets_dir=ctx.secrets_dir, client=ctx.client)
            ok = _deploy(env_ctx, update.new, update.ref, who, emit)
            status = status or (0 if ok else 1)
    return status


def _deploy(ctx: Context, sha: str, ref: str, who: str, emit: Emit) -> bool:
    emit(f"gitdeploy: deploying {sha[:7]} to {ctx.env} (pushed by {who})")
    if server_running(ctx.data_dir):
        job_id = jobs.enqueue(ctx.data_dir, ctx.repo, sha, ref, ctx.env, who)
        bound = jobs.follow_seconds()
        emit(f"gitdeploy: queued as job {job_id} on the gitdeploy server; following it for up to "
             f"{_span(bound)} (GITDEPLOY_HOOK_FOLLOW)")
        job = jobs.follow(ctx.data_dir, job_id, emit, timeout=bound, unclaimed=jobs.unclaimed_seconds())
        if job is None or job.state not in jobs.FINAL:
            state = job.state if job else "missing"
            if not server_running(ctx.data_dir):
                emit(f"gitdeploy: the server stopped while job {job_id} was {state}; when it starts again the "
                     f"job runs only if {sha[:7]} is still the head of {ref.removeprefix('refs/heads/')}")
            else:
                emit(f"gitdeploy: stopped following job {job_id} after {_span(bound)}; it is still {state} "
                     "and goes on without you (see the dashboard)")
            emit(f"gitdeploy: {environment_state(ctx)}")
            return True
        if not job.result.startswith(jobs.WITHDRAWN):
            if job.state != "done":
                emit(f"gitdeploy: job {job_id} {job.state}: {job.result}")
            return job.state in ("done", "superseded")  # superseded: a newer push deploys
        emit(f"gitdeploy: no server worker took job {job_id}; deploying directly")
    try:
        result = deploy_told(ctx, sha, who, emit)
    except GitdeployError as exc:
        emit(f"gitdeploy: error: {exc.message}")
        if exc.hint:
            emit(f"  hint: {exc.hint}")
        return False
    if not result.ok:
        emit("gitdeploy: the push is in git but NOT deployed; `git revert` and push to go back for good")
    return result.ok


def environment_state(ctx: Context) -> str:
    """One line: the environment's last verified revision and whether a deploy is running now."""
    from gitdeploy.deploy.lock import holder
    from gitdeploy.history.notes import deployed_commit

    try:
        at = deployed_commit(git.Repo(ctx.repo), ctx.env)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        at = None
    verified = f"last verified at {at[:7]}" if at else "never verified (nothing deployed yet)"
    held = holder(ctx.data_dir, ctx.env)
    now = f"a deploy is running ({held.describe()})" if held else "no deploy is running"
    return f"{ctx.env} is {verified}; {now}"


def _span(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g}s"


def pusher(repo: git.Repo) -> str:
    """Who pushed: a forge's variable when set, else the account the hook runs as (user@host).

    Over ssh or on the same machine the hook runs as the pushing account; the repository's
    `user.name` would name whoever configured the server, not the pusher.
    """
    for name in PUSHER_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    from gitdeploy.deploy.lock import whoami

    return whoami()


def pre_commit(repo_path: Path, emit: Emit) -> int:
    """Block the commit (1) when the staged gitdeploy.yaml is invalid."""
    try:
        repo = git.Repo(repo_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return 0
    verdict = check_index(repo)
    if verdict is None or verdict.ok:
        return 0
    _tell_problems(verdict, emit)
    emit("gitdeploy: commit blocked; fix the spec and `git add` it (or `git commit --no-verify` to skip)")
    return 1
