"""Rollback is a commit: the environment's branch gets a commit whose tree is an earlier,
verified revision, and that commit is deployed like any other.

So git stays the truth (auto-deploys will not bring the bad change back), the rollback is
reviewable and revertable, and `git revert` by hand gives the same result: the same tree
means the same definition hashes, so the kept stopped containers are simply started.
Commits are built with plumbing (commit-tree + update-ref): no working tree is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import Attempt, attempts, clear_stale_locks, deployed_commit, identity_env

if TYPE_CHECKING:
    import git

TRAILER_OF = "Gitdeploy-Rolled-Back"  # the commit rolled back
TRAILER_TO = "Gitdeploy-Rollback-To"  # the revision whose tree was restored


@dataclass(frozen=True)
class RollbackCommit:
    commit: str  # the new commit (or the branch head, when it already had the target tree)
    branch: str
    target: str  # the revision restored
    rolled_back: str  # the revision rolled back
    created: bool  # False: the branch already had the target's tree


def _gitpython(repo: Any) -> git.Repo:
    """`repo` (a gitdeploy.plumbing.GitRepo or a git.Repo) as a git.Repo: a rollback commit is made
    with GitPython, which is imported only here (a deploy never needs it)."""
    import git

    if isinstance(repo, git.Repo):
        return repo
    return git.Repo(repo.working_tree_dir or repo.git_dir)


def rollback_target(repo: Any, env: str, to: str | None = None) -> tuple[str, str]:
    """(target, current): the revision to restore and the one being rolled back.

    `current` is the latest deploy attempt in `env` (a failed one too). Without `to`, the target
    is the newest successfully deployed revision whose tree differs from current's.
    """
    repo = _gitpython(repo)
    history = [a for a in attempts(repo, env) if a.trigger != "halt"]
    current = history[0].commit if history else deployed_commit(repo, env)
    if current is None:
        raise GitdeployError(f"nothing was ever deployed to '{env}' from this repository",
                             "deploy first; `gitdeploy history` lists what was deployed")
    if to is not None:
        return _resolve(repo, to), current
    tree = repo.commit(current).tree.hexsha
    for a in history:
        if a.result == "ok" and _tree(repo, a) not in (None, tree):
            return a.commit, current
    raise GitdeployError(
        f"no earlier verified revision to roll back to in '{env}' (current: {current[:7]})",
        "name one with --to REV; `gitdeploy history` lists what was deployed",
    )


def make_rollback_commit(
    repo: Any, env: str, to: str | None = None, branch: str | None = None,
) -> RollbackCommit:
    """Commit the target's tree on `branch` (default: the checked-out branch); see rollback_target."""
    import git

    repo = _gitpython(repo)
    target, current = rollback_target(repo, env, to)
    branch = branch or _current_branch(repo)
    ref = f"refs/heads/{branch}"
    for held in clear_stale_locks(repo, ["index.lock", f"{ref}.lock", "HEAD.lock", "packed-refs.lock"]):
        if not held.removed:
            raise GitdeployError(f"{held.path} is in the way of the rollback commit: {held.why}",
                                 f"if no git is running on {repo.git_dir}, remove it: rm {held.path}")
    try:
        parent = repo.commit(ref)
    except (ValueError, git.BadName):
        raise GitdeployError(f"no branch '{branch}' in {repo.git_dir}", "pass --branch NAME") from None
    t = repo.commit(target)
    if parent.tree.hexsha == t.tree.hexsha:
        return RollbackCommit(parent.hexsha, branch, target, current, created=False)
    message = (
        f"Roll back {env} to {target[:7]}: {t.summary}\n\n"
        f"Restores the tree of {target} in {env}.\n\n"
        f"{TRAILER_OF}: {current}\n{TRAILER_TO}: {target}\n"
    )
    checked_out = not repo.bare and _current_branch(repo, required=False) == branch
    if checked_out and repo.is_dirty(untracked_files=False):
        raise GitdeployError("the spec repository has uncommitted changes",
                             "commit or discard them first: the rollback commit updates the working tree")
    with repo.git.custom_environment(**identity_env(repo)):
        new = repo.git.commit_tree(t.tree.hexsha, "-p", parent.hexsha, "-m", message)
    if checked_out:
        repo.git.read_tree("-m", "-u", parent.hexsha, new)  # fast-forward index and files
    try:
        repo.git.update_ref("-m", f"gitdeploy rollback {env}", ref, new, parent.hexsha)
    except git.GitCommandError:
        if checked_out:
            repo.git.read_tree("-m", "-u", new, parent.hexsha)
        raise GitdeployError(f"branch '{branch}' moved while the rollback commit was made",
                             "run the rollback again") from None
    return RollbackCommit(new, branch, target, current, created=True)


def _current_branch(repo: git.Repo, required: bool = True) -> str:
    try:
        return repo.head.reference.name
    except TypeError:  # detached HEAD
        if not required:
            return ""
        raise GitdeployError("HEAD is detached: no branch to commit the rollback on",
                             "pass --branch NAME (the environment's branch)") from None


def _resolve(repo: git.Repo, rev: str) -> str:
    import git

    try:
        return repo.commit(rev).hexsha
    except (ValueError, git.BadName, git.GitCommandError):
        raise GitdeployError(f"no commit '{rev}' in {repo.git_dir}", "pass a commit, tag or branch") from None


def _tree(repo: git.Repo, a: Attempt) -> str | None:
    import git

    try:
        return repo.commit(a.commit).tree.hexsha
    except (ValueError, git.BadName):
        return None
