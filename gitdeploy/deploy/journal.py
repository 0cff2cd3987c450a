"""The deploy journal: a deploy's intent and progress, on disk before the engine is touched.

Two files per environment in the data directory:

- `journal.json`, the intent, written once per attempt (temp file, fsync, rename, fsync of the
  folder): the target commit, the last verified revision, the containers running before, and
  the plan;
- `journal.log`, the progress: one JSON line per finished engine action and per phase
  (execute, verified, rollback, rolled-back, record), appended and fsync'd; a stop or a drain
  also gets a line before its request is sent (`sending`), since the engine carries it out even
  when the process that sent it is gone. A torn last line
  (power lost mid-write) is ignored on reading.

A finished attempt removes both. Whoever next takes the environment's lock and finds them left
behind knows an attempt was interrupted, what it was doing and what it was deploying (see
gitdeploy.deploy.recover).

Test failpoint: GITDEPLOY_FAILPOINT=journal:N kills the process with SIGKILL right after the
N-th journal record is durable (the intent counts as record 1). That is how the crash-matrix
tests stop a deploy at every step boundary, driven by the journal rather than by sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitdeploy.errors import GitdeployError

INTENT = "journal.json"
PROGRESS = "journal.log"
VERSION = 1


def _failpoint() -> int | None:
    spec = os.environ.get("GITDEPLOY_FAILPOINT", "")
    kind, _, n = spec.partition(":")
    if kind == "journal" and n.isdigit():
        return int(n)
    return None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _disk_error(exc: OSError, path: Path) -> GitdeployError:
    return GitdeployError(
        f"cannot write the deploy journal {path}: {exc.strerror or exc}",
        "free space in the data directory (the disk may be full); nothing was changed on the engine",
    )


class Journal:
    """The journal of one attempt, open for writing (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0  # lines appended
        self._synced = 0  # lines known durable
        self._fd: int | None = None
        self._count = 0
        self._kill_at = _failpoint()
        self.tolerant = False  # a write failure is said, not raised (while rolling back)
        self.lost = ""  # the write failure swallowed in tolerant mode

    def resume(self) -> None:
        """Append to the journal an earlier process left (recovery writes its progress there)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._fd = os.open(self.folder / PROGRESS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise _disk_error(exc, self.folder / PROGRESS) from None

    def begin(self, intent: dict[str, Any]) -> None:
        """Write the intent durably; raises GitdeployError (disk full) before anything is done."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"version": VERSION, "pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        data |= intent
        tmp = self.folder / f".{INTENT}.{os.getpid()}"
        path = self.folder / INTENT
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            log = self.folder / PROGRESS
            self._fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
            os.fsync(self._fd)
            os.replace(tmp, path)
            _fsync_dir(self.folder)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self._close()
            raise _disk_error(exc, path) from None
        self._counted()

    def note(self, **record: Any) -> None:
        """Append one progress record durably. A failure to write is raised (GitdeployError).

        Group commit: the line is appended under a lock, the fsync is shared - parallel steps
        that note at once wait for one fsync that covers all of them, not for one each."""
        line = (json.dumps(record | {"t": round(time.time(), 3)}) + "\n").encode()
        try:
            with self._lock:
                if self._fd is None:
                    return
                os.write(self._fd, line)
                self._written += 1
                mine = self._written
            with self._sync_lock:
                if self._synced < mine:
                    upto = self._written
                    fd = self._fd
                    if fd is not None:
                        os.fsync(fd)
                    self._synced = upto
        except OSError as exc:
            if self.tolerant:
                self.lost = self.lost or f"{exc.strerror or exc}"
                return
            raise _disk_error(exc, self.folder / PROGRESS) from None
        with self._lock:
            self._counted()

    def _counted(self) -> None:
        self._count += 1
        if self._kill_at is not None and self._count == self._kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def finish(self) -> None:
        """The attempt is over and recorded: nothing to recover."""
        self._close()
        clear(self.folder)

    def _close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def clear(folder: Path) -> None:
    for name in (INTENT, PROGRESS):
        (folder / name).unlink(missing_ok=True)
    try:
        _fsync_dir(folder)
    except OSError:
        pass


@dataclass(frozen=True)
class Unfinished:
    """An attempt whose journal was left behind: it was interrupted."""

    intent: dict[str, Any]
    records: tuple[dict[str, Any], ...] = field(default=())
    problem: str = ""  # the journal could not be read entirely (said, not hidden)

    @property
    def target(self) -> str:
        return str(self.intent.get("target") or "")

    @property
    def verified_before(self) -> str:
        return str(self.intent.get("verified_before") or "")

    @property
    def phases(self) -> list[str]:
        return [str(r["phase"]) for r in self.records if "phase" in r]

    @property
    def phase(self) -> str:
        """The last phase it reached: execute, verified, rollback, rolled-back or record."""
        phases = self.phases
        return phases[-1] if phases else "prepare"

    @property
    def in_flight(self) -> tuple[dict[str, Any], ...]:
        """The requests journaled as about to be sent (a stop, a drain) whose end is not journaled:
        the engine may still be carrying them out after the process died."""
        done = Counter((r.get("op"), r.get("cid")) for r in self.records if "op" in r)
        pending = []
        for r in self.records:
            if "sending" not in r:
                continue
            key = (r["sending"], r.get("cid"))
            if done[key] > 0:
                done[key] -= 1
            else:
                pending.append(r)
        return tuple(pending)

    @property
    def ops_done(self) -> int:
        return sum(1 for r in self.records if "op" in r)

    def where(self) -> str:
        """'during the rollback, after 7 engine actions' - for messages and the history."""
        words = {"prepare": "before any engine action", "execute": "while deploying",
                 "verified": "after verifying, before recording", "rollback": "while rolling back",
                 "rolled-back": "after rolling back, before recording", "record": "while recording"}
        last = next((r for r in reversed(self.records) if "op" in r), None)
        at = f", after {self.ops_done} engine action(s)" if self.ops_done else ""
        if last:
            at += f" (last: {last.get('step', '')} {last.get('op', '')})"
        holder = f"pid {self.intent.get('pid', '?')} on {self.intent.get('host', '?')}"
        return f"{words.get(self.phase, self.phase)}{at}, by {holder}"


def read(folder: Path) -> Unfinished | None:
    """The attempt left in `folder`, or None. Never raises for a damaged journal: it says so."""
    path = folder / INTENT
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        (folder / PROGRESS).unlink(missing_ok=True)  # killed between the log and the intent
        return None
    except OSError as exc:
        return Unfinished({}, (), f"cannot read {path}: {exc.strerror or exc}")
    try:
        intent = json.loads(raw)
        if not isinstance(intent, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        return Unfinished({}, (), f"{path} is damaged ({exc})")
    records: list[dict[str, Any]] = []
    problem = ""
    try:
        lines = (folder / PROGRESS).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for i, line in enumerate(lines):
        try:
            rec = json.loads(line)
            if isinstance(rec, dict):
                records.append(rec)
        except ValueError:
            if i != len(lines) - 1:
                problem = f"{folder / PROGRESS}: line {i + 1} is damaged"
    return Unfinished(intent, tuple(records), problem)
