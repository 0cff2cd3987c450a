"""The deployment history, kept in the spec repository itself.

- Every attempt is one JSON line in a git note on the commit deployed, under
  `refs/notes/gitdeploy` (appended; a commit deployed five times has five lines).
- `refs/gitdeploy/<env>` points at the commit last deployed *and verified* in an environment;
  a failed deploy never moves it (nscale marked failed deploys as deployed, #40).

Only git plumbing is used (gitdeploy.plumbing: the `git` command line, no GitPython), so this works
in bare repositories (server-side hooks) too. Functions take a gitdeploy.plumbing.GitRepo (see
`open_repo`) or a `git.Repo`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitdeploy.errors import GitdeployError
from gitdeploy.plumbing import GitRepo, as_repo, commit_summary, find_repo

if TYPE_CHECKING:
    from gitdeploy.history.gitlocks import LockVerdict

NOTES_REF = "refs/notes/gitdeploy"
REF_PREFIX = "refs/gitdeploy/"


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
    result: str  # ok | failed | rolled-back | paused | halted | down | interrupted
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
        """The attempt on one note line; None when the line is not one (bad JSON or wrong types)."""
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        values: dict = {}
        for f in fields(cls):
            if f.name == "commit" or f.name not in data:
                continue
            v = data[f.name]
            if f.type == "float":
                if isinstance(v, bool) or not isinstance(v, int | float):
                    return None
                v = float(v)
            elif not isinstance(v, str):
                return None
            values[f.name] = v
        try:
            return cls(commit=commit, **values)
        except TypeError:  # a required field is missing
            return None


class Attempts(list):
    """A list of Attempt, plus how many note lines could not be read (`skipped`)."""

    skipped: int = 0


@dataclass(frozen=True)
class Recorded:
    """What `record` wrote: the ref (moved for a verified attempt) and the note line."""

    ref_moved: bool
    note_written: bool


class RecordIncomplete(GitdeployError):
    """The attempt was recorded only in part; `recorded` says which part made it."""

    def __init__(self, message: str, hint: str, recorded: Recorded) -> None:
        super().__init__(message, hint)
        self.recorded = recorded


Repo = Any  # a gitdeploy.plumbing.GitRepo or a git.Repo


def open_repo(path: Path | str) -> GitRepo:
    """The repository at `path` (its working tree or its git dir; see gitdeploy.plumbing.find_repo)."""
    repo = find_repo(path)
    if repo is None:
        raise GitdeployError(f"{path} is not a git repository", "pass --repo PATH to the spec repository")
    return repo


def identity_env(repo: Repo) -> dict[str, str]:
    """Author/committer variables for plumbing that writes commits, where git config has none."""
    out = as_repo(repo).run(["config", "--get-regexp", r"^user\.(name|email)$"])
    given = {line.split(" ", 1)[0].lower(): line.partition(" ")[2] for line in out.stdout.splitlines()}
    env: dict[str, str] = {}
    if not given.get("user.name"):
        env |= {"GIT_AUTHOR_NAME": "gitdeploy", "GIT_COMMITTER_NAME": "gitdeploy"}
    if not given.get("user.email"):
        env |= {"GIT_AUTHOR_EMAIL": "gitdeploy@localhost", "GIT_COMMITTER_EMAIL": "gitdeploy@localhost"}
    return env


def record(repo: Repo, attempt: Attempt) -> Recorded:
    """Record `attempt`: move refs/gitdeploy/<env> first when it succeeded, then append its note.

    The two are independent: a note that cannot be written (a stale lock, a full disk) never
    keeps the ref from moving, so the environment's last verified revision stays true and the
    healer never "repairs" back to an older one. The note goes to git on stdin (any size).
    Raises RecordIncomplete (a GitdeployError saying what is missing) when either failed.
    """
    problems: list[str] = []
    moved = False
    if attempt.result == "ok":
        ref = REF_PREFIX + attempt.env
        try:
            _git(repo, ["update-ref", "-m", f"gitdeploy: deployed to {attempt.env}", ref, attempt.commit])
            moved = True
        except GitdeployError as exc:
            problems.append(f"{ref} was NOT moved to {attempt.commit[:7]} ({exc.message})")
    try:
        _append_note(repo, attempt)
        noted = True
    except GitdeployError as exc:
        noted = False
        problems.append(f"the history note of {attempt.commit[:7]} in {attempt.env} is missing ({exc.message})")
    done = Recorded(moved, noted)
    if problems:
        if moved:
            problems.append(f"{REF_PREFIX}{attempt.env} was moved to {attempt.commit[:7]}")
        hints = ["the deploy itself is as reported; fix the cause above"]
        if attempt.result == "ok" and not moved:
            hints.append(f"then move the ref by hand: git update-ref {REF_PREFIX}{attempt.env} {attempt.commit}")
        if not noted:
            hints.append(f"then add the line by hand if it matters: git notes --ref {NOTES_REF} append -m "
                         f"'<the attempt as JSON>' {attempt.commit}")
        raise RecordIncomplete("; ".join(problems), ", ".join(hints), done)
    return done


def _append_note(repo: Repo, attempt: Attempt) -> None:
    """`git notes append` the attempt's line. Where git config names nobody, the notes commit is
    gitdeploy's (identity_env); git is asked to use config only, so the config is read (one more
    git) only when it lacks a name or an e-mail address."""
    args = ["notes", "--ref", NOTES_REF, "append", "-F", "-", attempt.commit]
    line = attempt.to_json() + "\n"
    try:
        _git(repo, ["-c", "user.useConfigOnly=true", *args], stdin=line)
    except GitdeployError as exc:
        if "auto-detection is disabled" not in exc.message:
            raise
        _git(repo, args, stdin=line, env=identity_env(repo))


def _git(repo: Repo, args: list[str], stdin: str | None = None, env: dict[str, str] | None = None,
         patience: float = 2.0) -> str:
    """Run a git plumbing write in `repo`; a stale lock is cleared (see gitlocks), a busy one waited
    for up to `patience` seconds (concurrent environments append notes too).

    Raises GitdeployError with git's message (and the lock, when one is in the way).
    """
    repo = as_repo(repo)
    name = next(a for a in args if not a.startswith("-") and "=" not in a)  # the command, after -c k=v
    dirs = [Path(repo.git_dir)] + ([Path(repo.working_tree_dir)] if repo.working_tree_dir else [])
    deadline = time.monotonic() + patience
    verdict = None
    while True:
        out = repo.run(args, stdin=stdin, env=env)
        if out.returncode == 0:
            return out.stdout
        err = " ".join(out.stderr.split())
        from gitdeploy.history.gitlocks import clear_if_stale, lock_in  # only when git failed

        lock = lock_in(err) if ".lock" in err else None
        if lock is not None and time.monotonic() < deadline:
            verdict = clear_if_stale(lock, dirs)
            if verdict is None or verdict.removed:
                continue  # gone (or removed as stale): try again at once
            time.sleep(0.1)  # another writer holds it for a moment
            continue
        if lock is not None and verdict is not None and not verdict.removed:
            raise GitdeployError(f"git {name} failed: {lock} is in the way: {verdict.why}",
                                 f"if no git is running on {repo.git_dir}, remove it: rm {lock}")
        raise GitdeployError(f"git {name} failed: {err[:500] or f'exit {out.returncode}'}")


def clear_stale_locks(repo: Repo, names: list[str]) -> list[LockVerdict]:
    """Look at `names` (e.g. "index.lock", "refs/heads/main.lock") in the git dir; clear stale ones."""
    from gitdeploy.history.gitlocks import clear_if_stale

    dirs = [Path(repo.git_dir)] + ([Path(repo.working_tree_dir)] if repo.working_tree_dir else [])
    found = [clear_if_stale(Path(repo.git_dir) / n, dirs) for n in names]
    return [v for v in found if v is not None]


def deployed_commit(repo: Repo, env: str) -> str | None:
    """The commit last deployed and verified in `env` (refs/gitdeploy/<env>), or None."""
    return as_repo(repo).rev(REF_PREFIX + env)


def verified_revision(repo: Repo, env: str) -> str:
    """The last verified revision of `env` (refs/gitdeploy/<env>); never a guess such as HEAD.

    Raises GitdeployError saying how to repair it when the ref is missing or broken.
    """
    sha = deployed_commit(repo, env)
    if sha:
        return sha
    ref = REF_PREFIX + env
    fix = f"git update-ref {ref} <sha of the commit that runs>"
    if _ref_exists(repo, ref):
        raise GitdeployError(
            f"{ref} is broken in {repo.git_dir}: it does not name a commit, so the last verified revision "
            f"of '{env}' is unknown",
            f"point it at the commit that runs: `{fix}` (if git refuses, `git update-ref -d {ref}` or remove "
            f"{Path(repo.git_dir) / ref} first), or deploy a commit")
    raise GitdeployError(
        f"nothing was deployed to '{env}' from this repository ({ref} is missing): there is no verified "
        "revision to compare with or repair to",
        f"deploy a commit first (`gitdeploy deploy`), or record the one that runs: `{fix}`")


def _ref_exists(repo: Repo, ref: str) -> bool:
    if (Path(repo.git_dir) / ref).exists():
        return True
    try:
        packed = (Path(repo.git_dir) / "packed-refs").read_text(errors="replace")
    except OSError:
        return False
    return any(line.split(" ", 1)[-1].strip() == ref for line in packed.splitlines())


def attempts(repo: Repo, env: str | None = None) -> Attempts:
    """Every recorded attempt (of `env`, or of all environments), newest first.

    A note line that is not an attempt (bad JSON, wrong types: notes are shared and editable)
    is skipped and counted in the result's `skipped`; it never breaks the history.
    """
    out = Attempts()
    repo = as_repo(repo)
    listing = repo.run(["notes", "--ref", NOTES_REF, "list"])
    if listing.returncode != 0:
        return out  # no notes yet
    for row in listing.stdout.splitlines():
        note, _, commit = row.partition(" ")
        if not commit:
            continue
        found = repo.objects().get(note)
        if found is None or found[1] != "blob":
            out.skipped += 1
            continue
        text = found[2].decode(errors="replace")
        for line in text.splitlines():
            if line.strip():
                a = Attempt.from_json(commit, line)
                if a is None:
                    out.skipped += 1
                elif env is None or a.env == env:
                    out.append(a)
    out.sort(key=lambda a: (a.started, a.ended), reverse=True)
    return out


def subject(repo: Repo, commit: str) -> str:
    """The commit's first line ("(commit not found)" when it is gone)."""
    found = as_repo(repo).commit(commit)
    return "(commit not found)" if found is None else commit_summary(found[1])
