"""Test failpoints for the steps that are not journaled (halt, down): kill it and look.

GITDEPLOY_FAILPOINT=<kind>:N SIGKILLs the process right after the N-th step of `kind` finished
(`halt`: a service scaled to 0; `down`: a service, network or the objects removed). While one is
armed, steps of that kind run one at a time, so "after the N-th" is exact even where they
normally run in parallel; unarmed, `step` does nothing. (The deploy's own steps are killed from
the journal: gitdeploy.deploy.journal, `journal:N`.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_done: dict[str, int] = {}


def armed(kind: str) -> int | None:
    """N when GITDEPLOY_FAILPOINT says `kind:N`, else None."""
    name, _, n = os.environ.get("GITDEPLOY_FAILPOINT", "").partition(":")
    return int(n) if name == kind and n.isdigit() else None


@contextlib.contextmanager
def step(kind: str) -> Iterator[None]:
    """One step of `kind` (see the module doc); a step that raises does not count."""
    n = armed(kind)
    if n is None:
        yield
        return
    with _lock:
        yield
        _done[kind] = _done.get(kind, 0) + 1
        if _done[kind] == n:
            os.kill(os.getpid(), signal.SIGKILL)
