"""Parsing gitdeploy.yaml fast without losing a single line:column.

libyaml (through PyYAML's C parser) composes the node tree; this module turns it into the
values and positions ruamel's round-trip loader gives (PosMap/PosSeq with a `.lc`), resolving
plain scalars by YAML 1.2's core schema (so `no` stays a string and `0444` is 444, as in ruamel). Where libyaml refuses something YAML 1.2 allows, or is missing, ruamel's
pure parser composes instead. A 5,000-service spec parses in a fraction of a second.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ruamel.yaml import YAML

try:  # PyYAML with libyaml: composition happens in C
    import yaml as _pyyaml
    from yaml import CSafeLoader as _CLoader

    _PYYAML_ERRORS: tuple[type[Exception], ...] = (_pyyaml.YAMLError,)
except (ImportError, AttributeError):  # pragma: no cover - no libyaml on this host
    _pyyaml = None
    _CLoader = None
    _PYYAML_ERRORS = ()

MERGE = "tag:yaml.org,2002:merge"


class LineCol:
    """Positions (0-based, like ruamel's `.lc`): of the container, and per key or item."""

    __slots__ = ("line", "col", "data")

    def __init__(self, line: int, col: int) -> None:
        self.line, self.col, self.data = line, col, {}

    def key(self, k: Any) -> tuple[int, int]:
        d = self.data[k]
        return d[0], d[1]

    def value(self, k: Any) -> tuple[int, int]:
        d = self.data[k]
        return d[2], d[3]

    def item(self, i: int) -> tuple[int, int]:
        d = self.data[i]
        return d[0], d[1]


class PosMap(dict):
    """A mapping that knows where each of its keys and values stands in the file."""

    __slots__ = ("lc",)


class PosSeq(list):
    """A sequence that knows where each of its items stands in the file."""

    __slots__ = ("lc",)
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def compose(text: str) -> Any:
    """The root node (or None for an empty document). Raises ruamel's MarkedYAMLError on bad YAML."""
    if _CLoader is not None:
        loader = _CLoader(text)
        try:
            return loader.get_single_node()
        except _PYYAML_ERRORS:
            pass  # libyaml is stricter in corners: let YAML 1.2 (ruamel) decide and report
        finally:
            loader.dispose()
    return YAML(typ="safe", pure=True).compose(text)


def scalar(node: Any) -> Any:
    """A scalar node's value by YAML 1.2 core rules (quoted scalars are always strings)."""
    text = node.value
    if node.style not in (None, "") or _explicit_str(node):
        return text
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text)
    if text.startswith(("0o", "0x")):
        try:
            return int(text, 0)
        except ValueError:
            return text
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lstrip("+-") in (".inf", ".Inf", ".INF"):
        return -math.inf if text.startswith("-") else math.inf
    if text in (".nan", ".NaN", ".NAN"):
        return math.nan
    return text


def _explicit_str(node: Any) -> bool:
    tag = node.tag if isinstance(node.tag, str) else str(node.tag)
    return tag == "tag:yaml.org,2002:str" and getattr(node, "_explicit", False)


class Builder:
    """Composed nodes -> PosMap/PosSeq with every key's and item's line/column."""

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}

    def build(self, node: Any) -> Any:
        if id(node) in self.memo:  # an alias: the same object, as the loader would give
            return self.memo[id(node)]
        kind = node.id
        if kind == "mapping":
            out = PosMap()
            out.lc = LineCol(node.start_mark.line, node.start_mark.column)
            self.memo[id(node)] = out
            merged: list[tuple[Any, Any]] = []
            for k, v in node.value:
                if _tag(k) == MERGE:
                    merged.extend(e for src in (v.value if v.id == "sequence" else [v])
                                  if src.id == "mapping" for e in src.value)
                    continue
                self._put(out, k, v)
            for k, v in merged:  # merged keys never override explicit ones
                self._put(out, k, v)
            return out
        if kind == "sequence":
            seq = PosSeq()
            seq.lc = LineCol(node.start_mark.line, node.start_mark.column)
            self.memo[id(node)] = seq
            data = seq.lc.data
            for i, item in enumerate(node.value):
                seq.append(self.build(item))
                mark = item.start_mark
                data[i] = (mark.line, mark.column)
            return seq
        value = scalar(node)
        self.memo[id(node)] = value
        return value

    def _put(self, out: PosMap, k: Any, v: Any) -> None:
        key = self.build(k)
        if isinstance(key, list):
            key = tuple(key)
        if key in out:
            return  # a duplicate (reported separately): the first occurrence wins
        out[key] = self.build(v)
        km, vm = k.start_mark, v.start_mark
        out.lc.data[key] = (km.line, km.column, vm.line, vm.column)


def _tag(node: Any) -> str:
    tag = node.tag
    return tag if isinstance(tag, str) else str(tag)
