"""Spec sources: a commit read from many threads at once (parallel image builds do that)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import git

from gitdeploy.spec.source import GitSource, WorktreeSource


def test_git_source_is_safe_to_share_between_threads(tmp_path):
    repo = git.Repo.init(tmp_path, initial_branch="main")
    for i in range(12):
        ctx = tmp_path / f"s{i}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM scratch\nLABEL n={i}\n")
        for j in range(20):
            (ctx / f"f{j}.txt").write_text(f"{i}-{j}\n" * 50)
    repo.git.add(A=True)
    repo.git.commit("-q", "-m", "contexts", env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                                                 "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    source = GitSource(repo, "HEAD")
    disk = WorktreeSource(tmp_path)
    names = [f"s{i}" for i in range(12)] * 3
    with ThreadPoolExecutor(max_workers=8) as pool:  # before the lock this hung on git's pipe
        digests = list(pool.map(source.tree_digest, names))
        contents = list(pool.map(lambda n: source.read(f"{n}/f7.txt"), names))
    assert digests == [disk.tree_digest(n) for n in names]
    assert contents == [f"{n[1:]}-7\n".encode() * 50 for n in names]
