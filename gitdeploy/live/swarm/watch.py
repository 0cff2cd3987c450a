"""One look at every followed service per round, shared by all the deploy's followers.

Following services one by one costs the manager two calls per service and poll: 20 services
followed every half second are 80 calls a second to the manager that is scheduling their tasks at
the same time. A `Watch` reads every service someone follows, and all their tasks, in two calls per
round, and hands each follower its part. A follower waits for a round that began after it asked,
so it sees what it has just changed; a round starts at most `poll` seconds after the last one, and
sooner (never closer than `gap`) when a new follower is waiting.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr
from gitdeploy.live.api import LightAPI, adopt_api
from gitdeploy.live.swarm.tasks import believable, down_nodes, is_global

_ERRORS = apierr.EngineError
IDLE = 2.0  # seconds without a follower before the watch's thread ends


@dataclass(frozen=True)
class Round:
    """What one round read: the services asked about (by ID; a removed one is missing) and their tasks."""

    seq: int
    started: float  # time.monotonic() when its calls began
    ids: frozenset[str]
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    error: str = ""  # the manager's words when the round could not be read
    nodes: list[dict[str, Any]] | None = None  # the cluster's nodes, read when a global service is followed

    def of(self, service_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The service and its tasks; raises GitdeployError when the round failed or it is gone."""
        if self.error:
            raise GitdeployError(f"reading service {service_id[:12]}: {self.error}")
        svc = self.services.get(service_id)
        if svc is None:
            raise GitdeployError(f"reading service {service_id[:12]}: no such service (removed while followed)")
        return svc, self.tasks.get(service_id, [])


class Watch:
    """The rounds of one manager (see the module docstring). Thread-safe; its thread is a daemon
    that runs only while someone follows."""

    def __init__(self, api: LightAPI, poll: float = 0.2, gap: float = 0.05) -> None:
        self.api = adopt_api(api)
        self.poll = poll
        self.gap = gap
        self._cond = threading.Condition()
        self._wanted: Counter[str] = Counter()
        self._eager = 0.0  # a follower waits for a round that starts after this (monotonic)
        self._last: Round | None = None
        self._ended = 0.0  # when the last round's calls returned
        self._thread: threading.Thread | None = None
        self._closed = False
        self.rounds = 0  # how many rounds were read (for tests and benchmarks); also the last round's seq

    @contextlib.contextmanager
    def following(self, service_id: str) -> Iterator[None]:
        """Include `service_id` in the rounds while the block runs."""
        with self._cond:
            self._wanted[service_id] += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gd-swarm-watch", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._cond:
                self._wanted[service_id] -= 1
                if self._wanted[service_id] <= 0:
                    del self._wanted[service_id]

    def next(self, service_id: str, after: float, seq: int, cancel: threading.Event | None = None,
             until: float | None = None) -> Round | None:
        """The first round newer than `seq` that began at or after `after` (monotonic) and asked
        about `service_id`; None when `cancel` fired or `until` (monotonic) passed first. Call
        inside `following(service_id)`."""
        with self._cond:
            while True:
                r = self._last
                if r is not None and r.seq > seq and r.started >= after and service_id in r.ids:
                    return r
                if self._closed or (cancel is not None and cancel.is_set()):
                    return None
                now = time.monotonic()
                if until is not None and now >= until:
                    return None
                if after > self._eager:  # the watch's thread starts a round soon (only a new wish wakes it)
                    self._eager = after
                    self._cond.notify_all()
                wait = 0.05 if cancel is not None else 0.5  # a cancel is an Event: looked at between waits
                if until is not None:
                    wait = min(wait, max(0.0, until - now))
                self._cond.wait(wait)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        idle_since: float | None = None
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    now = time.monotonic()
                    if not self._wanted:
                        idle_since = idle_since or now
                        if now - idle_since >= IDLE:
                            self._thread = None
                            return
                        self._cond.wait(IDLE)
                        continue
                    idle_since = None
                    due = self._ended + (self.gap if self._eager > (self._last.started if self._last else -1)
                                         else self.poll)
                    if now >= due:
                        break
                    self._cond.wait(due - now)
                ids = frozenset(self._wanted)
            seq = self.rounds + 1  # counted on across a restart of this thread: rounds stay ordered
            started = time.monotonic()
            try:
                r = self._read(seq, started, ids)
            except Exception as exc:  # noqa: BLE001 - e.g. an answer of an unexpected shape: said to every follower
                r = Round(seq, started, ids, error=f"unexpected answer from the manager ({exc!r})")
            with self._cond:
                self._last = r
                self._ended = time.monotonic()
                self.rounds += 1
                self._cond.notify_all()

    def _read(self, seq: int, started: float, ids: frozenset[str]) -> Round:
        try:
            for attempt in range(2):
                services = self.api.services(filters={"id": sorted(ids)})
                present = sorted({s["ID"] for s in services} & ids)  # the manager refuses tasks of a removed one
                try:
                    tasks = self.api.tasks(filters={"service": present}) if present else []
                    nodes = self.api.nodes() if any(is_global(s) for s in services) else None
                    tasks = believable(tasks, down_nodes(self.api, tasks, nodes))  # a down node's last word is stale
                    break
                except apierr.NotFound:
                    if attempt:  # removed between the two calls, twice
                        raise
        except apierr.APIError as exc:
            return Round(seq, started, ids, error=str(exc.explanation or exc))
        except _ERRORS as exc:
            return Round(seq, started, ids, error=f"the cluster's manager did not answer ({exc})")
        by_id = {s["ID"]: s for s in services if s["ID"] in ids}  # the filter matches ID prefixes
        by_service: dict[str, list[dict[str, Any]]] = {}
        for t in tasks:
            by_service.setdefault(t.get("ServiceID", ""), []).append(t)
        return Round(seq, started, ids, by_id, by_service, nodes=nodes)
