"""Deployment history in git: notes per attempt, a ref per environment, rollback commits."""

from gitdeploy.history.notes import (
    NOTES_REF,
    REF_PREFIX,
    Attempt,
    Attempts,
    Recorded,
    RecordIncomplete,
    attempts,
    deployed_commit,
    record,
    verified_revision,
)
from gitdeploy.history.revert import RollbackCommit, make_rollback_commit, rollback_target

__all__ = [
    "NOTES_REF", "REF_PREFIX", "Attempt", "Attempts", "RecordIncomplete", "Recorded", "RollbackCommit", "attempts",
    "deployed_commit", "make_rollback_commit", "record", "rollback_target", "verified_revision",
]
