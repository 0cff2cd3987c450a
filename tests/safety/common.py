"""Shared helpers for the safety tests: small busybox services and a client on the system network."""

from __future__ import annotations

import docker

from gitdeploy.live import labels
from gitdeploy.live.engine import network_name

SLEEP = ["sleep", "3600"]


def svc(**kw) -> dict:
    """A busybox `sleep` service that is fast to start, gate and stop."""
    base = {"image": "gitdeploy/busybox:1", "command": SLEEP, "init": True, "stop_grace_period": "1s",
            "rollout": {"monitor": "0.3s"}}
    base.update(kw)
    return base


def web(version: str, **kw) -> dict:
    """A busybox httpd answering `version`, with a health check (start-first: no host port)."""
    script = f"mkdir -p /www && echo {version} > /www/index.html && exec httpd -f -p 80 -h /www"
    base = svc(command=["sh", "-c", script],
               healthcheck={"test": ["CMD", "wget", "-q", "-O-", "http://127.0.0.1/"], "interval": "0.3s",
                            "timeout": "2s", "retries": 3},
               rollout={"deadline": "15s"})
    base.update(kw)
    return base


def running(client: docker.DockerClient, system: str) -> list:
    return client.containers.list(filters={"label": f"{labels.SYSTEM}={system}"})


# Debian's static busybox wget crashes (SIGSEGV) with its own -T timeout: bound it with `timeout`.
WGET = "timeout 2 wget -q -O-"


def fetch(client: docker.DockerClient, base_image: str, system: str, alias: str, env: str = "production") -> str:
    """GET http://<alias>/ from a one-off container on the system's network."""
    out = client.containers.run(base_image, ["sh", "-c", f"{WGET} http://{alias}/"],
                                network=network_name(system, env), remove=True)
    return out.decode().strip()
