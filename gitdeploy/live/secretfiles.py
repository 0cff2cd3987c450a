"""Old secret values leave the data dir with the last container that mounted them.

`Engine.materialize` writes each secret value once, as `<data-dir>/secrets/<fingerprint>`, and
bind-mounts it. When a value is rotated, containers of older revisions (kept for rollback) still
mount the old file; once they are pruned (beyond `keep`) nothing needs it and it goes too.

A file used in the last `grace` seconds stays: a deploy materializes its files just before it
creates the containers that mount them (materialize touches a file it reuses). Every container
on the engine counts, whatever its system or environment, since they share the data dir.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Set
from pathlib import Path
from typing import Any

from gitdeploy.live.api import LightClient, adopt
from gitdeploy.live.errors import engine_errors

GRACE = 600.0  # seconds


def secrets_folder(data_dir: Path) -> Path:
    return data_dir / "secrets"


def mounted(containers: Iterable[Mapping[str, Any]], folder: Path) -> set[str]:
    """Names of the files in `folder` that the listed containers (GET /containers/json) mount."""
    where = os.path.realpath(folder)
    out: set[str] = set()
    for raw in containers:
        for m in raw.get("Mounts") or ():
            src = os.path.realpath(m.get("Source") or "/")
            if os.path.dirname(src) == where:
                out.add(os.path.basename(src))
    return out


def unused(folder: Path, in_use: Set[str], now: float, grace: float = GRACE) -> list[Path]:
    """The files of `folder` no container mounts and nothing used in the last `grace` seconds,
    sorted (leftover temporary files of an interrupted write included)."""
    out = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.name in in_use or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < grace:
                continue
        except FileNotFoundError:
            continue
        out.append(Path(entry.path))
    return sorted(out)


def prune(client: LightClient, data_dir: Path, grace: float = GRACE, dry_run: bool = False) -> list[Path]:
    """Remove the secret files no container on the engine mounts any more; returns them.

    Raises GitdeployError when the engine cannot list its containers (then nothing is removed).
    The engine is asked only when some file is old enough to go (most deploys have none).
    """
    client = adopt(client)
    folder = secrets_folder(data_dir)
    now = time.time()
    if not unused(folder, set(), now, grace):
        return []
    with engine_errors("listing containers"):
        raw = client.api.containers(all=True)
    doomed = unused(folder, mounted(raw, folder), now, grace)
    if not dry_run:
        for path in doomed:
            path.unlink(missing_ok=True)
    return doomed
