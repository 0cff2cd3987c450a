"""Real git repositories, real pushes through real hooks, the real gitdeploy executable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

GITDEPLOY = str(Path(sys.executable).parent / "gitdeploy")
IDENTITY = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a developer's shell: no GITDEPLOY_* overrides, a fixed git identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITDEPLOY_", "GIT_"))}
    return {**env, **IDENTITY, **extra}


def git(*args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None,
        timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env or clean_env(),
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def gitdeploy(*args: str, cwd: Path, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run([GITDEPLOY, *args], cwd=cwd, capture_output=True, text=True, env=clean_env(),
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"gitdeploy {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def bare_with_clone(tmp: Path, data_dir: Path) -> tuple[Path, Path]:
    """A bare repository with gitdeploy's server hooks, and a clone of it."""
    bare, work = tmp / "spec.git", tmp / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp)
    gitdeploy("--data-dir", str(data_dir), "hooks", "install", str(bare), cwd=tmp)
    git("clone", "-q", str(bare), str(work), cwd=tmp)
    git("checkout", "-q", "-b", "main", cwd=work)
    return bare, work


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
