"""Shared helpers for the safety tests: small busybox services and a client on the system network."""

from __future__ import annotations

import docker

from gitdeploy.live.engine import network_name
from tests.specrepo import SLEEP, running, svc  # noqa: F401 - shared with the safety tests


def web(version: str, **kw) -> dict:
    """A busybox httpd answering `version`, with a health check (start-first: no host port)."""
    script = f"mkdir -p /www && echo {version} > /www/index.html && exec httpd -f -p 80 -h /www"
    base = svc(command=["sh", "-c", script],
               healthcheck={"test": ["CMD", "wget", "-q", "-O-", "http://127.0.0.1/"], "interval": "0.3s",
                            "timeout": "2s", "retries": 3},
               rollout={"deadline": "15s"})
    base.update(kw)
    return base


# Debian's static busybox wget crashes (SIGSEGV) with its own -T timeout: bound it with `timeout`.
WGET = "timeout 2 wget -q -O-"


def fetch(client: docker.DockerClient, base_image: str, system: str, alias: str, env: str = "production") -> str:
    """GET http://<alias>/ from a one-off container on the system's network."""
    out = client.containers.run(base_image, ["sh", "-c", f"{WGET} http://{alias}/"],
                                network=network_name(system, env), remove=True)
    return out.decode().strip()
