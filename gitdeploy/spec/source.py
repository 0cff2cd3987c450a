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

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.plumbing import DIR, TreeEntry, as_repo, commit_tree, find_repo, parse_tree

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
    """Serialize a GitSource method: it reads through one `git cat-file` process per repository,
    and concurrent readers (e.g. parallel image builds) take turns on its pipe."""

    @functools.wraps(method)
    def wrapper(self: GitSource, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass
class GitSource:
    """Files as they are in one commit. Safe to share between threads.

    `repo` is a gitdeploy.plumbing.GitRepo or a `git.Repo` (anything with `git_dir`); objects are
    read through the repository's one `git cat-file --batch` (gitdeploy.plumbing), never GitPython.
    Raises ValueError when `commit` names no commit."""

    repo: Any
    commit: str
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._git = as_repo(self.repo)
        found = self._git.commit(self.commit)
        if found is None:
            raise ValueError(f"no commit {self.commit!r}")
        self.commit = found[0]
        self.label = f"commit {self.commit[:7]}"
        self._raw_len = len(self.commit) // 2  # 20 (SHA-1) or 32 (SHA-256)
        self._root = TreeEntry(DIR, "", commit_tree(found[1]))
        self._trees: dict[str, dict[str, TreeEntry]] = {}

    @property
    def tree(self) -> str:
        """The commit's root tree id: names every file of the commit, contents and modes."""
        return self._root.sha

    def _entries(self, sha: str) -> dict[str, TreeEntry]:
        if sha not in self._trees:
            found = self._git.objects().get(sha)
            if found is None or found[1] != "tree":
                raise GitdeployError(f"tree {sha[:7]} of {self.label} is missing from {self._git.git_dir}",
                                     "run `git fsck` in the spec repository")
            self._trees[sha] = {e.name: e for e in parse_tree(found[2], self._raw_len)}
        return self._trees[sha]

    def _obj(self, path: str) -> TreeEntry | None:
        path = _norm(path)
        entry = self._root
        for part in path.split("/") if path else ():
            if entry.mode != DIR:
                return None
            entry = self._entries(entry.sha).get(part)
            if entry is None:
                return None
        return entry

    def _data(self, entry: TreeEntry) -> bytes:
        found = self._git.objects().get(entry.sha)
        if found is None or found[1] != "blob":
            raise GitdeployError(f"blob {entry.sha[:7]} of {self.label} is missing from {self._git.git_dir}",
                                 "run `git fsck` in the spec repository")
        return found[2]

    def _walk(self, sha: str, prefix: str) -> list[tuple[str, TreeEntry]]:
        out = []
        for e in self._entries(sha).values():
            rel = f"{prefix}/{e.name}" if prefix else e.name
            out.append((rel, e))
            if e.mode == DIR:
                out.extend(self._walk(e.sha, rel))
        return out

    @_locked
    def read(self, path: str) -> bytes:
        obj = self._obj(path)
        if obj is None or obj.kind not in ("file", "symlink"):
            raise FileNotFoundError(path)
        return self._data(obj)

    @_locked
    def kind(self, path: str) -> str | None:
        obj = self._obj(path)
        return None if obj is None else obj.kind

    @_locked
    def walk(self, path: str) -> list[tuple[str, str]]:
        obj = self._obj(path)
        if obj is None or obj.mode != DIR:
            return []
        return sorted((rel, e.kind) for rel, e in self._walk(obj.sha, _norm(path)))

    @_locked
    def tree_digest(self, path: str) -> str:
        obj = self._obj(path)
        if obj is None:
            raise FileNotFoundError(path)
        return _digest_entries(self, path)

    @_locked
    def export(self, path: str, dest: Path) -> None:
        obj = self._obj(path)
        if obj is None or obj.mode != DIR:
            raise FileNotFoundError(path)
        base = _norm(path)
        for rel, entry in sorted(self._walk(obj.sha, base), key=lambda item: item[0]):
            out = dest / (rel[len(base) + 1 :] if base else rel)
            if entry.kind == "dir":
                out.mkdir(parents=True, exist_ok=True)
                continue
            if entry.kind == "submodule":  # refused by validation: another repository's files
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if entry.kind == "symlink":
                os.symlink(self._data(entry).decode(), out)
            else:
                out.write_bytes(self._data(entry))
                if entry.mode & 0o111:
                    out.chmod(0o755)

    def _link(self, rel: str) -> bytes:
        obj = self._obj(rel)
        if obj is None:
            raise FileNotFoundError(rel)
        return self._data(obj)


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
        return source._link(rel)
    return os.readlink(source.root / rel).encode()


def open_source(repo_path: str | Path, rev: str = "HEAD", worktree: bool = False) -> SpecSource:
    """The spec source for `--repo`/`--rev`/`--worktree`. Raises GitdeployError with a hint."""
    root = Path(repo_path).resolve()
    if worktree:
        if not root.is_dir():
            raise GitdeployError(f"{root} is not a directory", "pass --repo PATH to the spec repository",
                                 exit_code=EXIT_INVALID)
        return WorktreeSource(root)
    repo = find_repo(root)
    if repo is None:
        raise GitdeployError(
            f"{root} is not a git repository",
            "run gitdeploy in a spec repository, pass --repo PATH, or create one with `gitdeploy init`",
            exit_code=EXIT_INVALID,
        )
    try:
        return GitSource(repo, rev)
    except ValueError:
        raise GitdeployError(
            f"no commit '{rev}' in {root}",
            "commit the spec first (gitdeploy reads commits, not uncommitted files) or use --worktree",
            exit_code=EXIT_INVALID,
        ) from None
