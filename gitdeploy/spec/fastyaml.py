"""Parsing gitdeploy.yaml fast, exactly and within bounds, without losing a single line:column.

libyaml (through PyYAML's C parser) produces the event stream; `build` turns it into the values
and positions ruamel's round-trip loader gives (PosMap/PosSeq with a `.lc`), resolving plain
scalars by YAML 1.2's core schema (so `no` stays a string and `0444` is 444, as in ruamel). Where
libyaml refuses something YAML 1.2 allows, or is missing, ruamel's pure parser gives the events
instead. A 5,000-service spec parses in a fraction of a second.

The builder is iterative (no recursion limit) and hostile input stops it early, at a position:
nesting deeper than `Limits.depth`, more than `Limits.values` values once aliases are expanded
(billion laughs), keys that are not plain values, merge keys (`<<`) that are not mappings,
aliases to an anchor not yet complete, control characters in strings and numbers too long to
convert. Aliases are never copied: an alias is the same object as its anchor, so memory stays
proportional to the text, and the expanded size is counted, not built.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

try:  # PyYAML with libyaml: parsing happens in C
    import yaml as _pyyaml
    from yaml import CSafeLoader as _CLoader

    _PYYAML_ERRORS: tuple[type[Exception], ...] = (_pyyaml.YAMLError,)
except (ImportError, AttributeError):  # pragma: no cover - no libyaml on this host
    _pyyaml = None
    _CLoader = None
    _PYYAML_ERRORS = ()

Pos = tuple[int, int]  # (line, column), 1-based


@dataclass(frozen=True)
class Limits:
    """What a document may hold (documented in the README's spec reference)."""

    depth: int = 100  # nested mappings and lists
    values: int = 250_000  # scalars, lists and mappings, each alias counted as what it stands for
    digits: int = 100  # of an integer or a number


LIMITS = Limits()
STR_TAGS = ("tag:yaml.org,2002:str", "!")
# Control characters no container setting can carry: all C0 but tab, line feed, carriage return.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


@dataclass
class Loaded:
    """The document's root value (None when empty or refused) and every problem, located."""

    root: Any = None
    problems: list[tuple[Pos, str, str]] = field(default_factory=list)  # (pos, message, hint)
    duplicates: list[tuple[Pos, str]] = field(default_factory=list)  # (pos, message): not fatal

    @property
    def ok(self) -> bool:
        return not self.problems


class YAMLSyntaxError(Exception):
    """Bad YAML: `pos` (1-based, (0, 0) when unknown) and what is wrong."""

    def __init__(self, pos: Pos, what: str) -> None:
        super().__init__(what)
        self.pos, self.what = pos, what


_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_RADIX = re.compile(r"0o[0-7]+|0x[0-9a-fA-F]+")


def resolve_plain(text: str) -> Any:
    """A plain scalar's value by YAML 1.2 core rules. Raises ValueError for a number too long."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    integer, radix = _INT.fullmatch(text), _RADIX.fullmatch(text)
    number = integer or radix or _FLOAT.fullmatch(text)
    if number and len(text) > LIMITS.digits:
        raise ValueError(f"a number of {len(text):,} characters (at most {LIMITS.digits})")
    if integer:
        return int(text)
    if radix:
        return int(text, 0)
    if number:
        return float(text)
    if text.lstrip("+-") in (".inf", ".Inf", ".INF"):
        return -math.inf if text.startswith("-") else math.inf
    if text in (".nan", ".NaN", ".NAN"):
        return math.nan
    return text


def load(text: str, limits: Limits = LIMITS) -> Loaded:
    """The document in `text`, built within `limits`. Raises YAMLSyntaxError on bad YAML."""
    if _CLoader is not None:
        loader = _CLoader(text)
        try:
            return _Builder(limits).run(_pyyaml_events(loader))
        except _PYYAML_ERRORS as exc:
            mark = getattr(exc, "problem_mark", None)
            if "nesting depth" in str(getattr(exc, "problem", "")) and mark is not None:
                # libyaml's own limit (1,000), met while it looks ahead: deeper than ours anyway
                return Loaded(problems=[((mark.line + 1, mark.column + 1), *_too_deep(limits))])
            # else libyaml is stricter in corners: let YAML 1.2 (ruamel) decide and report
        finally:
            loader.dispose()
    from ruamel.yaml import YAML  # the fallback only: not imported where libyaml parses
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _Builder(limits).run(YAML(typ="safe", pure=True).parse(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        raise YAMLSyntaxError(pos, exc.problem or exc.context or "invalid YAML") from None
    except YAMLError as exc:
        raise YAMLSyntaxError((0, 0), _short(str(exc))) from None


def _too_deep(limits: Limits) -> tuple[str, str]:
    return (f"the document nests deeper than {limits.depth} levels",
            "flatten it; gitdeploy.yaml needs only a few levels")


def _pyyaml_events(loader: Any) -> Any:
    while True:
        event = loader.get_event()
        if event is None:
            return
        yield event


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _tag(event: Any) -> str | None:
    tag = event.tag
    if tag is None:
        return None
    return tag if isinstance(tag, str) else str(getattr(tag, "value", tag))


class _Stop(Exception):
    """A limit was reached: the problem is recorded, nothing more is read."""


@dataclass
class _Frame:
    value: Any  # PosMap or PosSeq being filled
    start: tuple[int, int]  # 0-based (line, col) of its first character
    anchor: str | None
    counted: int  # the value count when it started
    key: Any = None  # mapping: the key waiting for its value
    key_mark: tuple[int, int] | None = None
    key_state: int = 0  # mapping: 0 = expecting a key, 1 = expecting a value
    skip_key: bool = False  # the key was refused: drop its value
    merge: bool = False  # the key is `<<`
    merged: list[tuple[Any, Any, tuple[int, int, int, int]]] = field(default_factory=list)
    firsts: dict[str, int] = field(default_factory=dict)  # key text -> line of first occurrence


class _Builder:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, expanded size)
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.count = 0
        self.out = Loaded()
        self.documents = 0
        self.plain: dict[str, Any] = {}

    # -- the event loop ---------------------------------------------------------------------

    def run(self, events: Any) -> Loaded:
        try:
            for event in events:
                self._event(event)
        except _Stop:
            self.out.root = None
        if self.out.problems:
            self.out.root = None
        return self.out

    def _problem(self, mark: Any, message: str, hint: str = "") -> None:
        self.out.problems.append(((mark.line + 1, mark.column + 1), message, hint))

    def _event(self, event: Any) -> None:
        kind = type(event).__name__
        mark = event.start_mark
        if kind == "ScalarEvent":  # most events: first
            self._add(self._scalar(event), mark, event.anchor, 1)
        elif kind == "DocumentStartEvent":
            self.documents += 1
            if self.documents > 1:
                self._problem(mark, "more than one YAML document ('---') in gitdeploy.yaml",
                              "keep a single document")
                raise _Stop
        elif kind == "AliasEvent":
            self._alias(event)
        elif kind in ("MappingStartEvent", "SequenceStartEvent"):
            if len(self.stack) >= self.limits.depth:
                self._problem(mark, *_too_deep(self.limits))
                raise _Stop
            self._counted(mark, 1)
            value: Any = PosMap() if kind == "MappingStartEvent" else PosSeq()
            value.lc = LineCol(mark.line, mark.column)
            if event.anchor is not None:
                self.open_anchors.add(event.anchor)
            self.stack.append(_Frame(value, (mark.line, mark.column), event.anchor, self.count))
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            frame = self.stack.pop()
            if isinstance(frame.value, PosMap):
                for k, v, marks in frame.merged:  # merged keys never override explicit ones
                    if k not in frame.value:
                        frame.value[k] = v
                        frame.value.lc.data[k] = marks
            size = self.count - frame.counted + 1
            if frame.anchor is not None:
                self.open_anchors.discard(frame.anchor)
            self._place(frame.value, frame.start, frame.anchor, size)

    def _counted(self, mark: Any, n: int) -> None:
        self.count += n
        if self.count > self.limits.values:
            self._problem(
                mark,
                f"the document holds more than {self.limits.values:,} values once its aliases are expanded",
                "write fewer values, or fewer aliases to large anchors (&name / *name)",
            )
            raise _Stop

    def _scalar(self, event: Any) -> Any:
        text = event.value
        bad = CONTROL.search(text)
        if bad is not None:
            self._problem(
                event.start_mark,
                f"a string contains the control character U+{ord(bad.group()):04X}",
                "containers cannot carry NUL or control characters (tab and line breaks are fine)",
            )
        if event.style not in (None, "") or _tag(event) in STR_TAGS:
            return text
        if text in self.plain:  # keys and common values repeat: resolve each text once
            return self.plain[text]
        try:
            value = resolve_plain(text)
            if len(text) < 64:
                self.plain[text] = value
            return value
        except ValueError as exc:
            self._problem(event.start_mark, str(exc), "write a shorter number, or quote it to make it text")
            return text

    def _alias(self, event: Any) -> None:
        name = event.anchor
        if name in self.open_anchors:
            self._problem(event.start_mark, f"the alias '*{_short(name, 40)}' refers to a value that contains it",
                          "an alias may only repeat a value that is complete before it")
            raise _Stop
        if name not in self.anchors:
            self._problem(event.start_mark, f"the alias '*{_short(name, 40)}' has no anchor before it",
                          "define '&name' on a value before '*name' uses it")
            raise _Stop
        value, size = self.anchors[name]
        self._counted(event.start_mark, size)
        self._place(value, (event.start_mark.line, event.start_mark.column), None, size, alias=True)

    def _add(self, value: Any, mark: Any, anchor: str | None, size: int) -> None:
        self._counted(mark, size)
        self._place(value, (mark.line, mark.column), anchor, size)

    # -- putting a finished value into its parent -----------------------------------------

    def _place(self, value: Any, start: tuple[int, int], anchor: str | None, size: int,
               alias: bool = False) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.out.root = value
            return
        frame = self.stack[-1]
        parent = frame.value
        if isinstance(parent, PosSeq):
            parent.lc.data[len(parent)] = start
            parent.append(value)
            return
        if frame.key_state == 0:
            self._key(frame, value, start)
            return
        frame.key_state = 0
        if frame.skip_key:
            return
        if frame.merge:
            self._merge(frame, value, start)
            return
        key = frame.key
        km = frame.key_mark or (0, 0)
        parent[key] = value
        parent.lc.data[key] = (km[0], km[1], start[0], start[1])

    def _key(self, frame: _Frame, key: Any, start: tuple[int, int]) -> None:
        frame.key_state = 1
        frame.skip_key = False
        frame.merge = False
        frame.key, frame.key_mark = key, start
        mark = _Mark(*start)
        if isinstance(key, PosMap | PosSeq):
            self._problem(mark, f"a key must be a plain value (text or a number), not {_kind(key)}",
                          "write the key as text")
            frame.skip_key = True
            return
        if key == "<<":
            frame.merge = True
            return
        text = str(key)
        if text in frame.firsts:
            self.out.duplicates.append(((start[0] + 1, start[1] + 1),
                                        f"duplicate key '{_short(text, 60)}' (first defined at line "
                                        f"{frame.firsts[text]})"))
            frame.skip_key = True  # the first occurrence wins
            return
        frame.firsts[text] = start[0] + 1

    def _merge(self, frame: _Frame, value: Any, start: tuple[int, int]) -> None:
        sources = value if isinstance(value, PosSeq) else [value]
        for i, src in enumerate(sources):
            if not isinstance(src, PosMap):
                at = value.lc.data[i] if isinstance(value, PosSeq) else start
                self._problem(_Mark(*at), f"a merge key ('<<') takes a mapping or a list of mappings, "
                                          f"not {_kind(src)}", "write `<<: *anchor` where &anchor is a mapping")
                continue
            for k, v in src.items():
                frame.merged.append((k, v, src.lc.data[k]))


@dataclass(frozen=True)
class _Mark:
    line: int
    column: int


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string"
