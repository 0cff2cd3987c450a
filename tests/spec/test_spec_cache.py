"""The spec cache (gitdeploy.spec.cache) through the pipeline's `load`, on real git repositories:
the same Spec as a full load, at the commit asked for; a new load for a changed tree, another
engine, a damaged file or a secret this host no longer provides (reported where it is written);
never for a working tree. Whether a no-op deploy then skips the parser is in
tests/core/test_import_budget.py."""

from __future__ import annotations

import pytest

from gitdeploy.errors import SpecInvalid
from gitdeploy.pipeline.context import Context, load
from gitdeploy.spec.load import load_spec
from gitdeploy.spec.source import open_source
from tests.specrepo import SpecRepo

SPEC = {
    "system": "shop",
    "configs": {"motd": {"file": "conf/motd.txt"}},
    "groups": {"front": {"environment": {"LEVEL": "info"}, "services": {
        "web": {"image": "gitdeploy/busybox:1", "replicas": 1, "ports": ["8080:80"],
                "configs": [{"source": "motd", "target": "/etc/motd"}],
                "secrets": [{"source": "db_password", "target": "/run/secrets/db"}]},
    }}},
    "services": {"worker": {"image": "gitdeploy/busybox:1", "command": ["sleep", "3600"],
                            "depends_on": ["front/web"]}},
}


@pytest.fixture
def repo(tmp_path, monkeypatch) -> SpecRepo:
    monkeypatch.setenv("GITDEPLOY_SECRET_DB_PASSWORD", "s3cret")
    r = SpecRepo.create(tmp_path, None)
    r.commit({"gitdeploy.yaml": SPEC, "conf/motd.txt": "hello\n"})
    return r


def ctx(repo: SpecRepo, engine: str = "docker") -> Context:
    return Context(repo=repo.root, data_dir=repo.data_dir, engine_kind=engine)


def cached_files(repo: SpecRepo) -> list:
    return sorted((repo.data_dir / "cache" / "spec").glob("*.pickle"))


def full(repo: SpecRepo, rev: str, engine: str = "docker"):
    return load_spec(open_source(repo.root, rev, False), ctx(repo).secrets(), engine)


def test_a_cached_spec_is_the_full_load_at_the_commit_asked_for(repo):
    first = repo.repo.head.commit.hexsha
    _, spec = load(ctx(repo), first)
    assert len(cached_files(repo)) == 1 and spec == full(repo, first)
    assert spec.files and "secret" not in repr(spec.files).lower() and b"s3cret" not in cached_files(repo)[0].read_bytes()
    same_tree = repo.repo.git.commit("--allow-empty", "-m", "no change") and repo.repo.head.commit.hexsha
    _, again = load(ctx(repo), same_tree)  # from the cache: the same tree
    assert len(cached_files(repo)) == 1
    assert again.commit == same_tree and again == full(repo, same_tree)
    changed = repo.commit({"conf/motd.txt": "changed\n"})  # a mounted file changed: a new tree
    _, new = load(ctx(repo), changed)
    assert len(cached_files(repo)) == 2 and new == full(repo, changed) and new.files != again.files


def test_another_engine_is_validated_again(repo):
    rev = repo.repo.head.commit.hexsha
    load(ctx(repo), rev)
    repo_spec = dict(SPEC, services={"worker": dict(SPEC["services"]["worker"], placement={"constraints": ["node.role==worker"]})})
    rev = repo.commit({"gitdeploy.yaml": repo_spec})
    _, on_swarm = load(ctx(repo, "swarm"), rev)
    assert next(s for s in on_swarm.services if s.path == "worker").placement is not None
    with pytest.raises(SpecInvalid) as exc:  # placement on one engine: refused, even though a swarm load is kept
        load(ctx(repo, "docker"), rev)
    assert "placement" in str(exc.value.problems)


def test_a_damaged_cache_file_is_loaded_again(repo):
    rev = repo.repo.head.commit.hexsha
    _, spec = load(ctx(repo), rev)
    (path,) = cached_files(repo)
    path.write_bytes(b"not a pickle")
    _, again = load(ctx(repo), rev)
    assert again == spec


def test_a_secret_no_longer_provided_is_reported_where_it_is_written(repo, monkeypatch):
    rev = repo.repo.head.commit.hexsha
    load(ctx(repo), rev)
    monkeypatch.delenv("GITDEPLOY_SECRET_DB_PASSWORD")
    with pytest.raises(SpecInvalid) as exc:
        load(ctx(repo), rev)
    (problem,) = exc.value.problems
    assert "db_password" in problem.message and problem.line > 0


def test_a_working_tree_is_never_cached(repo):
    load(ctx(repo), "HEAD", worktree=True)
    assert cached_files(repo) == []


def test_a_spec_kept_by_other_code_is_loaded_again(repo, monkeypatch):
    from gitdeploy.spec import cache

    rev = repo.repo.head.commit.hexsha
    load(ctx(repo), rev)
    monkeypatch.setattr(cache, "_code", "another version of the loader")
    load(ctx(repo), rev)
    assert len(cached_files(repo)) == 2


def test_what_a_writer_killed_before_its_rename_left_is_removed(repo):
    """The write is a temporary file renamed into place: a kill in between leaves only the
    temporary file, which the next write removes once it is old."""
    import os

    folder = repo.data_dir / "cache" / "spec"
    folder.mkdir(parents=True)
    left = folder / ".0123abcd.4242.tmp"
    left.write_bytes(b"half a pickle")
    os.utime(left, (1, 1))
    fresh = folder / ".4567cdef.4343.tmp"  # another writer's, right now: left alone
    fresh.write_bytes(b"being written")
    load(ctx(repo), repo.repo.head.commit.hexsha)
    assert len(cached_files(repo)) == 1 and not left.exists() and fresh.exists()
