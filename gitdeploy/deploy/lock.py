"""One deploy (or repair) at a time per environment.

The lock is a file in the data directory held with `fcntl.flock`: the kernel releases it when
the holder's process dies, so a crashed deployer never blocks the next one (Kamal's stale locks
do, for weeks). Who holds it is kept beside it in `deploy.holder.json`, written atomically (temp
file, fsync, rename: a crash leaves the old holder or the new, never half of one) and validated
when read; a clean release removes it, so one left behind names a holder that died.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gitdeploy.errors import GitdeployError, Locked
from gitdeploy.fsutil import atomic_write, storage_error
from gitdeploy.host import whoami  # noqa: F401 - re-exported: the lock's holder


def env_dir(data_dir: Path, env: str) -> Path:
    """The folder of per-environment state (lock, freeze, halt flags)."""
    folder = data_dir / "envs" / env
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class LockInfo:
    owner: str  # user@host
    pid: int
    trigger: str  # cli, push, comment, hook, heal, rollback, ...
    reason: str
    started: float  # unix time

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        why = f", {self.reason}" if self.reason else ""
        return f"{self.owner} (pid {self.pid}, {self.trigger}{why}) since {since}"


class DeployLock:
    """The held lock of one environment; release it (or use it as a context manager)."""

    def __init__(self, path: Path, fd: int, info: LockInfo, recovered: LockInfo | None) -> None:
        self.path = path
        self.info = info
        self.recovered = recovered  # the metadata a dead holder left behind, if any
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            holder_path(self.path.parent).unlink(missing_ok=True)  # a clean release: nothing to recover
        except OSError:
            pass  # an I/O error: the next holder overwrites it
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DeployLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_path(data_dir: Path, env: str) -> Path:
    return env_dir(data_dir, env) / "deploy.lock"


def holder_path(folder: Path) -> Path:
    """The holder metadata beside an environment's lock file (in `folder`)."""
    return folder / "deploy.holder.json"


def acquire(data_dir: Path, env: str, *, trigger: str, reason: str = "", owner: str | None = None) -> DeployLock:
    """Take the environment's lock at once, or raise Locked naming the holder.

    A lock left by a process that died is free again (the kernel dropped the flock); its
    metadata is returned as `DeployLock.recovered` so callers can say so.
    """
    try:
        path = lock_path(data_dir, env)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise storage_error(exc, data_dir / "envs" / env / "deploy.lock") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        held = holder(data_dir, env)
        who = held.describe() if held else "another process"
        raise Locked(
            f"environment '{env}' is locked: a deploy by {who} is in progress",
            "wait for it to finish (`gitdeploy status` shows the holder); a lock whose holder died is "
            "recovered automatically",
        ) from None
    meta = holder_path(path.parent)
    recovered = _parse(_read(meta))
    info = LockInfo(owner or whoami(), os.getpid(), trigger, reason, time.time())
    try:
        atomic_write(meta, json.dumps(asdict(info)).encode(), 0o644)
    except GitdeployError:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise
    return DeployLock(path, fd, info, recovered)


def holder(data_dir: Path, env: str) -> LockInfo | None:
    """Who holds the environment's lock now (None when it is free)."""
    path = lock_path(data_dir, env)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            # Held: the holder may still be writing its metadata; give it a moment.
            for _ in range(20):
                info = _parse(_read(holder_path(path.parent)))
                if info:
                    return info
                time.sleep(0.01)
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(65536)
    except OSError:
        return b""


def _parse(raw: bytes) -> LockInfo | None:
    """The holder in `raw`, or None when it is missing or malformed (wrong types included)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    owner, pid, trigger, reason, started = (data.get(k) for k in ("owner", "pid", "trigger", "reason", "started"))
    if not (isinstance(owner, str) and isinstance(trigger, str) and isinstance(reason, str | None)
            and isinstance(pid, int) and not isinstance(pid, bool)
            and isinstance(started, int | float) and not isinstance(started, bool)):
        return None
    return LockInfo(owner, pid, trigger, reason or "", float(started))
