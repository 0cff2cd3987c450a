"""The main job on embedded defaults: a local bare spec repository seeded with the example
system, its hooks, a deploy, and a server configuration that needs no file.

Everything lives in the data directory (git, SQLite, a generated webhook secret); running it
again reuses what exists.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import git

from gitdeploy.errors import GitdeployError
from gitdeploy.fsutil import create_exclusive
from gitdeploy.hooks import repoconfig
from gitdeploy.server.config import Environment, Secret, ServerConfig

AUTHOR = {"GIT_AUTHOR_NAME": "gitdeploy demo", "GIT_AUTHOR_EMAIL": "demo@gitdeploy.localhost",
          "GIT_COMMITTER_NAME": "gitdeploy demo", "GIT_COMMITTER_EMAIL": "demo@gitdeploy.localhost"}
SECRET_FILE = "webhook-secret"


def seed(bare: Path, system: str, web_port: int) -> bool:
    """Create the bare repository with the example system on `main`; False when it exists."""
    if (bare / "HEAD").exists():
        git.Repo(bare)  # fails loudly when it is not a repository
        return False
    bare.parent.mkdir(parents=True, exist_ok=True)
    git.Repo.init(bare, bare=True, initial_branch="main")
    with tempfile.TemporaryDirectory(prefix="gitdeploy-seed-") as tmp:
        work = Path(tmp) / "work"
        with resources.as_file(resources.files("gitdeploy") / "example") as src:
            shutil.copytree(src, work, ignore=shutil.ignore_patterns("__pycache__"))
        spec = work / "gitdeploy.yaml"
        text = spec.read_text().replace("system: demo", f"system: {system}", 1)
        spec.write_text(re.sub(r"127\.0\.0\.1:8080:80", f"127.0.0.1:{web_port}:80", text, count=1))
        repo = git.Repo.init(work, initial_branch="main")
        with repo.git.custom_environment(**AUTHOR):
            repo.git.add(A=True)
            repo.git.commit("-q", "-m", "gitdeploy demo: the example system (web + worker)")
            repo.git.push("-q", str(bare), "main:main")
    return True


def web_port_of(bare: Path) -> int | None:
    """The host port the seeded web service publishes (read from the spec on main)."""
    try:
        text = git.Repo(bare).git.show("main:gitdeploy.yaml")
    except git.GitCommandError:
        return None
    m = re.search(r"127\.0\.0\.1:(\d+):80", text)
    return int(m.group(1)) if m else None


def webhook_secret(data_dir: Path) -> str:
    """The generated webhook secret of this data directory (created 0600 on first use)."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        create_exclusive(path, secrets.token_hex(32).encode(), 0o600)  # complete before it appears
    value = path.read_text().strip()
    if not value:
        raise GitdeployError(f"the demo's webhook secret {path} is empty",
                             f"remove it (`rm {path}`) and run `gitdeploy demo` again: a new one is made")
    return value


def server_config(data_dir: Path, bare: Path, port: int) -> ServerConfig:
    """A server on 127.0.0.1:`port` for the local repository: no configuration file needed."""
    envs = repoconfig.environments(git.Repo(bare))
    return ServerConfig(
        data_dir=data_dir, repositories=(f"local/{bare.stem}",),
        environments=tuple(Environment(name, branch) for name, branch in sorted(envs.items())),
        webhook_secret=Secret(webhook_secret(data_dir)), host="127.0.0.1", port=port, workers=1,
    )


def fetch(url: str, timeout: float = 3.0) -> str | None:
    """GET `url` (a local service); the body, or None when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - local URLs only
            return resp.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return None
