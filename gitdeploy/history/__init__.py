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

__all__ = [
    "NOTES_REF", "REF_PREFIX", "Attempt", "Attempts", "RecordIncomplete", "Recorded", "RollbackCommit", "attempts",
    "deployed_commit", "make_rollback_commit", "record", "rollback_target", "verified_revision",
]


def __getattr__(name: str) -> object:
    """Rollback commits (gitdeploy.history.revert) load on first use: a deploy does not make one."""
    if name in ("RollbackCommit", "make_rollback_commit", "rollback_target"):
        from gitdeploy.history import revert

        return getattr(revert, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
