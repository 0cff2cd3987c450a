"""A real spec repository in a temporary folder, for tests that deploy to the real engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import docker
import git
from ruamel.yaml import YAML

from gitdeploy.pipeline import Context


@dataclass
class SpecRepo:
    root: Path
    data_dir: Path
    client: docker.DockerClient
    env: str = "production"

    @classmethod
    def create(cls, tmp_path: Path, client: docker.DockerClient) -> SpecRepo:
        root = tmp_path / "spec"
        root.mkdir()
        repo = git.Repo.init(root, initial_branch="main")
        with repo.config_writer() as cw:
            cw.set_value("user", "email", "dev@example.com")
            cw.set_value("user", "name", "Dev")
        return cls(root=root, data_dir=tmp_path / "data", client=client)

    @property
    def repo(self) -> git.Repo:
        return git.Repo(self.root)

    def write(self, files: dict[str, str | bytes | dict]) -> None:
        """Write files; a dict value is dumped as YAML (e.g. {"gitdeploy.yaml": {...}})."""
        for name, content in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, dict):
                yaml = YAML()
                with path.open("w") as f:
                    yaml.dump(content, f)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)

    def commit(self, files: dict[str, str | bytes | dict] | None = None, message: str = "change") -> str:
        """Write `files`, commit everything, return the new commit's SHA."""
        if files:
            self.write(files)
        repo = self.repo
        repo.git.add(A=True)
        return repo.index.commit(message).hexsha

    def ctx(self, **kw) -> Context:
        return Context(repo=self.root, env=kw.pop("env", self.env), data_dir=self.data_dir, client=self.client, **kw)


SLEEP = ["sleep", "3600"]


def svc(monitor: str = "0.3s", **kw) -> dict:
    """A busybox `sleep` service that is fast to start, gate and stop (override any key)."""
    return {"image": "gitdeploy/busybox:1", "command": SLEEP, "init": True, "stop_grace_period": "1s",
            "rollout": {"monitor": monitor}, **kw}


def running(client: docker.DockerClient, system: str) -> list:
    """The running containers of `system` (found by label)."""
    from gitdeploy.live import labels

    return client.containers.list(filters={"label": f"{labels.SYSTEM}={system}"})
