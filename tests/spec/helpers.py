"""Real spec repositories in a temporary directory, read through GitSource or WorktreeSource."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import git

from gitdeploy.spec.load import load_spec, validate_spec
from gitdeploy.spec.model import Spec
from gitdeploy.spec.secrets import SecretStore
from gitdeploy.spec.source import GitSource, SpecSource, WorktreeSource


def write_repo(
    root: Path,
    spec: str | None,
    files: dict[str, str | bytes] | None = None,
    symlinks: dict[str, str] | None = None,
) -> None:
    """Writes gitdeploy.yaml (dedented), other files and symlinks (path -> target) below root."""
    root.mkdir(parents=True, exist_ok=True)
    if spec is not None:
        (root / "gitdeploy.yaml").write_text(textwrap.dedent(spec))
    for path, content in (files or {}).items():
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    for path, target in (symlinks or {}).items():
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)


def commit_repo(root: Path) -> GitSource:
    """Commits everything below root and returns the source reading that commit."""
    repo = git.Repo.init(root)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "test")
        cw.set_value("user", "email", "test@example.com")
    repo.git.add(A=True)
    repo.git.commit("-m", "spec", "--allow-empty")
    return GitSource(repo, "HEAD")


def source(
    tmp_path: Path,
    spec: str | None,
    files: dict[str, str | bytes] | None = None,
    symlinks: dict[str, str] | None = None,
    kind: str = "git",
) -> SpecSource:
    """A spec repository with these contents, read from a commit ("git") or from disk ("worktree")."""
    root = tmp_path / "repo"
    write_repo(root, spec, files, symlinks)
    if kind == "git":
        return commit_repo(root)
    return WorktreeSource(root)


def problems(
    tmp_path: Path,
    spec: str | None,
    files: dict[str, str | bytes] | None = None,
    symlinks: dict[str, str] | None = None,
    kind: str = "git",
    secrets: SecretStore | None = None,
) -> list[str]:
    """Every problem of the spec, as 'file:line:col: message (hint: ...)' strings."""
    return [str(p) for p in validate_spec(source(tmp_path, spec, files, symlinks, kind), secrets)]


def load(
    tmp_path: Path,
    spec: str,
    files: dict[str, str | bytes] | None = None,
    symlinks: dict[str, str] | None = None,
    kind: str = "git",
) -> Spec:
    return load_spec(source(tmp_path, spec, files, symlinks, kind))
