"""Deployment history in git: notes per attempt, a ref per environment, rollback commits."""

from gitdeploy.history.notes import NOTES_REF, REF_PREFIX, Attempt, attempts, deployed_commit, record
from gitdeploy.history.revert import RollbackCommit, make_rollback_commit, rollback_target

__all__ = [
    "NOTES_REF", "REF_PREFIX", "Attempt", "RollbackCommit", "attempts", "deployed_commit", "make_rollback_commit",
    "record", "rollback_target",
]
