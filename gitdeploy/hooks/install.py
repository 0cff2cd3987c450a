"""`gitdeploy hooks install`: put the thin hook scripts into a repository's hooks folder.

The scripts are the ones in the top-level `hooks/` folder (kept identical by a test): each only
runs `exec gitdeploy hook <name>`, so upgrading gitdeploy upgrades every installed hook. The
installed copy adds one line so the hook finds this gitdeploy even when git runs it with a PATH
that lacks it. A hook file without our marker is someone else's: it is never overwritten
without `force`.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import git

from gitdeploy.errors import EXIT_INVALID, GitdeployError

MARKER = "# gitdeploy-hook"
SERVER_HOOKS = ("pre-receive", "post-receive")
CLIENT_HOOKS = ("pre-commit",)
_WHAT = {
    "pre-receive": "validate every commit pushed to an environment branch; reject invalid specs",
    "post-receive": "deploy the new head of an environment branch; stream plan and outcome back",
    "pre-commit": "validate the staged gitdeploy.yaml before the commit exists",
}


def script(name: str) -> str:
    """The hook script as shipped in hooks/<name>."""
    return (
        "#!/bin/sh\n"
        f"{MARKER} {name}: {_WHAT[name]}.\n"
        "# The logic lives in the installed gitdeploy (`gitdeploy hook --help`), so upgrading it upgrades this.\n"
        f'exec gitdeploy hook {name} "$@"\n'
    )


def installed_script(name: str, bindir: Path | None) -> str:
    """`script(name)` plus a PATH fallback to the folder of the gitdeploy that installs it."""
    text = script(name)
    if bindir is None:
        return text
    first, rest = text.split("\n", 1)
    fallback = f"command -v gitdeploy >/dev/null 2>&1 || PATH=\"{bindir}:$PATH\"\n"
    head, exec_line = rest.rsplit("exec ", 1)
    return f"{first}\n{head}{fallback}exec {exec_line}"


def gitdeploy_bindir() -> Path | None:
    """The folder holding the `gitdeploy` executable of this installation, if any."""
    beside = Path(sys.executable).parent / "gitdeploy"
    if beside.exists():
        return beside.parent
    found = shutil.which("gitdeploy")
    return Path(found).resolve().parent if found else None


@dataclass(frozen=True)
class Installed:
    repo: Path
    hooks_dir: Path
    written: tuple[str, ...]  # new or changed
    unchanged: tuple[str, ...]


def install(path: Path, *, client: bool = False, force: bool = False) -> Installed:
    """Install the server hooks (or with `client`, pre-commit) into the repository at `path`."""
    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitdeployError(f"{path} is not a git repository",
                             "create one with `git init --bare PATH` (server) or clone it (--client)",
                             exit_code=EXIT_INVALID) from None
    if not client and not repo.bare:
        raise GitdeployError(
            f"{path} is not a bare repository: pushes to a checked-out branch are refused by git",
            "install the server hooks into the bare repository people push to, or use --client for pre-commit",
            exit_code=EXIT_INVALID)
    hooks_dir = Path(repo.git.rev_parse("--git-path", "hooks"))
    if not hooks_dir.is_absolute():
        hooks_dir = Path(repo.working_tree_dir or repo.git_dir) / hooks_dir
    hooks_dir.mkdir(parents=True, exist_ok=True)
    names = CLIENT_HOOKS if client else SERVER_HOOKS
    bindir = gitdeploy_bindir()
    foreign = [n for n in names if (hooks_dir / n).exists() and MARKER not in _read(hooks_dir / n)]
    if foreign and not force:
        raise GitdeployError(
            f"{', '.join(foreign)} in {hooks_dir} {'is' if len(foreign) == 1 else 'are'} not gitdeploy's",
            "chain them yourself, or pass --force to replace them (a copy is kept as <name>.before-gitdeploy)",
            exit_code=EXIT_INVALID)
    written, unchanged = [], []
    for name in names:
        target = hooks_dir / name
        text = installed_script(name, bindir)
        if target.exists() and _read(target) == text and target.stat().st_mode & 0o111:
            unchanged.append(name)
            continue
        if name in foreign:
            shutil.copy2(target, hooks_dir / f"{name}.before-gitdeploy")
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(target)
        written.append(name)
    return Installed(Path(repo.git_dir if repo.bare else repo.working_tree_dir), hooks_dir,
                     tuple(written), tuple(unchanged))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
