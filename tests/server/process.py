"""`python -m webhook` with the small test handlers (tests.server.handlers), in a subprocess."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests

from gitdeploy.server.queue import JobQueue
from tests.serverproc import ServerProcess

from .conftest import SECRET

REPO = Path(__file__).resolve().parents[2]


class Server(ServerProcess):
    """One server process over a data dir; restartable."""

    def __init__(self, tmp: Path, sleep: float, workers: int = 2, max_body: int = 5 * 1024 * 1024,
                 extra: str = "") -> None:
        self.events = tmp / "handled.log"
        env = {**os.environ, "GITDEPLOY_WEBHOOK_SECRET": SECRET, "GITDEPLOY_TEST_LOG": str(self.events),
               "GITDEPLOY_TEST_SLEEP": str(sleep), "PYTHONPATH": str(REPO)}
        super().__init__(tmp, REPO, env)
        self.config = tmp / "server.yaml"
        self.config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f"data_dir: data\nworkers: {workers}\nmax_body_bytes: {max_body}\n"
            "repositories: [Codertocat/Hello-World]\n"
            "environments: {production: {branch: master}}\n" + extra
        )

    def command(self) -> list[str]:
        return [sys.executable, "-m", "webhook", "--config", str(self.config),
                "--handlers", "tests.server.handlers:REGISTRY"]

    def deliver(self, event: str, body: dict | bytes, delivery: str, signature: str | None = "auto"):
        return self.post(event, body, delivery, signature)

    def stats(self) -> dict[str, int]:
        return requests.get(f"{self.url}/healthz", timeout=5).json()["queue"]

    def wait_idle(self, done: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (s := self.stats())["done"] + s["failed"] < done or s["queued"] or s["running"]:
            assert time.monotonic() < deadline, f"jobs did not finish: {s}\n{self.output()}"
            time.sleep(0.1)

    def lines(self) -> list[str]:
        return self.events.read_text().splitlines() if self.events.exists() else []

    def jobs(self) -> dict[int, object]:
        q = JobQueue(self.tmp / "data" / "queue.sqlite3")
        try:
            return {j.id: j for j in q.recent(1000)}
        finally:
            q.close()
