"""The bot's mirror refuses payload-derived SHAs, refs and branches that git could read as options."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.github.mirror import Mirror


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def origin(tmp_path) -> tuple[Path, str]:
    work = tmp_path / "origin"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    (work / "gitdeploy.yaml").write_text("system: x\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "one")
    return work, git(work, "rev-parse", "HEAD")


def test_a_crafted_sha_or_ref_never_reaches_git(tmp_path, origin):
    url, sha = origin
    mirror = Mirror(tmp_path / "data", "acme/shop", str(url))
    pwned = tmp_path / "pwned"
    evil = f"--upload-pack=touch {pwned}; git-upload-pack"
    for bad_sha, ref in [(evil, "refs/pull/1/head"), (sha, evil), (sha, f"refs/heads/{evil}"),
                         (sha[:12], "refs/pull/1/head"), (sha.upper(), "refs/pull/1/head")]:
        with pytest.raises(GitdeployError, match="refused the"):
            mirror.fetch(bad_sha, ref)
    with pytest.raises(GitdeployError, match="refused the branch"):
        mirror.fetch_branch(evil)
    with pytest.raises(GitdeployError, match="refused the"):
        mirror.push(sha, evil, expect=sha)
    with pytest.raises(GitdeployError, match="refused the commit id"):
        mirror.revert(evil, sha, "m")
    assert not pwned.exists()
    # the real values still work
    assert mirror.fetch(sha, "refs/pull/1/head") == sha
    assert mirror.fetch_branch("main") == sha


def test_git_itself_is_called_with_end_of_options(tmp_path, origin, monkeypatch):
    """Belt and braces: even a value that got past the checks is a positional argument to git."""
    url, sha = origin
    mirror = Mirror(tmp_path / "data", "acme/shop", str(url))
    mirror.ensure()
    seen: list[list[str]] = []
    real_run = subprocess.run

    def spy(argv, *a, **kw):
        seen.append(list(argv))
        return real_run(argv, *a, **kw)

    monkeypatch.setattr(subprocess, "run", spy)
    mirror.fetch(sha, "refs/pull/1/head")
    mirror.fetch_branch("main")
    for argv in seen:
        command = argv[3] if argv[1] == "-C" else argv[1]
        if command in ("init", "config"):
            continue
        positional = [x for x in argv[4:] if not x.startswith("-")]
        if positional:
            marker = next(i for i, x in enumerate(argv) if x in ("--", "--end-of-options"))
            assert all(argv.index(p) > marker for p in positional), argv
