"""GitSource and the history read through gitdeploy.plumbing (the `git` CLI, no GitPython): what
GitPython gave before - kinds, modes, symlinks, submodules, bare repositories, linked worktrees,
tags, missing commits - on real repositories made with the git command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.history.notes import REF_PREFIX, Attempt, attempts, deployed_commit, open_repo, record, subject
from gitdeploy.plumbing import find_repo
from gitdeploy.spec.source import GitSource, WorktreeSource, open_source

IDENT = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: Path) -> str:
    """A repository with nested dirs, an executable, a symlink, a file with a space and a non-ASCII
    name, and a submodule; returns the commit."""
    sub = root.parent / f"{root.name}-sub"
    sub.mkdir(parents=True)
    git(sub, "init", "-q", "-b", "main")
    (sub / "f").write_text("in the submodule\n")
    git(sub, "add", "-A")
    git(sub, "commit", "-qm", "sub")
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "gitdeploy.yaml").write_text("system: s\n")
    ctx = root / "ctx" / "deep" / "er"
    ctx.mkdir(parents=True)
    (ctx / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (ctx / "run.sh").chmod(0o755)
    (root / "ctx" / "a file ü.txt").write_bytes(b"\x00\x01binary\xff")
    os.symlink("deep/er/run.sh", root / "ctx" / "link")
    git(root, "submodule", "add", "-q", str(sub), "ctx/vendor")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "spec\n\nbody")
    return git(root, "rev-parse", "HEAD")


def test_a_commit_reads_like_its_working_tree(tmp_path):
    root = tmp_path / "repo"
    sha = make_repo(root)
    src = open_source(root)
    assert isinstance(src, GitSource) and src.commit == sha and src.label == f"commit {sha[:7]}"
    assert src.read("ctx/deep/er/run.sh") == b"#!/bin/sh\necho hi\n"
    assert src.read("ctx/a file ü.txt") == b"\x00\x01binary\xff"
    assert src.read("ctx/link") == b"deep/er/run.sh"  # a symlink's blob is its target
    kinds = {p: src.kind(p) for p in ("", ".", "ctx", "ctx/", "ctx/link", "ctx/vendor", "ctx/vendor/f",
                                      "ctx/deep/er/run.sh", "nope", "gitdeploy.yaml/x")}
    assert kinds == {"": "dir", ".": "dir", "ctx": "dir", "ctx/": "dir", "ctx/link": "symlink",
                     "ctx/vendor": "submodule", "ctx/vendor/f": None, "ctx/deep/er/run.sh": "file", "nope": None,
                     "gitdeploy.yaml/x": None}
    for missing in ("nope", "ctx", "ctx/vendor"):
        with pytest.raises(FileNotFoundError):
            src.read(missing)
    assert src.walk("ctx") == [("ctx/a file ü.txt", "file"), ("ctx/deep", "dir"), ("ctx/deep/er", "dir"),
                               ("ctx/deep/er/run.sh", "file"), ("ctx/link", "symlink"), ("ctx/vendor", "submodule")]
    assert src.walk("gitdeploy.yaml") == [] and src.walk("nope") == []
    # the digest is the working tree's (submodule aside: the working tree has its files)
    (root / ".gitmodules").unlink()
    disk = WorktreeSource(root)
    assert src.tree_digest("ctx/deep") == disk.tree_digest("ctx/deep")
    with pytest.raises(FileNotFoundError):
        src.tree_digest("nope")


def test_export_writes_modes_and_symlinks(tmp_path):
    root = tmp_path / "repo"
    make_repo(root)
    src = open_source(root)
    out = tmp_path / "out"
    src.export("ctx", out)
    assert (out / "deep" / "er" / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    assert os.stat(out / "deep" / "er" / "run.sh").st_mode & 0o777 == 0o755
    assert os.readlink(out / "link") == "deep/er/run.sh"
    assert (out / "a file ü.txt").read_bytes() == b"\x00\x01binary\xff"
    assert not (out / "vendor").exists()  # another repository's files are not this commit's
    with pytest.raises(FileNotFoundError):
        src.export("gitdeploy.yaml", tmp_path / "x")


def test_bare_repositories_worktrees_tags_and_revisions(tmp_path):
    root = tmp_path / "repo"
    first = make_repo(root)
    (root / "gitdeploy.yaml").write_text("system: t\n")
    git(root, "commit", "-qam", "second")
    git(root, "tag", "-a", "v1", "-m", "tag", first)
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(root), str(bare))
    git(root, "worktree", "add", "-q", str(tmp_path / "wt"), first)
    for where in (root, root / ".git", bare, tmp_path / "wt"):
        assert open_source(where, "v1").commit == first, where  # an annotated tag, peeled
        assert open_source(where, "main~1").read("gitdeploy.yaml") == b"system: s\n"
        assert open_source(where, "main").read("gitdeploy.yaml") == b"system: t\n"
    assert find_repo(bare).bare and find_repo(bare).working_tree_dir is None
    assert find_repo(root / ".git").working_tree_dir == str(root)
    assert open_source(tmp_path / "wt").read("gitdeploy.yaml") == b"system: s\n"  # its own HEAD


@pytest.mark.parametrize("rev", ["nope", "HEAD^{tree}", "HEAD:gitdeploy.yaml", "a\nb", "0" * 40])
def test_a_missing_commit_is_said_plainly(tmp_path, rev):
    root = tmp_path / "repo"
    make_repo(root)
    with pytest.raises(GitdeployError) as err:
        open_source(root, rev)
    assert err.value.message == f"no commit '{rev}' in {root}"


def test_not_a_repository_and_an_empty_one(tmp_path):
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    for where in (plain, tmp_path / "missing"):
        with pytest.raises(GitdeployError) as err:
            open_source(where)
        assert err.value.message == f"{where} is not a git repository"
        with pytest.raises(GitdeployError, match="is not a git repository"):
            open_repo(where)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(GitdeployError) as err:
        open_source(empty)
    assert err.value.message == f"no commit 'HEAD' in {empty}"
    root = tmp_path / "repo"
    make_repo(root)
    with pytest.raises(GitdeployError, match="is not a git repository"):
        open_source(root / "ctx")  # a subdirectory: never a parent's repository


def test_the_history_without_gitpython(tmp_path, monkeypatch):
    """record, deployed_commit, attempts and subject on a repository whose git config names nobody:
    the note is gitdeploy's (as before), the ref moves, the subject is the message's first line."""
    root = tmp_path / "repo"
    sha = make_repo(root)
    for name, value in (("HOME", str(tmp_path)), ("XDG_CONFIG_HOME", str(tmp_path)), ("GIT_CONFIG_NOSYSTEM", "1")):
        monkeypatch.setenv(name, value)  # no global or system git config names anybody
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    repo = open_repo(root)
    assert deployed_commit(repo, "production") is None
    record(repo, Attempt(sha, "production", "s", "cli", "me", 1.0, 2.0, "ok"))
    record(repo, Attempt(sha, "staging", "s", "cli", "me", 3.0, 4.0, "failed", failure="boom"))
    monkeypatch.undo()
    assert deployed_commit(repo, "production") == sha and deployed_commit(repo, "staging") is None
    assert [(a.env, a.result) for a in attempts(repo)] == [("staging", "failed"), ("production", "ok")]
    assert git(root, "log", "-1", "--format=%an <%ae>", "refs/notes/gitdeploy") == "gitdeploy <gitdeploy@localhost>"
    assert subject(repo, sha) == "spec" and subject(repo, "0" * 40) == "(commit not found)"
    git(root, "update-ref", REF_PREFIX + "broken", git(root, "rev-parse", "HEAD^{tree}"))
    assert deployed_commit(repo, "broken") is None  # a ref that names no commit


def test_the_history_keeps_the_configured_identity(tmp_path):
    root = tmp_path / "repo"
    sha = make_repo(root)
    git(root, "config", "user.name", "Dev")
    git(root, "config", "user.email", "dev@example.com")
    record(open_repo(root), Attempt(sha, "production", "s", "cli", "me", 1.0, 2.0, "ok"))
    assert git(root, "log", "-1", "--format=%an <%ae>", "refs/notes/gitdeploy") == "Dev <dev@example.com>"


def test_a_reader_whose_git_died_starts_again(tmp_path):
    root = tmp_path / "repo"
    sha = make_repo(root)
    repo = open_repo(root)
    assert repo.rev("HEAD") == sha
    proc = repo.objects()._proc
    proc.kill()
    proc.wait()
    assert repo.rev("HEAD") == sha and repo.objects()._proc is not proc


def test_git_is_found_as_before_and_its_absence_is_an_error_not_a_traceback(tmp_path):
    root = tmp_path / "repo"
    make_repo(root)
    (tmp_path / "empty").mkdir()
    log = tmp_path / "git.log"
    wrapper = tmp_path / "mygit"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{shutil.which("git")}" "$@"\n')
    wrapper.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k != "GIT_PYTHON_GIT_EXECUTABLE"}
    cmd = [sys.executable, "-m", "gitdeploy", "--repo", str(root), "validate"]
    # $GIT_PYTHON_GIT_EXECUTABLE names the git to run (as it did for GitPython)
    read = subprocess.run(cmd, capture_output=True, text=True, env={**base, "GIT_PYTHON_GIT_EXECUTABLE": str(wrapper)})
    assert "defines no services" in read.stdout + read.stderr  # the spec was read from the commit
    assert "cat-file --batch" in log.read_text()
    gone = subprocess.run(cmd, capture_output=True, text=True, env={**base, "PATH": str(tmp_path / "empty")})
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
    assert "error: git cannot be run (git: No such file or directory)" in gone.stderr
    assert "hint: install git, or put it on PATH" in gone.stderr
