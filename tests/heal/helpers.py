"""Small specs and engine helpers for the heal tests (real Docker)."""

from __future__ import annotations

import time

from gitdeploy.live import labels
from tests.specrepo import SLEEP  # noqa: F401 - re-exported for the heal tests
from tests.specrepo import svc as _svc


def svc(**kw) -> dict:
    """The shared busybox service, with the heal tests' shorter gate."""
    return _svc("0.2s", **kw)


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
