"""Validate the spec in commits a push brings, or in the index before a commit exists.

Both read through `GitSource`, so server-side hooks work in bare repositories (and inside git's
quarantine during pre-receive, whose objects the `git` subprocesses see through the
environment git sets for the hook).
"""

from __future__ import annotations

from dataclasses import dataclass

import git

from gitdeploy.errors import Problem, SpecInvalid
from gitdeploy.history.notes import identity_env
from gitdeploy.spec.engines import DEFAULT_ENGINE
from gitdeploy.spec.load import load_spec
from gitdeploy.spec.secrets import SecretStore
from gitdeploy.spec.source import SPEC_FILE, GitSource

ZERO = "0" * 40


@dataclass(frozen=True)
class Update:
    """One line of pre-/post-receive input: a ref moved from `old` to `new`."""

    old: str
    new: str
    ref: str

    @property
    def deleted(self) -> bool:
        return self.new == ZERO

    @property
    def created(self) -> bool:
        return self.old == ZERO


def parse_updates(text: str) -> list[Update]:
    """The `<old> <new> <ref>` lines git feeds receive hooks on standard input."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append(Update(*parts))
    return out


def new_commits(repo: git.Repo, update: Update) -> list[str]:
    """The commits `update` adds, oldest first: old..new, or for a new branch every commit not
    already on another branch (commits already there were checked when they were pushed)."""
    if update.deleted:
        return []
    if update.created:
        args = [update.new, "--not", "--branches"]
    else:
        args = [f"{update.old}..{update.new}"]
    out = repo.git.rev_list("--reverse", *args)
    return out.split() if out else []


@dataclass(frozen=True)
class Verdict:
    """The spec of one commit (or of the index): valid, or its problems."""

    label: str  # "1a2b3c4 subject" or "the staged spec"
    problems: tuple[Problem, ...] = ()
    missing: bool = False  # no gitdeploy.yaml at all

    @property
    def ok(self) -> bool:
        return not self.problems and not self.missing


def check_commit(repo: git.Repo, sha: str, secrets: SecretStore | None, engine: str = DEFAULT_ENGINE) -> Verdict:
    """Load and validate the spec at `sha` for `engine` (docker or swarm)."""
    commit = repo.commit(sha)
    summary = commit.summary if isinstance(commit.summary, str) else commit.summary.decode(errors="replace")
    return _check(GitSource(repo, sha), f"{sha[:7]} {summary}", secrets, engine)


def check_index(repo: git.Repo, engine: str = DEFAULT_ENGINE) -> Verdict | None:
    """Validate the staged spec (the index) for `engine`; None when the index holds no gitdeploy.yaml.

    The index is written as a tree and wrapped in a throw-away commit object (never referenced,
    collected by `git gc`), so loading reads exactly what the commit would contain. Secrets are
    not checked: they live on the deploying host, not in clones.
    """
    tree = repo.git.write_tree()
    try:
        repo.git.cat_file("-e", f"{tree}:{SPEC_FILE}")
    except git.GitCommandError:
        return None
    with repo.git.custom_environment(**identity_env(repo)):
        sha = repo.git.commit_tree(tree, "-m", "gitdeploy pre-commit check")
    return _check(GitSource(repo, sha), "the staged spec", None, engine)


def _check(source: GitSource, label: str, secrets: SecretStore | None, engine: str = DEFAULT_ENGINE) -> Verdict:
    if source.kind(SPEC_FILE) != "file":
        return Verdict(label, missing=True)
    try:
        load_spec(source, secrets, engine)
    except SpecInvalid as exc:
        return Verdict(label, tuple(exc.problems))
    return Verdict(label)
