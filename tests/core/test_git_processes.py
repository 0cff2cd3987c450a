"""The git processes a deploy starts (issues 12 and 14: start-up). A `git` first on PATH logs every
command gitdeploy runs: a deploy reads all its objects through one `git cat-file --batch` and writes
the record with `update-ref` and `notes append`; plan, status and check only read. GitPython (which
ran `git version` twice and two cat-files) is not imported on this path, in a working tree or a bare
repository. The lists are exact, so a new git process on the path is a decision, not an accident."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.specrepo import svc

pytestmark = pytest.mark.docker

READ = ["cat-file --batch"]
RECORD = ["cat-file --batch", "update-ref", "notes append"]
GITPYTHON = ("git", "gitdb", "smmap")


def logging_git(tmp_path: Path) -> tuple[Path, Path]:
    """(a bin directory whose `git` logs its arguments and runs the real git, the log)."""
    real = shutil.which("git")
    assert real, "git is not installed"
    bin_dir, log = tmp_path / "bin", tmp_path / "git.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return bin_dir, log


def run(bin_dir: Path, log: Path, repo: Path, data: Path, *command: str) -> tuple[list[str], list[str]]:
    """(the git commands `gitdeploy <command>` ran, shortened to the subcommand and its first word;
    the modules of GitPython it imported)."""
    log.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GIT_PYTHON_GIT_EXECUTABLE", None)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gitdeploy", "--repo", str(repo),
                           "--data-dir", str(data), *command], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    modules = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    gitpython = sorted({m for m in modules if m.split(".")[0] in GITPYTHON})
    return [_short(line) for line in (log.read_text().splitlines() if log.exists() else [])], gitpython


def _short(line: str) -> str:
    words = line.split(" ")
    while words and words[0] in ("--git-dir", "-c"):
        words = words[2:]
    if words[:1] == ["notes"]:  # notes --ref REF <action> ...
        return f"notes {next((w for w in words[1:] if w in ('append', 'add', 'list', 'show')), '?')}"
    return " ".join(words[:2]) if words[:1] == ["cat-file"] else words[0]


@pytest.mark.parametrize("bare", [False, True], ids=["worktree", "bare"])
def test_a_deploy_starts_three_gits_and_imports_no_gitpython(spec_repo, system_name, tmp_path, bare):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": svc(monitor="0s")}},
                      "conf/a.txt": "a\n"})
    repo = spec_repo.root
    if bare:
        repo = tmp_path / "bare.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(spec_repo.root), str(repo)], check=True)
    bin_dir, log = logging_git(tmp_path)
    for command, expected in ((("deploy",), RECORD), (("deploy",), RECORD), (("plan",), READ),
                              (("status",), READ), (("check",), READ)):
        gits, gitpython = run(bin_dir, log, repo, spec_repo.data_dir, *command)
        assert gits == expected, f"`gitdeploy {command[0]}` ran {gits}"
        assert gitpython == [], f"`gitdeploy {command[0]}` imports GitPython: {gitpython}"
    out = subprocess.run(["git", "--git-dir", str(repo if bare else repo / ".git"), "notes", "--ref",
                          "refs/notes/gitdeploy", "show", "HEAD"], capture_output=True, text=True, check=True)
    assert len([line for line in out.stdout.splitlines() if line.strip()]) == 2  # both deploys were recorded
