"""Reading YAML so every value keeps its place in the file, and collecting problems against it.

The loader never stops at the first problem: each check appends a `Problem` to a `Report` and
carries on with what it can still make sense of, so a user sees every mistake at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitdeploy.errors import Problem
from gitdeploy.spec import fastyaml
from gitdeploy.spec.shown import describe, shown, shown_text

__all__ = ["describe", "shown", "shown_text"]  # re-exported: the parsers import them from here

Pos = tuple[int, int]  # (line, column), both 1-based; (0, 0) = unknown


MAX_PROBLEMS = 1_000  # a hostile spec must not make a report of millions of lines


@dataclass
class Report:
    """The problems found so far, in the order they were found (at most MAX_PROBLEMS of them)."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    dropped: int = 0

    def at(self, pos: Pos, message: str, hint: str = "", file: str | None = None) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        self.problems.append(Problem(message, file or self.file, pos[0], pos[1], hint))

    def count(self) -> int:
        return len(self.problems) + self.dropped


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


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """A hint 'did you mean X?' for the closest choice, or '' when none is close."""
    if len(word) > 80:  # comparing costs len(word) * len(choice): a long word is no typo
        return ""
    import difflib  # only for a misspelt key (not at every start)

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
            r.at(kpos, f"{shown(key)} is not supported by gitdeploy ({where})", unsupported[key])
        else:
            hint = did_you_mean(key, allowed) or (
                f"allowed here: {', '.join(allowed)}" if allowed else "remove it"
            )
            r.at(kpos, f"unknown key {shown(key)} in {where}", hint)
    return out


def read_yaml(text: str, r: Report) -> Node | None:
    """Parses YAML text into a root node with positions, or None after reporting why not.

    Duplicate keys are all reported (the first occurrence wins for what follows). Anything else
    wrong at the YAML level (syntax, limits, complex or bad merge keys, control characters) is
    reported and the document is not read further. See fastyaml for how parsing stays fast
    (libyaml), exact (YAML 1.2, positions kept) and bounded.
    """
    try:
        loaded = fastyaml.load(text)
    except fastyaml.YAMLSyntaxError as exc:
        r.at(exc.pos, f"YAML syntax error: {shown_text(exc.what, 200)}",
             "check indentation, colons and quotes around this spot")
        return None
    for pos, message in loaded.duplicates:
        r.at(pos, message, "remove one of them; YAML keeps only one")
    for pos, message, hint in loaded.problems:
        r.at(pos, message, hint)
    if not loaded.ok:
        return None
    return Node(loaded.root, (1, 1))
