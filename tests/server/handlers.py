"""Small real job handlers for the server tests, loadable as `tests.server.handlers:REGISTRY`.

Each appends "start <id>" and "done <id>" lines to $GITDEPLOY_TEST_LOG around a sleep of
$GITDEPLOY_TEST_SLEEP seconds (default 0), so a test can see which jobs ran, how often, and which
were mid-run when the process was killed.
"""

from __future__ import annotations

import os
import time

from gitdeploy.errors import GitdeployError
from gitdeploy.server.queue import Job


def _note(line: str) -> None:
    with open(os.environ["GITDEPLOY_TEST_LOG"], "a") as f:
        f.write(line + "\n")


def slow(job: Job) -> str:
    _note(f"start {job.id}")
    time.sleep(float(os.environ.get("GITDEPLOY_TEST_SLEEP", "0")))
    _note(f"done {job.id}")
    return f"{job.kind} {job.id} ok"


def broken(job: Job) -> str:
    raise GitdeployError("cannot reach the engine", "start Docker")


REGISTRY = {"plan": slow, "deploy": slow, "command": slow, "release": broken}
