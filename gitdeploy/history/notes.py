"""The deployment history, kept in the spec repository itself.

- Every attempt is one JSON line in a git note on the commit deployed, under
  `refs/notes/gitdeploy` (appended; a commit deployed five times has five lines).
- `refs/gitdeploy/<env>` points at the commit last deployed *and verified* in an environment;
  a failed deploy never moves it (nscale marked failed deploys as deployed, #40).

Only git plumbing is used, so this works in bare repositories (server-side hooks) too.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import git

from gitdeploy.errors import GitdeployError

NOTES_REF = "refs/notes/gitdeploy"
REF_PREFIX = "refs/gitdeploy/"
RESULTS = ("ok", "failed", "rolled-back", "paused", "halted")


@dataclass(frozen=True)
class Attempt:
    """One deployment attempt (or halt) of a commit in an environment."""

    commit: str
    env: str
    system: str
    trigger: str  # cli, push, comment, hook, heal, rollback, halt
    who: str
    started: float  # unix time
    ended: float
    result: str  # ok | failed | rolled-back | paused | halted
    summary: str = ""  # the plan's summary ("1 to replace, 3 unchanged")
    verified: str = ""  # "8/8" containers at the target ("" when not verified)
    failure: str = ""

    @property
    def duration(self) -> float:
        return max(0.0, self.ended - self.started)

    def to_json(self) -> str:
        data = asdict(self)
        del data["commit"]  # the note's commit says it
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, commit: str, line: str) -> Attempt | None:
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)} - {"commit"}
        try:
            return cls(commit=commit, **{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None


def open_repo(path: Path | str) -> git.Repo:
    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitdeployError(f"{path} is not a git repository", "pass --repo PATH to the spec repository") from None


def identity_env(repo: git.Repo) -> dict[str, str]:
    """Author/committer variables for plumbing that writes commits, where git config has none."""
    reader = repo.config_reader()
    env: dict[str, str] = {}
    if not reader.get_value("user", "name", ""):
        env |= {"GIT_AUTHOR_NAME": "gitdeploy", "GIT_COMMITTER_NAME": "gitdeploy"}
    if not reader.get_value("user", "email", ""):
        env |= {"GIT_AUTHOR_EMAIL": "gitdeploy@localhost", "GIT_COMMITTER_EMAIL": "gitdeploy@localhost"}
    return env


def record(repo: git.Repo, attempt: Attempt) -> None:
    """Append `attempt` to its commit's note; move refs/gitdeploy/<env> when it succeeded."""
    line = attempt.to_json()
    for tries in range(20):  # concurrent writers (other environments) race on the notes ref
        try:
            with repo.git.custom_environment(**identity_env(repo)):
                repo.git.notes("--ref", NOTES_REF, "append", "-m", line, attempt.commit)
            break
        except git.GitCommandError as exc:
            if "lock" not in str(exc) or tries == 19:
                raise GitdeployError(f"could not record the attempt in git notes: {exc.stderr.strip()}") from None
            time.sleep(0.05)
    if attempt.result == "ok":
        repo.git.update_ref("-m", f"gitdeploy: deployed to {attempt.env}", REF_PREFIX + attempt.env, attempt.commit)


def deployed_commit(repo: git.Repo, env: str) -> str | None:
    """The commit last deployed and verified in `env` (refs/gitdeploy/<env>), or None."""
    try:
        return repo.git.rev_parse("--verify", "-q", REF_PREFIX + env + "^{commit}") or None
    except git.GitCommandError:
        return None


def attempts(repo: git.Repo, env: str | None = None) -> list[Attempt]:
    """Every recorded attempt (of `env`, or of all environments), newest first."""
    try:
        listing = repo.git.notes("--ref", NOTES_REF, "list")
    except git.GitCommandError:
        return []  # no notes yet
    out: list[Attempt] = []
    for row in listing.splitlines():
        note, _, commit = row.partition(" ")
        if not commit:
            continue
        text = repo.odb.stream(bytes.fromhex(note)).read().decode(errors="replace")
        for line in text.splitlines():
            if line.strip():
                a = Attempt.from_json(commit, line)
                if a and (env is None or a.env == env):
                    out.append(a)
    out.sort(key=lambda a: (a.started, a.ended), reverse=True)
    return out


def subject(repo: git.Repo, commit: str) -> str:
    """The commit's first line ("(commit not found)" when it is gone)."""
    try:
        summary = repo.commit(commit).summary
    except (ValueError, git.BadName):
        return "(commit not found)"
    return summary if isinstance(summary, str) else summary.decode(errors="replace")
