"""Writing state files that cannot be half-written, and saying what a failed write means.

Every file gitdeploy keeps in its data directory is written by `atomic_write`: a temporary
file beside the target, fsync'd, renamed over it, and the folder fsync'd. A crash leaves the
old content or the new, never a mix or an empty file. Disk-full and I/O errors become a
GitdeployError that names the file ("disk full writing <path>"), never a traceback.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

from gitdeploy.errors import GitdeployError

# errno -> what it means for a user
_STORAGE_ERRORS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EIO: "I/O error",
    errno.EROFS: "read-only file system",
}


def is_storage_error(exc: BaseException) -> bool:
    """True for an OSError that is about the storage (full, failing, read-only), not about us."""
    return isinstance(exc, OSError) and exc.errno in _STORAGE_ERRORS


def storage_error(exc: OSError, path: Path | str | None = None, doing: str = "writing") -> GitdeployError:
    """The GitdeployError for a failed read or write of `path` ("disk full writing <path>")."""
    what = _STORAGE_ERRORS.get(exc.errno or 0) or (exc.strerror or str(exc))
    where = path if path is not None else exc.filename
    return GitdeployError(
        f"{what} {doing} {where}" if where else f"{what} {doing} a file ({exc.strerror or exc})",
        "free space on that file system (or fix it) and run the command again"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check the file system (dmesg, mount options)",
    )


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` by `data` atomically and durably (temp file, fsync, rename, fsync folder).

    Raises GitdeployError naming `path` when the file system refuses (full, I/O error, read-only).
    """
    path = Path(path)
    tmp = _write_temp(path, data, mode, "tmp")
    try:
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        _unlink(tmp)
        raise storage_error(exc, path) from None


def _write_temp(path: Path, data: bytes, mode: int, suffix: str) -> Path:
    """`data` in a fsync'd temp file beside `path`; on failure nothing is left and the error names `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        _unlink(tmp)
        raise storage_error(exc, path) from None
    return tmp


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def create_exclusive(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Create `path` with `data` only when it does not exist yet, atomically; False when it existed.

    The content is complete before the name appears (written to a temp file, then hard-linked),
    so two first users never see an empty or half-written file.
    """
    path = Path(path)
    tmp = _write_temp(path, data, mode, "new")
    try:
        os.link(tmp, path)
        fsync_dir(path.parent)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise storage_error(exc, path) from None
    finally:
        _unlink(tmp)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort on file systems that refuse it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno in (errno.EIO,):
            raise
    finally:
        os.close(fd)


def move_aside(path: Path) -> Path | None:
    """Rename a corrupt state file to `<name>.corrupt-<n>` (kept for a person); returns the new path."""
    for n in range(1, 1000):
        target = path.with_name(f"{path.name}.corrupt-{n}")
        if not target.exists():
            try:
                os.replace(path, target)
            except OSError:
                return None
            return target
    return None
