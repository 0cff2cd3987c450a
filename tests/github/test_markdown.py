"""split_markdown: a golden case and properties (limits, balance, nothing lost)."""

from __future__ import annotations

import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gitdeploy.render.markdown import COMMENT_LIMIT, advance, lines_of, open_blocks, split_markdown


def test_short_body_is_one_part() -> None:
    assert split_markdown("hello\n") == ["hello\n"]
    assert split_markdown("") == [""]


def test_golden_fence_inside_details_is_closed_and_reopened() -> None:
    body = (
        "## Plan for production\n"
        "<details><summary>3 changes</summary>\n"
        "\n"
        "```diff\n"
        "- web: image v1\n"
        "+ web: image v2\n"
        "- db: memory 1g\n"
        "+ db: memory 2g\n"
        "```\n"
        "</details>\n"
        "Comment `gitdeploy apply` to deploy.\n"
    )
    # The heading stays alone: the details block (opened, but empty at the cut) moves whole.
    assert split_markdown(body, limit=110, reserve=10) == [
        "## Plan for production\n",
        "<details><summary>3 changes</summary>\n\n```diff\n- web: image v1\n+ web: image v2\n```\n</details>\n",
        "<details>\n<summary>3 changes (continued)</summary>\n\n```diff\n- db: memory 1g\n```\n</details>\n",
        "<details>\n<summary>3 changes (continued)</summary>\n\n```diff\n+ db: memory 2g\n```\n</details>\n",
        "Comment `gitdeploy apply` to deploy.\n",
    ]


def test_fence_length_and_info_string_are_kept() -> None:
    body = "````python title=x\n" + "".join(f"print({i})\n" for i in range(30)) + "````\nafter\n"
    parts = split_markdown(body, limit=120, reserve=0)
    assert len(parts) > 2
    for part in parts:
        assert part.startswith("````python title=x\n") or part == "after\n"
        assert open_blocks(part) == ()
    assert parts[-2].endswith("````\n")


def test_tildes_and_inner_backticks_do_not_confuse_the_fence() -> None:
    body = "~~~\n```\nnot a fence inside tildes\n" + "x\n" * 50 + "~~~\n"
    for part in split_markdown(body, limit=60, reserve=0):
        assert part.startswith("~~~\n") and part.endswith("~~~\n")


def test_a_line_longer_than_the_limit_is_cut_only_then() -> None:
    long_line = "y" * 250 + "\n"
    body = "short\n" + long_line + "tail\n"
    parts = split_markdown(body, limit=100, reserve=0)
    assert all(len(p) <= 100 for p in parts)
    assert "".join(parts) == body
    assert parts[0] == "short\n"  # the cut falls at the line boundary first


def test_long_line_inside_a_fence_keeps_every_part_fenced() -> None:
    body = "```\n" + "z" * 500 + "\n```\n"
    parts = split_markdown(body, limit=100, reserve=0)
    assert all(len(p) <= 100 and open_blocks(p) == () for p in parts)
    assert "".join(p.replace("```\n", "") for p in parts).replace("\n", "") == "z" * 500


def test_real_limit_and_reserve() -> None:
    body = (
        "<details><summary>Plan</summary>\n\n```\n" + "a line of plan output\n" * 10000 + "```\n</details>\n"
    )
    parts = split_markdown(body, reserve=100)
    assert len(parts) == 4
    assert all(len(p) <= COMMENT_LIMIT - 100 for p in parts)
    assert all(open_blocks(p) == () for p in parts)


# -- properties ------------------------------------------------------------------------------

TEXT = st.text(alphabet=st.sampled_from("ab `<>~-#\t"), max_size=40)
LINE = st.one_of(
    TEXT,
    st.sampled_from(["```", "```diff", "````", "~~~", "<details>", "<details open>", "</details>", ""]),
    st.builds(lambda s: f"<summary>{s}</summary>", st.text(alphabet="abc ", max_size=10)),
    st.builds(lambda s: f"<details><summary>{s}</summary>", st.text(alphabet="abc ", max_size=10)),
)


@st.composite
def balanced_markdown(draw: st.DrawFn) -> str:
    """Markdown whose fences and <details> blocks are all closed (nesting up to 3 deep)."""
    out: list[str] = []

    def block(depth: int) -> None:
        for _ in range(draw(st.integers(0, 16 if depth == 0 else 6))):
            kind = draw(st.sampled_from(["text", "text", "fence", "details"] if depth < 3 else ["text"]))
            if kind == "text":
                out.append(draw(TEXT).replace("`", "'").replace("<", "(").replace("~", "-"))
            elif kind == "fence":
                fence = draw(st.sampled_from(["```", "````", "~~~"]))
                out.append(fence + draw(st.sampled_from(["", "diff", "yaml title=x"])))
                out.extend(t.replace(fence[0], "'") for t in draw(st.lists(TEXT, max_size=15)))
                out.append(fence)
            else:
                out.append(draw(st.sampled_from(["<details>", "<details open>"])))
                out.append(f"<summary>{draw(st.text(alphabet='abc ', max_size=10))}</summary>")
                out.append("")
                block(depth + 1)
                out.append("</details>")

    block(0)
    return "\n".join(out) + "\n"


def _content_lines(text: str) -> list[str]:
    """Lines that are not structure the splitter may add (fences, details tags, blanks)."""
    structural = re.compile(r"^\s*(`{3,}.*|~{3,}.*|<details[^>]*>.*|</details>|<summary>.*|)\s*$")
    return [ln.rstrip("\n") for ln in lines_of(text) if not structural.match(ln.rstrip("\n"))]


def _max_depth(text: str) -> int:
    stack, deepest = (), 0
    for line in lines_of(text):
        stack = advance(stack, line)
        deepest = max(deepest, len(stack))
    return deepest


@settings(max_examples=300, deadline=None)
@given(balanced_markdown(), st.integers(400, 1200), st.integers(0, 60))
def test_parts_fit_and_are_balanced(body: str, limit: int, reserve: int) -> None:
    parts = split_markdown(body, limit=limit, reserve=reserve)
    assert all(len(p) <= limit - reserve for p in parts)
    assert all(open_blocks(p) == () for p in parts)
    assert _content_lines("".join(parts)) == _content_lines(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=60).map("\n".join), st.integers(400, 1200), st.integers(0, 60))
def test_arbitrary_markdown_fits_and_keeps_text(body: str, limit: int, reserve: int) -> None:
    assume(_max_depth(body) <= 4)  # deeper nesting cannot be reopened within these small limits
    parts = split_markdown(body, limit=limit, reserve=reserve)
    assert all(len(p) <= limit - reserve for p in parts)
    # Every part but the last ends balanced; whatever the input leaves open stays open at its end.
    assert all(open_blocks(p) == () for p in parts[:-1])
    assert _content_lines("".join(parts)) == _content_lines(body)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab c", min_size=1, max_size=30), max_size=80), st.integers(40, 300))
def test_plain_text_is_cut_only_between_lines(lines: list[str], limit: int) -> None:
    body = "".join(f"{ln}\n" for ln in lines)
    parts = split_markdown(body, limit=limit, reserve=0)
    assert "".join(parts) == body
    assert all(p.endswith("\n") for p in parts if p)
