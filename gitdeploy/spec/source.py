"""Where a spec is read from: a commit of the spec repository (the default) or its working tree.

Both sources answer the same small questions, so loading and validation never care which one
they read. Paths are POSIX paths relative to the repository root.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, TypeVar

import git

from gitdeploy.errors import EXIT_INVALID, GitdeployError

SPEC_FILE = "gitdeploy.yaml"
T = TypeVar("T")


class SpecSource(Protocol):
    commit: str | None  # full SHA, or None for the working tree
    label: str  # for messages: "commit 1a2b3c4" or "working tree"

    def read(self, path: str) -> bytes:
        """The file's bytes. Raises FileNotFoundError when absent or a directory."""

    def kind(self, path: str) -> str | None:
        """"file", "dir", "symlink", "submodule" or None when the path does not exist."""

    def walk(self, path: str) -> list[tuple[str, str]]:
        """Every entry below a directory as (repo path, kind), sorted."""

    def tree_digest(self, path: str) -> str:
        """A content hash of a directory (names, modes and contents), stable across sources."""

    def export(self, path: str, dest: Path) -> None:
        """Write the directory `path` (recursively) below `dest`."""


def _norm(path: str) -> str:
    p = PurePosixPath(path)
    return "" if str(p) == "." else str(p)


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """Serialize a GitSource method: GitPython shares one `git cat-file` process per repository,
    and concurrent readers (e.g. parallel image builds) would interleave on its pipe and hang."""

    @functools.wraps(method)
    def wrapper(self: GitSource, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass
class GitSource:
    """Files as they are in one commit. Safe to share between threads."""

    repo: git.Repo
    commit: str
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._commit = self.repo.commit(self.commit)
        self.commit = self._commit.hexsha
        self.label = f"commit {self.commit[:7]}"

    def _obj(self, path: str):
        path = _norm(path)
        if not path:
            return self._commit.tree
        try:
            return self._commit.tree / path
        except KeyError:
            return None

    @_locked
    def read(self, path: str) -> bytes:
        obj = self._obj(path)
        if obj is None or obj.type != "blob":
            raise FileNotFoundError(path)
        return obj.data_stream.read()

    @_locked
    def kind(self, path: str) -> str | None:
        obj = self._obj(path)
        if obj is None:
            return None
        if obj.type == "tree":
            return "dir"
        if obj.type == "blob":
            return "symlink" if obj.mode == 0o120000 else "file"
        return "submodule"  # a commit of another repository: its files are not in this one

    @_locked
    def walk(self, path: str) -> list[tuple[str, str]]:
        obj = self._obj(path)
        if obj is None or obj.type != "tree":
            return []
        out = []
        for item in obj.traverse():
            if item.type in ("submodule", "commit"):
                kind = "submodule"
            else:
                kind = "dir" if item.type == "tree" else ("symlink" if item.mode == 0o120000 else "file")
            out.append((item.path, kind))
        return sorted(out)

    @_locked
    def tree_digest(self, path: str) -> str:
        obj = self._obj(path)
        if obj is None:
            raise FileNotFoundError(path)
        return _digest_entries(self, path)

    @_locked
    def export(self, path: str, dest: Path) -> None:
        obj = self._obj(path)
        if obj is None or obj.type != "tree":
            raise FileNotFoundError(path)
        base = _norm(path)
        for rel, kind in self.walk(path):
            out = dest / (rel[len(base) + 1 :] if base else rel)
            if kind == "dir":
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            blob = self._commit.tree / rel
            if kind == "symlink":
                os.symlink(blob.data_stream.read().decode(), out)
            else:
                out.write_bytes(blob.data_stream.read())
                if blob.mode & 0o111:
                    out.chmod(0o755)


@dataclass
class WorktreeSource:
    """Files as they are on disk (`--worktree`): for local experiments only."""

    root: Path
    commit: str | None = None
    label: str = "working tree"

    def _p(self, path: str) -> Path:
        return self.root / _norm(path) if _norm(path) else self.root

    def read(self, path: str) -> bytes:
        p = self._p(path)
        if not p.is_file():
            raise FileNotFoundError(path)
        return p.read_bytes()

    def kind(self, path: str) -> str | None:
        p = self._p(path)
        if p.is_symlink():
            return "symlink"
        if p.is_dir():
            return "dir"
        if p.exists():
            return "file"
        return None

    def walk(self, path: str) -> list[tuple[str, str]]:
        top = self._p(path)
        if not top.is_dir():
            return []
        out = []
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for name in dirnames + filenames:
                full = Path(dirpath) / name
                rel = full.relative_to(self.root).as_posix()
                out.append((rel, self.kind(rel) or "file"))
        return sorted(out)

    def tree_digest(self, path: str) -> str:
        if self.kind(path) is None:
            raise FileNotFoundError(path)
        return _digest_entries(self, path)

    def export(self, path: str, dest: Path) -> None:
        top = self._p(path)
        shutil.copytree(top, dest, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))


def _digest_entries(source: SpecSource, path: str) -> str:
    h = hashlib.sha256()
    base = _norm(path)
    for rel, kind in source.walk(path):
        name = rel[len(base) + 1 :] if base else rel
        h.update(f"{kind}\0{name}\0".encode())
        if kind != "dir":
            data = source.read(rel) if kind == "file" else _link_target(source, rel)
            h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def _link_target(source: SpecSource, rel: str) -> bytes:
    if isinstance(source, GitSource):
        return (source._commit.tree / rel).data_stream.read()
    return os.readlink(source.root / rel).encode()


def open_source(repo_path: str | Path, rev: str = "HEAD", worktree: bool = False) -> SpecSource:
    """The spec source for `--repo`/`--rev`/`--worktree`. Raises GitdeployError with a hint."""
    root = Path(repo_path).resolve()
    if worktree:
        if not root.is_dir():
            raise GitdeployError(f"{root} is not a directory", "pass --repo PATH to the spec repository",
                                 exit_code=EXIT_INVALID)
        return WorktreeSource(root)
    try:
        repo = git.Repo(root, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitdeployError(
            f"{root} is not a git repository",
            "run gitdeploy in a spec repository, pass --repo PATH, or create one with `gitdeploy init`",
            exit_code=EXIT_INVALID,
        ) from None
    try:
        return GitSource(repo, rev)
    except (git.BadName, ValueError, git.GitCommandError):
        raise GitdeployError(
            f"no commit '{rev}' in {root}",
            "commit the spec first (gitdeploy reads commits, not uncommitted files) or use --worktree",
            exit_code=EXIT_INVALID,
        ) from None
