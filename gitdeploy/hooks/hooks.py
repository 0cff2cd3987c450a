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
from gitdeploy.render import lines
from gitdeploy.server.datadir import server_running
from gitdeploy.spec.engines import DEFAULT_ENGINE
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
        emit(lines.checking_line(len(commits), branch, envs))
        secrets = ctx.secrets()
        # each engine the branch deploys to: keys one cannot honour are problems (placement on docker)
        engines = sorted({repoconfig.engine_settings(repo, env).engine or ctx.engine_kind for env in envs})
        for sha in commits:
            for engine in engines:
                verdict = check_commit(repo, sha, secrets, engine)
                # History from before gitdeploy may lack a spec; the head must have one.
                if verdict.missing and sha != update.new:
                    break
                if not verdict.ok:
                    failed = True
                    _tell_problems(verdict, emit)
                    break  # one engine's problems are enough for the pusher to act on
    if failed:
        emit(lines.rejected_line())
        return 1
    return 0


def _tell_problems(verdict: Verdict, emit: Emit) -> None:
    told = [lines.missing_spec_line(verdict.label, SPEC_FILE)] if verdict.missing else lines.problem_lines(
        verdict.label, verdict.problems)
    for line in told:
        emit(line)


def post_receive(ctx: Context, stdin: str, emit: Emit) -> int:
    """Deploy the new head of every updated environment branch; 1 when a deploy failed."""
    repo = git.Repo(ctx.repo)
    who = pusher(repo)
    status = 0
    for update in parse_updates(stdin):
        if update.deleted:
            continue
        for env in repoconfig.environments_for_ref(repo, update.ref):
            try:
                env_ctx = repoconfig.environment_context(ctx, env)
            except GitdeployError as exc:  # a bad gitdeploy.env.<env>.* setting: this environment only
                emit(lines.deploying_line(update.new, env, who))
                for line in lines.error_lines(exc.message, exc.hint):
                    emit(line)
                status = 1
                continue
            ok = _deploy(env_ctx, update.new, update.ref, who, emit)
            status = status or (0 if ok else 1)
    return status


def _deploy(ctx: Context, sha: str, ref: str, who: str, emit: Emit) -> bool:
    emit(lines.deploying_line(sha, ctx.env, who))
    if server_running(ctx.data_dir):
        job_id = jobs.enqueue(ctx.data_dir, ctx.repo, sha, ref, ctx.env, who, jobs.engine_of(ctx))
        bound = jobs.follow_seconds()
        emit(lines.queued_line(job_id, bound))
        job = jobs.follow(ctx.data_dir, job_id, emit, timeout=bound, unclaimed=jobs.unclaimed_seconds())
        if job is None or job.state not in jobs.FINAL:
            state = job.state if job else "missing"
            if not server_running(ctx.data_dir):
                emit(lines.server_stopped_line(job_id, state, sha, ref.removeprefix("refs/heads/")))
            else:
                emit(lines.left_job_line(job_id, bound, state))
            emit(f"gitdeploy: {environment_state(ctx)}")
            return True
        if not job.result.startswith(jobs.WITHDRAWN):
            if job.state != "done":
                emit(lines.job_ended_line(job_id, job.state, job.result))
            return job.state in ("done", "superseded")  # superseded: a newer push deploys
        emit(lines.unclaimed_line(job_id))
    try:
        result = deploy_told(ctx, sha, who, emit)
    except GitdeployError as exc:
        for line in lines.error_lines(exc.message, exc.hint):
            emit(line)
        return False
    if not result.ok:
        emit(lines.not_deployed_line())
    return result.ok


def environment_state(ctx: Context) -> str:
    """One line: the environment's last verified revision and whether a deploy is running now."""
    from gitdeploy.deploy.lock import holder
    from gitdeploy.history.notes import deployed_commit

    try:
        at = deployed_commit(git.Repo(ctx.repo), ctx.env)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        at = None
    held = holder(ctx.data_dir, ctx.env)
    return lines.environment_line(ctx.env, at, held.describe() if held else "")


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


def pre_commit(repo_path: Path, emit: Emit, engine: str = DEFAULT_ENGINE) -> int:
    """Block the commit (1) when the staged gitdeploy.yaml is invalid for `engine` (a clone does not
    know where its branches deploy: the committer's --engine / GITDEPLOY_ENGINE says)."""
    try:
        repo = git.Repo(repo_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return 0
    verdict = check_index(repo, engine)
    if verdict is None or verdict.ok:
        return 0
    _tell_problems(verdict, emit)
    emit(lines.commit_blocked_line())
    return 1
