"""What a spec repository says about itself in its git config, and the repositories a data
directory serves.

    git config gitdeploy.env.<name>.branch <branch>   # pushes to <branch> deploy to <name>
    git config gitdeploy.dataDir <path>               # the data directory its hooks use

With no `gitdeploy.env.*` entries the default is one environment, `production`, deployed from
`main`. `gitdeploy hooks install` records the data directory and registers the repository in
`<data dir>/repositories.txt` (one absolute path a line), which the dashboard reads.
"""

from __future__ import annotations

import os
from pathlib import Path

import git

from gitdeploy.fsutil import atomic_write

DEFAULT_ENVIRONMENTS = {"production": "main"}
REGISTRY_FILE = "repositories.txt"


def environments(repo: git.Repo) -> dict[str, str]:
    """Environment name -> branch, from `gitdeploy.env.<name>.branch` (default production <- main)."""
    try:
        raw = repo.git.config("--get-regexp", r"^gitdeploy\.env\..*\.branch$")
    except git.GitCommandError:
        return dict(DEFAULT_ENVIRONMENTS)  # no entries: git config exits 1
    out: dict[str, str] = {}
    for line in raw.splitlines():
        key, _, branch = line.partition(" ")
        name = key[len("gitdeploy.env."):-len(".branch")]
        if name and branch.strip():
            out[name] = branch.strip()
    return out or dict(DEFAULT_ENVIRONMENTS)


def environments_for_ref(repo: git.Repo, ref: str) -> list[str]:
    """The environments a push to `ref` (refs/heads/<branch>) deploys, sorted."""
    if not ref.startswith("refs/heads/"):
        return []
    branch = ref.removeprefix("refs/heads/")
    return sorted(name for name, b in environments(repo).items() if b == branch)


def configured_data_dir(repo: git.Repo) -> Path | None:
    """`gitdeploy.dataDir` of the repository, or None."""
    try:
        value = repo.git.config("--get", "gitdeploy.dataDir").strip()
    except git.GitCommandError:
        return None
    return Path(value).expanduser() if value else None


def hook_data_dir(repo: git.Repo, fallback: Path) -> Path:
    """The data directory a hook acts on: $GITDEPLOY_HOME, else gitdeploy.dataDir, else `fallback`."""
    if os.environ.get("GITDEPLOY_HOME"):
        return fallback
    return (configured_data_dir(repo) or fallback).resolve()


def register(data_dir: Path, repo_path: Path) -> None:
    """Add `repo_path` to the data directory's list of served repositories (idempotent)."""
    path = data_dir / REGISTRY_FILE
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        lines = []
    if str(repo_path.resolve()) not in lines:
        atomic_write(path, "".join(f"{line}\n" for line in [*lines, str(repo_path.resolve())]).encode(), 0o644)


def registered(data_dir: Path) -> list[Path]:
    """The repositories registered in `data_dir` that still exist, in registration order."""
    try:
        lines = (data_dir / REGISTRY_FILE).read_text().splitlines()
    except OSError:
        return []
    out: list[Path] = []
    for line in lines:
        p = Path(line.strip())
        if line.strip() and p.exists() and p not in out:
            out.append(p)
    return out
