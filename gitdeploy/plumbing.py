"""git plumbing on the `git` command line, for the path every deploy takes (no GitPython there).

A repository is found on disk the way GitPython's `git.Repo(path)` finds it (a working tree with
`.git`, a `.git` file of a linked worktree or submodule, or a bare repository; never a parent
directory). Its objects are read through ONE `git cat-file --batch` per repository and process,
started on first use and kept for the run (commits, trees, blobs and revisions resolved with
`<rev>^{commit}`); writes (update-ref, notes) are single `git` commands (see `run`).

`git` is the `git` on PATH, or $GIT_PYTHON_GIT_EXECUTABLE when set (as GitPython finds it).
Failures are GitdeployError; an object that is not there is None.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import IO, Any

from gitdeploy.errors import GitdeployError

KEEP = 8  # repositories whose reader stays open (a deploy uses one; the bot a few)
DIR, FILE, EXECUTABLE, SYMLINK, SUBMODULE = 0o40000, 0o100644, 0o100755, 0o120000, 0o160000


def git_executable() -> str:
    return os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"


def _not_found(exc: OSError) -> GitdeployError:
    return GitdeployError(f"git cannot be run ({git_executable()}: {exc.strerror or exc})",
                          "install git, or put it on PATH (or set GIT_PYTHON_GIT_EXECUTABLE to it)")


@dataclass(frozen=True)
class TreeEntry:
    mode: int
    name: str
    sha: str

    @property
    def kind(self) -> str:
        """"dir", "file", "symlink" or "submodule" (a commit of another repository)."""
        if self.mode == DIR:
            return "dir"
        if self.mode == SUBMODULE:
            return "submodule"
        return "symlink" if self.mode == SYMLINK else "file"


def parse_tree(data: bytes, raw_len: int) -> list[TreeEntry]:
    """The entries of a tree object's raw content (`<mode> <name>\\0<raw id>`...)."""
    out: list[TreeEntry] = []
    i = 0
    while i < len(data):
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        end = nul + 1 + raw_len
        out.append(TreeEntry(int(data[i:space], 8), data[space + 1:nul].decode("utf-8", "surrogateescape"),
                             data[nul + 1:end].hex()))
        i = end
    return out


def commit_tree(data: bytes) -> str:
    """The tree id in a commit object's raw content."""
    first = data.split(b"\n", 1)[0]
    if not first.startswith(b"tree "):
        raise GitdeployError("git returned a commit without a tree", "run `git fsck` in the spec repository")
    return first[5:].decode()


def commit_summary(data: bytes) -> str:
    """The first line of a commit's message (decoded with its encoding header, else UTF-8)."""
    head, _, message = data.partition(b"\n\n")
    encoding = "utf-8"
    for line in head.split(b"\n"):
        if line.startswith(b"encoding "):
            encoding = line[9:].decode(errors="replace").strip() or encoding
    line = message.split(b"\n", 1)[0]
    try:
        return line.decode(encoding, "replace")
    except LookupError:  # an unknown encoding name
        return line.decode("utf-8", "replace")


class CatFile:
    """One `git cat-file --batch` for a repository, shared by threads (requests are serialized)."""

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._err: IO[bytes] | None = None
        self._pid = os.getpid()

    def get(self, name: str) -> tuple[str, str, bytes] | None:
        """(id, type, content) of the object `name` names (any revision: `HEAD^{commit}`,
        `<commit>:<path>`, an id); None when there is no such object."""
        if "\n" in name or "\r" in name or not name:
            return None
        with self._lock:
            for again in (False, True):
                try:
                    return self._ask(name)
                except (OSError, ValueError) as exc:  # the process died (a broken repository?): once more
                    why = self._stop()
                    if again:
                        raise GitdeployError(f"git cat-file failed in {self.git_dir}: {why or exc}",
                                             "check the repository with `git fsck`") from None
        return None  # not reached

    def _ask(self, name: str) -> tuple[str, str, bytes] | None:
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline()
        if not header.endswith(b"\n"):
            raise ValueError("git cat-file ended")
        parts = header.split()
        if parts[-1] in (b"missing", b"ambiguous"):
            return None
        sha, kind, size = parts
        data = proc.stdout.read(int(size))
        if len(data) != int(size) or proc.stdout.read(1) != b"\n":
            raise ValueError("git cat-file ended mid-object")
        return sha.decode(), kind.decode(), data

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._pid == os.getpid():
            return self._proc
        self._proc, self._pid = None, os.getpid()  # a forked child starts its own
        self._err = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen([git_executable(), "--git-dir", self.git_dir, "cat-file", "--batch"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err)
        except OSError as exc:
            raise _not_found(exc) from None
        weakref.finalize(self, _close, proc)
        self._proc = proc
        return proc

    def _stop(self) -> str:
        """Stop the process; what it said on stderr."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _close(proc)
        said = ""
        if self._err is not None:
            self._err.seek(0)
            said = " ".join(self._err.read().decode(errors="replace").split())[:500]
            self._err.close()
            self._err = None
        return said

    def close(self) -> None:
        with self._lock:
            self._stop()


def _close(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(eq=False)
class GitRepo:
    """A repository found on disk: where its git dir and working tree are, and its object reader.

    Has `git_dir`, `working_tree_dir` (None when bare) and `bare` like a `git.Repo`, so code that
    only needs those takes either."""

    git_dir: str
    working_tree_dir: str | None
    _reader: CatFile | None = field(default=None, repr=False)

    @property
    def bare(self) -> bool:
        return self.working_tree_dir is None

    def objects(self) -> CatFile:
        if self._reader is None:
            self._reader = CatFile(self.git_dir)
        return self._reader

    def commit(self, rev: str) -> tuple[str, bytes] | None:
        """(full id, raw content) of the commit `rev` names (tags peeled), or None."""
        found = self.objects().get(f"{rev}^{{commit}}")
        return (found[0], found[2]) if found else None

    def rev(self, rev: str) -> str | None:
        """The id of the commit `rev` names, or None (like `git rev-parse --verify -q rev^{commit}`)."""
        found = self.commit(rev)
        return found[0] if found else None

    def run(self, args: list[str], stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`git --git-dir <git_dir> <args>`; its exit code is the caller's to judge."""
        try:
            return subprocess.run([git_executable(), "--git-dir", self.git_dir, *args], input=stdin,
                                  capture_output=True, encoding="utf-8", errors="replace",
                                  env={**os.environ, **(env or {})}, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise GitdeployError(f"git {args[0]} failed: {exc}") from None
        except OSError as exc:
            raise _not_found(exc) from None


_OPEN: OrderedDict[tuple[int, str], GitRepo] = OrderedDict()
_OPEN_LOCK = threading.Lock()


def _cached(git_dir: str, working_tree_dir: str | None) -> GitRepo:
    key = (os.getpid(), git_dir)
    with _OPEN_LOCK:
        repo = _OPEN.get(key)
        if repo is None or repo.working_tree_dir != working_tree_dir:
            repo = _OPEN[key] = GitRepo(git_dir, working_tree_dir)
        _OPEN.move_to_end(key)
        while len(_OPEN) > KEEP:
            _OPEN.popitem(last=False)  # its reader stops when nothing uses it any more
        return repo


def find_repo(path: str | os.PathLike[str]) -> GitRepo | None:
    """The repository at `path` (a working tree, or a git dir), found as `git.Repo(path)` finds
    it; None when `path` is none (a missing path, a plain directory, a subdirectory of one)."""
    where = os.path.normpath(os.path.abspath(os.path.expanduser(os.fspath(path))))
    if not os.path.exists(where):
        return None
    dotgit = os.path.join(where, ".git")
    if os.path.isfile(dotgit):  # a linked worktree or a submodule: "gitdir: <path>"
        try:
            with open(dotgit, encoding="utf-8", errors="surrogateescape") as f:
                line = f.read().strip()
        except OSError:
            return None
        if not line.startswith("gitdir:"):
            return None
        found = os.path.normpath(os.path.join(where, line[7:].strip()))
        return _cached(found, where) if _is_git_dir(found) else None
    if os.path.exists(dotgit):
        return _cached(dotgit, where) if _is_git_dir(dotgit) else None
    if _is_git_dir(where):
        tree = os.path.dirname(where) if os.path.basename(where) == ".git" else None
        return _cached(where, tree)
    return None


def _is_git_dir(d: str) -> bool:
    """As git's setup.c (and GitPython) decide: a HEAD naming a ref or an id, objects/ and refs/
    (or those of the common dir, for a linked worktree)."""
    if not os.path.isdir(d):
        return False
    head = os.path.join(d, "HEAD")
    try:
        if os.path.islink(head):
            valid = os.readlink(head).startswith("refs/")
        else:
            with open(head, "rb") as f:
                text = f.read(256)
            valid = (text.startswith(b"ref:") and text[4:].lstrip().startswith(b"refs/")) or _hex_id(text)
    except OSError:
        return False
    if not valid:
        return False
    common = d
    if os.path.isfile(os.path.join(d, "commondir")):
        try:
            with open(os.path.join(d, "commondir"), encoding="utf-8") as f:
                common = os.path.normpath(os.path.join(d, f.read().strip()))
        except OSError:
            return False
    objects = os.environ.get("GIT_OBJECT_DIRECTORY") or os.path.join(common, "objects")
    return os.path.isdir(objects) and os.path.isdir(os.path.join(common, "refs"))


def _hex_id(text: bytes) -> bool:
    head = text.strip()
    return len(head) in (40, 64) and all(c in b"0123456789abcdefABCDEF" for c in head)


def as_repo(repo: Any) -> GitRepo:
    """`repo` as a GitRepo: a GitRepo itself, or anything with `git_dir` and `working_tree_dir`
    (a `git.Repo` from the hooks or the bot); its objects are then read through the same reader."""
    if isinstance(repo, GitRepo):
        return repo
    tree = getattr(repo, "working_tree_dir", None)
    return _cached(os.fspath(repo.git_dir), os.fspath(tree) if tree else None)
