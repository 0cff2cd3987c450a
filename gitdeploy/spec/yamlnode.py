"""Reading YAML so every value keeps its place in the file, and collecting problems against it.

The loader never stops at the first problem: each check appends a `Problem` to a `Report` and
carries on with what it can still make sense of, so a user sees every mistake at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.error import MarkedYAMLError, YAMLError

from gitdeploy.errors import Problem
from gitdeploy.spec import fastyaml

Pos = tuple[int, int]  # (line, column), both 1-based; (0, 0) = unknown


@dataclass
class Report:
    """The problems found so far, in the order they were found."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    def at(self, pos: Pos, message: str, hint: str = "", file: str | None = None) -> None:
        self.problems.append(Problem(message, file or self.file, pos[0], pos[1], hint))

    def count(self) -> int:
        return len(self.problems)


@dataclass(frozen=True)
class Node:
    """A YAML value with the position of its first character."""

    value: Any
    pos: Pos

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, Mapping)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)


def _lc(getter: Any, arg: Any, fallback: Pos) -> Pos:
    try:
        line, col = getter(arg)
    except (KeyError, IndexError, TypeError, AttributeError):
        return fallback
    return (line + 1, col + 1)


def entries(node: Node) -> Iterator[tuple[str, Pos, Node]]:
    """Yields (key as text, key position, value node) for every entry of a mapping node."""
    m = node.value
    if not isinstance(m, fastyaml.PosMap):
        for k, v in (m or {}).items():
            yield str(k), node.pos, Node(v, node.pos)
        return
    for k, v in m.items():
        kpos = _lc(m.lc.key, k, node.pos)
        # A null value has no token of its own: point at its key instead.
        vpos = kpos if v is None else _lc(m.lc.value, k, kpos)
        yield str(k), kpos, Node(v, vpos)


def items(node: Node) -> Iterator[tuple[int, Node]]:
    """Yields (index, item node) for every item of a sequence node."""
    seq = node.value
    for i, v in enumerate(seq):
        pos = _lc(seq.lc.item, i, node.pos) if isinstance(seq, fastyaml.PosSeq) else node.pos
        yield i, Node(v, pos)


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


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """A hint 'did you mean X?' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def check_keys(
    r: Report,
    node: Node,
    allowed: tuple[str, ...],
    where: str,
    unsupported: Mapping[str, str] | None = None,
) -> dict[str, tuple[Pos, Node]]:
    """Reports unknown and unsupported keys of a mapping node.

    Returns the allowed entries as {key: (key position, value node)}. Keys starting with `x-`
    (Compose extension fields) are skipped silently; every other key is either allowed or
    reported, never ignored.
    """
    out: dict[str, tuple[Pos, Node]] = {}
    for key, kpos, value in entries(node):
        if key in allowed:
            out[key] = (kpos, value)
        elif key.startswith("x-"):
            continue
        elif unsupported is not None and key in unsupported:
            r.at(kpos, f"'{key}' is not supported by gitdeploy ({where})", unsupported[key])
        else:
            hint = did_you_mean(key, allowed) or (
                f"allowed here: {', '.join(allowed)}" if allowed else "remove it"
            )
            r.at(kpos, f"unknown key '{key}' in {where}", hint)
    return out


def read_yaml(text: str, r: Report) -> Node | None:
    """Parses YAML text into a root node with positions, or None after reporting a syntax error.

    Duplicate keys are all reported (the first occurrence wins for what follows). See fastyaml
    for how parsing stays fast (libyaml) and exact (YAML 1.2, positions kept).
    """
    try:
        root = fastyaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        what = exc.problem or exc.context or "invalid YAML"
        r.at(pos, f"YAML syntax error: {what}", "check indentation, colons and quotes around this spot")
        return None
    except YAMLError as exc:
        r.at((0, 0), f"YAML error: {exc}")
        return None
    if root is None:
        return Node(None, (1, 1))
    _report_duplicates(root, r, set())
    return Node(fastyaml.Builder().build(root), (1, 1))


def _report_duplicates(node: Any, r: Report, seen: set[int]) -> None:
    if id(node) in seen:  # aliases can make the graph cyclic
        return
    seen.add(id(node))
    if node.id == "mapping":
        firsts: dict[str, Any] = {}
        for k, v in node.value:
            key = str(k.value)
            if key != "<<" and k.id == "scalar":
                if key in firsts:
                    first = firsts[key].start_mark
                    r.at(
                        (k.start_mark.line + 1, k.start_mark.column + 1),
                        f"duplicate key '{key}' (first defined at line {first.line + 1})",
                        "remove one of them; YAML keeps only one",
                    )
                else:
                    firsts[key] = k
            _report_duplicates(v, r, seen)
    elif node.id == "sequence":
        for v in node.value:
            _report_duplicates(v, r, seen)
