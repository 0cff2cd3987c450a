"""Secret values: they live outside git, on the deploying host, and never leave it in clear.

A value is looked up, in order, in `<secrets_dir>/<name>` (a file) and in the environment
variable `GITDEPLOY_SECRET_<NAME>` (upper-cased, '-' and '.' as '_'). Only a keyed hash of a
value (HMAC-SHA256 with a host key kept in the data directory) ever enters a definition hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.fsutil import create_exclusive


def env_var_for(name: str) -> str:
    return "GITDEPLOY_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


@dataclass
class SecretStore:
    directory: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    key: bytes = b""  # HMAC key; see load_key()

    def get(self, name: str) -> bytes | None:
        """The secret's value, or None when it is not provided on this host."""
        if self.directory is not None:
            p = self.directory / name
            if p.is_file():
                return p.read_bytes()
        value = self.environ.get(env_var_for(name))
        return value.encode() if value is not None else None

    def where(self, name: str) -> str:
        """Where the user should put the value (for hints)."""
        places = [f"${env_var_for(name)}"]
        if self.directory is not None:
            places.insert(0, str(self.directory / name))
        return " or ".join(places)

    def fingerprint(self, name: str, value: bytes) -> str:
        """A keyed hash of the value: changes when the value changes, reveals nothing of it."""
        return hmac.new(self.key, name.encode() + b"\0" + value, hashlib.sha256).hexdigest()


KEY_FILE = "secret-hash.key"
KEY_BYTES = 32


def load_key(data_dir: Path) -> bytes:
    """The host's secret-hashing key, created (0600, atomically) on first use.

    An empty, short or unreadable key is an error naming the file, never used: secret
    fingerprints keyed with nothing would hide nothing and change meaning once repaired.
    """
    path = data_dir / KEY_FILE
    if not path.exists():
        create_exclusive(path, _random.token_bytes(KEY_BYTES), 0o600)  # a racing first user may win: fine
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise GitdeployError(f"cannot read the secret-hash key {path}: {exc.strerror or exc}",
                             "check the file's owner and permissions (0600, the deploying user)") from None
    if len(key) != KEY_BYTES:
        raise GitdeployError(
            f"the secret-hash key {path} is corrupt ({len(key)} bytes, expected {KEY_BYTES})",
            f"remove it (`rm {path}`) and deploy again: a new key is made; containers that use secrets "
            "are replaced once, because their fingerprints change")
    return key
