"""Split long Markdown into comment-sized parts that each render correctly on their own.

GitHub refuses comment bodies over 65,536 characters. A plan can be longer, so it is cut at
line boundaries; a code fence or `<details>` block open at a cut is closed at the end of one
part and reopened at the start of the next (same fence and info string; the summary gets
"(continued)"), so no part swallows the rest of the page into a code block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

COMMENT_LIMIT = 65536  # GitHub's maximum issue/PR comment body, in characters
DEFAULT_RESERVE = 256  # room left for the marker/header a caller puts in front of each part

_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
_TAG = re.compile(r"<details\b[^>]*>|</details\s*>|<summary>(.*?)</summary>", re.IGNORECASE)
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")


@dataclass(frozen=True)
class Block:
    """An open code fence or `<details>` element that a part boundary must close and reopen."""

    kind: str  # "fence" or "details"
    opener: str  # the fence line as written (indent, fence, info) or the `<details ...>` tag
    fence: str = ""  # indent + fence characters, e.g. "```" (fences only)
    summary: str | None = None  # the `<summary>` text (details only)

    def close(self) -> str:
        return f"{self.fence}\n" if self.kind == "fence" else "</details>\n"

    def reopen(self) -> str:
        if self.kind == "fence":
            return f"{self.opener}\n"
        text = f"{self.summary} (continued)" if self.summary else "(continued)"
        return f"{self.opener}\n<summary>{text}</summary>\n\n"


Stack = tuple[Block, ...]


def lines_of(text: str) -> list[str]:
    """The lines of `text`, each with its "\\n" (the last one may lack it); only "\\n" breaks."""
    return _LINE.findall(text)


def advance(stack: Stack, line: str) -> Stack:
    """The open blocks after `line`, given those open before it."""
    text = line.rstrip("\n").rstrip("\r")
    if stack and stack[-1].kind == "fence":
        top = stack[-1]
        m = _FENCE_CLOSE.match(text)
        fence = top.fence.lstrip(" ")
        if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
            return stack[:-1]
        return stack
    m = _FENCE_OPEN.match(text)
    if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
        return (*stack, Block("fence", text, fence=m.group(1) + m.group(2)))
    for tok in _TAG.finditer(text):
        word = tok.group(0).lower()
        if word.startswith("<details"):
            stack = (*stack, Block("details", tok.group(0)))
        elif word.startswith("</details"):
            if stack and stack[-1].kind == "details":
                stack = stack[:-1]
        elif stack and stack[-1].kind == "details" and stack[-1].summary is None:
            stack = (*stack[:-1], replace(stack[-1], summary=tok.group(1)))
    return stack


def open_blocks(text: str) -> Stack:
    """The blocks `text` leaves open at its end (empty when it is balanced)."""
    stack: Stack = ()
    for line in lines_of(text):
        stack = advance(stack, line)
    return stack


def _closers(stack: Stack, part: str) -> str:
    text = "".join(b.close() for b in reversed(stack))
    return "\n" + text if text and not part.endswith("\n") else text


def _openers(stack: Stack) -> str:
    return "".join(b.reopen() for b in stack)


def _cost(stack: Stack) -> int:
    # What closing `stack` may add to a part: its closers plus a newline if the part lacks one.
    return len(_closers(stack, "")) + 1 if stack else 0


class _Splitter:
    """Accumulates lines into parts; `anchor` is where the current part's last content ends.

    Lines that only open blocks (a fence line, `<details>`, its `<summary>`, blank lines after
    them) are not content: a cut right after them moves them to the next part, so no part
    ends with an empty block.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.parts: list[str] = []
        self.stack: Stack = ()
        self.part = ""
        self.base = 0  # length of the reopened blocks the part starts with
        self.anchor = 0
        self.anchor_stack: Stack = ()
        self.opening = False  # the last line only opened blocks

    def has_content(self) -> bool:
        return self.anchor > self.base

    def fits(self, text: str, after: Stack) -> bool:
        return len(self.part) + len(text) + _cost(after) <= self.budget

    def add(self, text: str, after: Stack, content: bool) -> None:
        self.part += text
        self.stack = after
        if content:
            self.anchor, self.anchor_stack, self.opening = len(self.part), after, False
        else:
            self.opening = True

    def is_content(self, line: str, after: Stack) -> bool:
        before = self.stack
        if len(after) > len(before):
            return False  # opened a block
        if after and len(after) == len(before) and after[-1].summary != before[-1].summary:
            return False  # the <summary> of a block just opened
        return not (self.opening and not line.strip())

    def cut(self, keep_tail: bool = True) -> None:
        """End the part; with `keep_tail`, lines after the last content move to the next part."""
        if not keep_tail:
            self.anchor, self.anchor_stack = len(self.part), self.stack
        head, tail = self.part[: self.anchor], self.part[self.anchor :]
        self.parts.append(head + _closers(self.anchor_stack, head))
        self.part = _openers(self.anchor_stack)
        self.base = self.anchor = len(self.part)
        self.part += tail
        self.opening = bool(tail)


def split_markdown(body: str, limit: int = COMMENT_LIMIT, reserve: int = DEFAULT_RESERVE) -> list[str]:
    """Cut `body` into parts of at most `limit - reserve` characters each.

    Returns `[body]` when it fits. Cuts fall between lines; a line is cut in the middle only
    when it cannot fit in a part on its own. Fences and `<details>` blocks open at a cut are
    closed at the end of that part and reopened at the start of the next.
    Raises ValueError when `limit - reserve` leaves no room for the nesting to reopen.
    """
    budget = limit - reserve
    if budget <= 0:
        raise ValueError(f"reserve {reserve} leaves no room under limit {limit}")
    if len(body) <= budget:
        return [body]
    s = _Splitter(budget)
    for line in lines_of(body):
        after = advance(s.stack, line)
        content = s.is_content(line, after)
        if not s.fits(line, after) and len(s.part) > s.base:
            s.cut(keep_tail=s.has_content())
        if s.fits(line, after):
            s.add(line, after, content)
            continue
        # A single line longer than a part: cut it where the part is full.
        cost = max(_cost(s.stack), _cost(after))
        rest = line
        while rest:
            room = budget - len(s.part) - cost
            if room <= 0:
                raise ValueError(f"limit {limit} - reserve {reserve} is too small for nested blocks")
            piece, rest = rest[:room], rest[room:]
            s.add(piece, s.stack if rest else after, content=True)
            if rest:
                s.cut()
    s.parts.append(s.part)
    return s.parts
