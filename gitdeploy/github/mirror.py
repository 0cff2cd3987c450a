"""The server's copy of a spec repository: a bare mirror per repository in the data directory.

The bot never needs a working tree: it fetches the commits a job names (`git fetch <url> <sha>`,
which GitHub and git's protocol v2 allow for any reachable commit) and reads them with
`GitSource` through the pipeline. The mirror also keeps the deploy history (git notes and
`refs/gitdeploy/<env>`), and it is registered in the data directory with its environments in
its git config, so the dashboard shows what the bot deploys.

An https URL gets the token as an HTTP header for that one command (never in the URL, the git
config or an error message).

SHAs, refs and branch names come from webhooks and GitHub's API: each is checked
(gitdeploy.github.gitnames) before git runs, and every git call ends its options with `--` or
`--end-of-options`, so no value can be read as an option such as `--upload-pack=...`.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.github.gitnames import is_sha, ref_problem
from gitdeploy.hooks import repoconfig

MIRRORS_DIR = "mirrors"
FETCH_TIMEOUT = 300
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


class Mirror:
    """The bare mirror of repository `name` (owner/name) cloned from `url`."""

    def __init__(self, data_dir: Path, name: str, url: str, token: str | Callable[[], str] = "") -> None:
        owner, repo = name.split("/", 1)
        self.name = name
        self.url = url
        self.path = data_dir / MIRRORS_DIR / owner / f"{repo}.git"
        self._data_dir = data_dir
        self._token_source = token  # a callable for tokens that expire (a GitHub App's)
        self._lock = _lock_for(self.path)  # one git write at a time per mirror (ref locks, FETCH_HEAD)

    def ensure(self, environments: Mapping[str, str] = {}) -> Path:
        """Create the bare repository if needed; record `environments` (name -> branch) in it."""
        with self._lock:
            if not (self.path / "HEAD").exists():
                self.path.mkdir(parents=True, exist_ok=True)
                self._git("init", "--bare", "-q", ".")
                self._git("config", "gc.auto", "0")  # pruning never races a running job
            for env, branch in environments.items():
                self._git("config", f"gitdeploy.env.{env}.branch", branch)
            repoconfig.register(self._data_dir, self.path)
        return self.path

    def has(self, sha: str) -> bool:
        _check_sha(sha)
        return self._run(["cat-file", "-e", "--end-of-options", f"{sha}^{{commit}}"], check=False).returncode == 0

    def fetch(self, sha: str, ref: str) -> str:
        """Make commit `sha` available and point local `ref` (e.g. refs/pull/3/head) at it.

        Fetches by SHA; if the remote refuses that, fetches its branches and pull refs.
        Returns the full SHA. Raises GitdeployError when the commit cannot be had, or when `sha`
        is not a full SHA or `ref` not a valid ref (before git runs).
        """
        _check_sha(sha)
        _check_ref(ref)
        self.ensure()
        with self._lock:
            if not self.has(sha):
                out = self._remote("fetch", "-q", "--no-tags", "--no-write-fetch-head", "--", self.url, sha)
                if out.returncode != 0 or not self.has(sha):
                    self._remote("fetch", "-q", "--no-tags", "--no-write-fetch-head", "--", self.url,
                                 "+refs/heads/*:refs/remotes/origin/*", "+refs/pull/*/head:refs/remotes/pull/*")
                if not self.has(sha):
                    detail = self._clean(out.stderr) or "the commit is not in the repository"
                    raise GitdeployError(
                        f"cannot fetch commit {sha[:12]} of {self.name}: {detail}",
                        "check the repository URL and token in the server configuration",
                    )
            full = self._git("rev-parse", "--verify", "--end-of-options", f"{sha}^{{commit}}")
            self._git("update-ref", "--", ref, full)
            return full

    def fetch_branch(self, branch: str) -> str:
        """Update local refs/heads/`branch` from the remote; returns its commit."""
        _check_ref(f"refs/heads/{branch}", "branch")
        self.ensure()
        with self._lock:
            out = self._remote("fetch", "-q", "--no-tags", "--no-write-fetch-head", "--", self.url,
                               f"+refs/heads/{branch}:refs/heads/{branch}")
            if out.returncode != 0:
                raise GitdeployError(f"cannot fetch branch {branch} of {self.name}: {self._clean(out.stderr)}",
                                     "check the repository URL and token in the server configuration")
            return self._git("rev-parse", "--verify", "--end-of-options", f"refs/heads/{branch}^{{commit}}")

    def revert(self, commit: str, onto: str, message: str) -> str:
        """A new commit on top of `onto` undoing `commit` (a merge: against its first parent).

        Made in a throw-away worktree of the mirror; returns its SHA. Raises GitdeployError when
        the revert does not apply cleanly (later changes touch the same lines).
        """
        _check_sha(commit)
        _check_sha(onto)
        with self._lock:
            parents = self._git("rev-list", "--parents", "-n", "1", "--end-of-options", commit).split()[1:]
            (self._data_dir / "tmp").mkdir(exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="revert-", dir=self._data_dir / "tmp"))
            try:
                self._git("worktree", "add", "-q", "--detach", "--", str(folder), onto)
                ident = ["-c", "user.name=gitdeploy", "-c", "user.email=gitdeploy@localhost"]
                mainline = ["-m", "1"] if len(parents) > 1 else []
                done = self._run([*ident, "-C", str(folder), "revert", "--no-commit", *mainline, "--end-of-options",
                                  commit],
                                 check=False)
                if done.returncode != 0:
                    raise GitdeployError(f"{commit[:12]} cannot be reverted cleanly on {onto[:12]}: "
                                         f"{self._clean(done.stdout + done.stderr)}",
                                         "revert it by hand in a pull request")
                self._run([*ident, "-C", str(folder), "commit", "-q", "--allow-empty", "-m", message])
                return self._run(["-C", str(folder), "rev-parse", "HEAD"]).stdout.strip()
            finally:
                self._run(["worktree", "remove", "--force", str(folder)], check=False)
                shutil.rmtree(folder, ignore_errors=True)
                self._run(["worktree", "prune"], check=False)

    def push(self, sha: str, branch: str, expect: str) -> None:
        """Push `sha` to `branch` on the remote, only if the branch is still at `expect`."""
        _check_sha(sha)
        _check_sha(expect)
        _check_ref(f"refs/heads/{branch}", "branch")
        with self._lock:
            out = self._remote("push", "-q", f"--force-with-lease=refs/heads/{branch}:{expect}", "--", self.url,
                               f"{sha}:refs/heads/{branch}")
        if out.returncode != 0:
            raise GitdeployError(f"cannot push to {branch} of {self.name}: {self._clean(out.stderr)}",
                                 "the branch may have moved; try again")

    # -- running git ---------------------------------------------------------------------

    @property
    def _token(self) -> str:
        source = self._token_source
        return source() if callable(source) else source

    def _git(self, *args: str) -> str:
        out = self._run(list(args))
        return out.stdout.strip()

    def _remote(self, *args: str) -> subprocess.CompletedProcess:
        extra: list[str] = []
        if self.url.startswith("https://") and self._token:
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
            extra = ["-c", f"http.extraHeader=Authorization: Basic {basic}"]
        return self._run([*extra, *args], check=False, timeout=FETCH_TIMEOUT)

    def _run(self, args: Sequence[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
        try:
            out = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True,
                                 env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise GitdeployError(f"git {args[0]} on the mirror of {self.name} timed out",
                                 "check the network and the repository URL") from None
        if check and out.returncode != 0:
            raise GitdeployError(f"git {' '.join(args[:2])} failed on the mirror of {self.name}: "
                                 f"{self._clean(out.stderr)}")
        return out

    def _clean(self, text: str) -> str:
        text = " ".join(text.split())
        token = self._token if self.url.startswith("https://") else ""  # only https URLs get one
        if token:
            text = text.replace(token, "***")
        return re.sub(r"Basic [A-Za-z0-9+/=]+", "Basic ***", text)[:300]


def _check_sha(sha: str) -> None:
    if not is_sha(sha):
        raise GitdeployError(f"refused the commit id {str(sha)[:60]!r}: a commit is named by its full 40-digit SHA",
                             "this came from a webhook or GitHub's API; gitdeploy does not pass it to git")


def _check_ref(ref: str, what: str = "ref") -> None:
    problem = ref_problem(ref)
    if problem:
        raise GitdeployError(f"refused the {what} {str(ref)[:80]!r}: it {problem}",
                             "this came from a webhook or GitHub's API; gitdeploy does not pass it to git")
