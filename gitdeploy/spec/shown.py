"""Values as messages show them: bounded, never expanded (a spec may be hostile)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def describe(value: Any) -> str:
    """A short phrase naming the YAML type of a value ("a string", "a list", ...)."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def shown(value: Any, limit: int = 60) -> str:
    """A value for a message, bounded: a scalar as written (quoted, cut after `limit` characters),
    a list or mapping only by its kind - never expanded (it may be an alias bomb)."""
    if isinstance(value, str):
        return repr(shown_text(value, limit))
    if value is None or isinstance(value, bool | int | float):
        return shown_text(repr(value), limit)
    return describe(value)


def shown_text(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters (with '…' when cut)."""
    return text if len(text) <= limit else text[:limit] + "…"
