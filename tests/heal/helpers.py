"""Small specs and engine helpers for the heal tests (real Docker)."""

from __future__ import annotations

import time

from gitdeploy.live import labels

SLEEP = ["sleep", "3600"]


def svc(**kw):
    """A busybox `sleep` service that starts and stops fast."""
    base = {"image": "gitdeploy/busybox:1", "command": SLEEP, "init": True, "stop_grace_period": "1s",
            "rollout": {"monitor": "0.2s"}}
    base.update(kw)
    return base


def containers(client, system, service=None, all_=False):
    flt = {"label": [f"{labels.SYSTEM}={system}"] + ([f"{labels.SERVICE}={service}"] if service else [])}
    return client.containers.list(all=all_, filters=flt)


def wait_for(predicate, timeout: float, step: float = 0.05):
    """Poll `predicate` until it returns a truthy value or `timeout` seconds pass; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)
