"""Who this process is, for locks, freezes and the history."""

from __future__ import annotations

import getpass
import os
import socket


def whoami() -> str:
    """'user@host' of this process."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (containers): fall back to the uid
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"
