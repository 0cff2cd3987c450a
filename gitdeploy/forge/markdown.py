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
    parts: list[str] = []
    stack: Stack = ()
    part = ""
    fresh = True  # the part holds nothing but reopened blocks

    def cut() -> None:
        nonlocal part, fresh
        parts.append(part + _closers(stack, part))
        part, fresh = _openers(stack), True

    for line in lines_of(body):
        after = advance(stack, line)
        cost = max(_cost(stack), _cost(after))
        if len(part) + len(line) + _cost(after) > budget and not fresh:
            cut()
        if len(part) + len(line) + _cost(after) <= budget:
            part, stack, fresh = part + line, after, False
            continue
        # A single line longer than a part: cut it where the part is full.
        rest = line
        while rest:
            room = budget - len(part) - cost
            if room <= 0:
                raise ValueError(f"limit {limit} - reserve {reserve} is too small for nested blocks")
            part, rest, fresh = part + rest[:room], rest[room:], False
            if rest:
                cut()
        stack = after
    if not fresh or not parts:
        parts.append(part)
    return parts
