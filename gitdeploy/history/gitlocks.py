"""Stale `*.lock` files in a git repository: a git killed mid-write leaves them behind forever.

git takes a lock by creating `<file>.lock` (O_EXCL) and renames it over the file when done;
it holds one for milliseconds. A lock that is old and has no git process working in the
repository belongs to a dead git: it is removed (and said). A young one, or one with a git
process alive in the repository, is reported with what to do, never removed.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

STALE_AFTER = 5.0  # seconds: no git holds a ref or index lock that long
ABANDONED_AFTER = 3600.0  # older than this it is stale even when some git runs in the repository

_LOCK_IN_MESSAGE = r"'([^']+\.lock)'"  # compiled on first use (only for a failed git)


@dataclass(frozen=True)
class LockVerdict:
    path: Path
    removed: bool
    why: str  # why it was removed, or why it was left


def lock_in(message: str) -> Path | None:
    """The lock file a git error message names ("Unable to create '/x/refs/notes/gitdeploy.lock'")."""
    m = re.search(_LOCK_IN_MESSAGE, message or "")
    return Path(m.group(1)) if m else None


def clear_if_stale(lock: Path, repo_dirs: Iterable[Path], now: float | None = None) -> LockVerdict | None:
    """Remove `lock` when its holder is gone (see the module); None when there is no such file."""
    try:
        age = (now or time.time()) - lock.stat().st_mtime
    except FileNotFoundError:
        return None
    except OSError as exc:
        return LockVerdict(lock, False, f"cannot examine it ({exc.strerror or exc})")
    dirs = [d.resolve() for d in repo_dirs]
    if age < STALE_AFTER:
        return LockVerdict(lock, False, f"it is {age:.0f}s old: a git may be writing right now")
    busy = [] if age >= ABANDONED_AFTER else git_processes_in(dirs)
    if busy:
        return LockVerdict(lock, False, f"git process(es) {', '.join(map(str, busy))} work in the repository")
    try:
        lock.unlink()
    except FileNotFoundError:
        return LockVerdict(lock, True, "it went away meanwhile")
    except OSError as exc:
        return LockVerdict(lock, False, f"it cannot be removed ({exc.strerror or exc})")
    why = f"left by a git that is gone ({age:.0f}s old, no git process in the repository)"
    log.warning("removed stale %s: %s", lock, why)
    return LockVerdict(lock, True, why)


def git_processes_in(dirs: Iterable[Path]) -> list[int]:
    """PIDs of git processes whose working directory is inside one of `dirs` (this host only).

    A process we may not inspect counts as busy: better to report a lock than to break a write.
    Readers that never lock (`git cat-file`, which gitdeploy.plumbing and GitPython keep running) do not count.
    """
    dirs = list(dirs)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        name = os.path.basename(argv[0])
        if not name.startswith("git") or name.startswith("gitdeploy") or "cat-file" in argv:
            continue  # cat-file (gitdeploy.plumbing keeps one running) only reads: it takes no lock
        try:
            cwd = Path(os.readlink(f"/proc/{entry.name}/cwd"))
        except FileNotFoundError:
            continue
        except OSError:
            found.append(int(entry.name))
            continue
        if any(cwd == d or d in cwd.parents for d in dirs):
            found.append(int(entry.name))
    return found
