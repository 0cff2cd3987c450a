"""A gitdeploy server in a subprocess (the real waitress stack), for end-to-end tests.

Subclasses say which command starts it; this class starts it and waits for /healthz, stops it
with SIGTERM (or SIGKILL), keeps its log per run, and sends signed webhook deliveries.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from tests.server.conftest import sign


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    log_name = "server"

    def __init__(self, tmp: Path, cwd: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.cwd = cwd
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def command(self) -> list[str]:
        raise NotImplementedError  # each kind of server names its command

    def start(self, timeout: float = 30):
        self.runs += 1
        self.log = open(self.tmp / f"{self.log_name}-{self.runs}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"server exited:\n{self.output()}"
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"server did not come up:\n{self.output()}"
            time.sleep(0.05)

    def output(self) -> str:
        return (self.tmp / f"{self.log_name}-{self.runs}.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def post(self, event: str, body: dict | bytes, delivery: str, signature: str | None = "auto"):
        """POST one delivery; signature "auto" signs it with the test secret, None sends none."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}
        if signature == "auto":
            headers["X-Hub-Signature-256"] = sign(raw)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return requests.post(f"{self.url}/webhooks/github", data=raw, headers=headers, timeout=10)
