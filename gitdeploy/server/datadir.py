"""The server's data directory: its queue file and the lock that says a server is running on it.

Shared by the server (which holds the lock for its lifetime) and the git hooks (which ask whether a
server runs, to queue through it rather than deploy themselves).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from gitdeploy.errors import GitdeployError

QUEUE_FILE = "queue.sqlite3"
LOCK_FILE = "server.lock"


def lock_data_dir(data_dir: Path) -> int:
    """Hold an exclusive lock on `data_dir` for this process's lifetime; returns the fd."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise GitdeployError(
            f"another gitdeploy server is running on {data_dir}",
            "stop it first, or give this one its own data_dir",
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def server_running(data_dir: Path) -> bool:
    """True while a gitdeploy server holds the data directory's lock (see `lock_data_dir`)."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
