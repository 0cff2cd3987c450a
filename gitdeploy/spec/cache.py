"""A spec once loaded is not loaded again: the Spec of a git tree, kept in the data directory.

After start-up, loading gitdeploy.yaml (parsing it, validating every key, reading the files it
mounts) is most of what a deploy that changes nothing does, and importing the parser and the
checks costs more than running them. A commit's tree id names exactly what a load reads (the
spec, the files it mounts, their modes; a submodule by its commit), so a loaded spec is kept
under that id, the engine it was validated for and a fingerprint of the loader's own code; the
next command on the same tree - the no-op, the deploy after the pull request's plan, the
healer's look, a re-run - takes it from there without importing the loader.

What depends on this host is checked at every use: a secret a service mounts that this host no
longer provides sends the command through the whole load, which reports it where it is written.
A working tree is never cached. A cache that cannot be read or written is no error: the spec is
loaded as before. The files hold the spec as git has it (no secret value ever enters a Spec) and
are read only from the data directory, which is the operator's as the deploy journal and the
secrets are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gitdeploy.spec.model import Spec
from gitdeploy.spec.secrets import SecretStore
from gitdeploy.spec.source import SpecSource

KEEP = 32  # specs kept per data directory (the newest)
STALE = 60.0  # seconds after which a temporary file is a killed writer's
_HERE = Path(__file__).resolve().parent
_code: str | None = None


def _proxy(items: dict[str, Any]) -> MappingProxyType:
    return MappingProxyType(items)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is MappingProxyType:  # Spec.files: not picklable as it is
            return _proxy, (dict(obj),)
        return NotImplemented


def code_fingerprint() -> str:
    """The loader's code (gitdeploy/spec/*.py and gitdeploy/errors.py by content, gitdeploy's
    version) and Python's version: a spec loaded by other code is loaded again."""
    global _code
    if _code is None:
        from gitdeploy import __version__

        h = hashlib.sha256(f"{sys.version}\0{__version__}\0".encode())
        for path in sorted(_HERE.glob("*.py")) + [_HERE.parent / "errors.py"]:
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        _code = h.hexdigest()
    return _code


def _path(data_dir: Path, source: SpecSource, engine: str) -> Path | None:
    tree = getattr(source, "tree", None)
    if not tree or not source.commit:
        return None  # a working tree
    key = hashlib.sha256(f"{tree}\0{engine}\0{code_fingerprint()}".encode()).hexdigest()
    return data_dir / "cache" / "spec" / f"{key[:40]}.pickle"


def get(data_dir: Path, source: SpecSource, engine: str, secrets: SecretStore | None) -> Spec | None:
    """The spec of `source` as loaded before for `engine`, at `source`'s commit; None when there
    is none (or it cannot be used: then the caller loads it)."""
    try:
        path = _path(data_dir, source, engine)
        if path is None:
            return None
        spec = pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - no cache, a damaged one, one of other code: load it
        return None
    if not isinstance(spec, Spec):
        return None
    if secrets is not None and any(secrets.get(ref.name) is None for s in spec.services for ref in s.secrets):
        return None  # the whole load says which one, and where
    return dataclasses.replace(spec, commit=source.commit)


def put(data_dir: Path, source: SpecSource, engine: str, spec: Spec) -> None:
    """Keep `spec` (loaded from `source` for `engine`) for the next command; never raises."""
    try:
        path = _path(data_dir, source, engine)
        if path is None or path.exists():
            return
        buf = io.BytesIO()
        _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(dataclasses.replace(spec, commit=None))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
        kept = sorted(path.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        now = time.time()  # and what a writer killed before its rename left behind
        for old in kept[KEEP:] + [t for t in path.parent.glob(".*.tmp") if now - t.stat().st_mtime > STALE]:
            old.unlink(missing_ok=True)
    except Exception:  # noqa: BLE001 - a cache is never worth a failed command
        return
