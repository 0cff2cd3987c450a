"""A small tmpfs that a test can fill to the last byte: real ENOSPC, no mocks (needs root).

    with small_fs(tmp_path / "data", "2m") as fs:
        fs.fill()      # every byte taken: the next write that needs a block fails with ENOSPC
        fs.free()      # space again
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


class SmallFS:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / ".filler"

    def fill(self) -> None:
        """Take every free block of the file system."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = 1 << 20
            while size:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    size //= 2
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@contextmanager
def small_fs(root: Path, size: str = "2m") -> Iterator[SmallFS]:
    """Mount a tmpfs of `size` on `root` for the block; unmounted (lazily) afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(root)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallFS(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True, check=False)
