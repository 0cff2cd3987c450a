"""`gitdeploy hooks install`: thin scripts, idempotent, never silently replacing someone's hook."""

from __future__ import annotations

from pathlib import Path

from gitdeploy.hooks.install import MARKER, script

from .helpers import git, gitdeploy

SHIPPED = Path(__file__).resolve().parents[2] / "hooks"


def test_shipped_hooks_are_the_thin_scripts_install_writes():
    for name in ("pre-receive", "post-receive", "pre-commit"):
        path = SHIPPED / name
        assert path.read_text() == script(name)
        assert path.stat().st_mode & 0o111, f"hooks/{name} is not executable"
        assert f'exec gitdeploy hook {name} "$@"' in path.read_text()


def test_install_is_idempotent_and_records_the_data_dir(tmp_path):
    bare, data = tmp_path / "spec.git", tmp_path / "data"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    first = gitdeploy("--data-dir", str(data), "hooks", "install", str(bare), cwd=tmp_path)
    assert "installed pre-receive, post-receive" in first.stdout
    assert "main -> production" in first.stdout
    hook = (bare / "hooks" / "post-receive").read_text()
    # the installed copy is the shipped script plus one PATH fallback line
    extra = [line for line in hook.splitlines() if line not in script("post-receive").splitlines()]
    assert len(extra) == 1 and extra[0].startswith("command -v gitdeploy")
    assert git("config", "gitdeploy.dataDir", cwd=bare).stdout.strip() == str(data)
    again = gitdeploy("--data-dir", str(data), "hooks", "install", str(bare), cwd=tmp_path)
    assert "installed nothing" in again.stdout and "already installed" in again.stdout
    assert (data / "repositories.txt").read_text().splitlines() == [str(bare)]


def test_foreign_hooks_are_refused_without_force(tmp_path):
    bare = tmp_path / "spec.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    theirs = bare / "hooks" / "post-receive"
    theirs.write_text("#!/bin/sh\necho mirror to backup\n")
    theirs.chmod(0o755)
    refused = gitdeploy("--data-dir", str(tmp_path / "d"), "hooks", "install", str(bare), cwd=tmp_path, check=False)
    assert refused.returncode == 2
    assert "post-receive" in refused.stderr and "--force" in refused.stderr
    assert theirs.read_text() == "#!/bin/sh\necho mirror to backup\n"
    assert not (bare / "hooks" / "pre-receive").exists()  # all or nothing
    gitdeploy("--data-dir", str(tmp_path / "d"), "hooks", "install", "--force", str(bare), cwd=tmp_path)
    assert MARKER in theirs.read_text()
    assert (bare / "hooks" / "post-receive.before-gitdeploy").read_text() == "#!/bin/sh\necho mirror to backup\n"


def test_server_hooks_need_a_bare_repository(tmp_path):
    git("init", "-q", "-b", "main", str(tmp_path / "clone"), cwd=tmp_path)
    out = gitdeploy("hooks", "install", str(tmp_path / "clone"), cwd=tmp_path, check=False)
    assert out.returncode == 2 and "not a bare repository" in out.stderr
    gitdeploy("hooks", "install", "--client", str(tmp_path / "clone"), cwd=tmp_path)
    assert MARKER in (tmp_path / "clone" / ".git" / "hooks" / "pre-commit").read_text()


def test_completion_scripts():
    for shell, needle in (("bash", "complete -o nosort -F"), ("zsh", "#compdef gitdeploy"), ("fish", "complete")):
        out = gitdeploy("completion", shell, cwd=Path.cwd())
        assert needle in out.stdout and "_GITDEPLOY_COMPLETE" in out.stdout
