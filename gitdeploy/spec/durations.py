"""Durations as Compose writes them: "1m30s", "500ms", "10s", "1h", or a number of seconds."""

from __future__ import annotations

import math
import re

from gitdeploy.spec.shown import shown

# Docker counts durations in int64 nanoseconds: about 292 years. Python's waits allow as much.
MAX_SECONDS = (2**63 - 1) // 10**9

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: object) -> float:
    """The duration in seconds (a finite float, 0 <= it <= MAX_SECONDS). Raises ValueError
    saying what is wrong."""
    seconds = _parse(value)
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite number of seconds, not {shown(value)}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"a duration must be at most {MAX_SECONDS:,} seconds (Docker's limit), not {shown(value)}")
    return seconds


def _parse(value: object) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a duration like '1m30s' or a number of seconds, not {shown(value)}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative ({shown(value)})")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration like '1m30s' or a number of seconds")
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not text or text.startswith("-"):
        raise ValueError(f"invalid duration {shown(value)} (expected e.g. '1m30s', '500ms', '10s', '1h')")
    total, pos = 0.0, 0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {shown(value)} (expected e.g. '1m30s', '500ms', '10s', '1h')")
    return total


def format_duration(seconds: float) -> str:
    """A compact text form that parse_duration reads back to the same value ("1m30s", "500ms")."""
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s or not (h or m) else "")
    return out
