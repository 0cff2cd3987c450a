"""Files of the spec repository a service uses: paths that must stay inside the repository,
env files to parse, build contexts whose symlinks must not point outside them.
"""

from __future__ import annotations

import os
import posixpath
import re

from gitdeploy.spec.fastyaml import CONTROL
from gitdeploy.spec.shown import shown
from gitdeploy.spec.source import SpecSource, WorktreeSource
from gitdeploy.spec.yamlnode import Pos, Report

_ENV_LINE = r"(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(?P<value>.*)"  # compiled on first use
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def repo_path(
    r: Report, source: SpecSource, path: str, pos: Pos, what: str, kind: str, required: bool = True
) -> str | None:
    """The normalised repository path when `path` names an existing `kind` ("file" or "dir")
    inside the repository, reached without any symlink; else None (reported).

    When `required` is False a missing path returns None without a problem.
    """
    if not path:
        r.at(pos, f"{what} is empty")
        return None
    if path.startswith("/") or path.startswith("~"):
        r.at(pos, f"{what} {shown(path)} is an absolute path", "use a path relative to the repository root")
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        r.at(
            pos,
            f"{what} {shown(path)} escapes the repository ('..')",
            "use a path inside the repository, without '..'",
        )
        return None
    norm = "/".join(parts) or "."
    if norm == ".":
        if kind == "dir":
            return "."
        r.at(pos, f"{what} {shown(path)} is the repository itself, not a file")
        return None
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        found = source.kind(prefix)
        if found is None:
            if required:
                r.at(
                    pos,
                    f"{what} {shown(norm)} does not exist in the {source.label}",
                    "commit the file (gitdeploy reads commits, not the working tree)"
                    if source.commit
                    else "",
                )
            return None
        if found == "submodule" and i < len(parts):
            r.at(pos, f"{what} {shown(norm)} goes through the submodule {shown(prefix)}",
                 "gitdeploy reads only this repository's files; commit the file itself")
            return None
        if found == "symlink":
            r.at(
                pos,
                f"{what} {shown(norm)} goes through the symlink {shown(prefix)}",
                "symlinks could point outside the repository; commit the real file or directory",
            )
            return None
    final = source.kind(norm)
    if final != kind:
        names = {"dir": "directory", "file": "file", "submodule": "submodule (another repository)"}
        r.at(pos, f"{what} {shown(norm)} is a {names.get(final or '', final)}, not a {names[kind]}")
        return None
    return norm


def check_build_context(r: Report, source: SpecSource, context: str, pos: Pos) -> None:
    """Reports every symlink inside the build context that points outside it."""
    base = "" if context == "." else context
    for rel, kind in source.walk(base):
        if kind == "submodule":
            r.at(pos, f"the build context {shown(context)} contains the submodule {shown(rel)}",
                 "gitdeploy builds only from this repository's files; commit them instead of a submodule")
            continue
        if kind != "symlink":
            continue
        target = link_target(source, rel)
        inside = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        within = base == "" or inside == base or inside.startswith(base + "/")
        if target.startswith("/") or inside == ".." or inside.startswith("../") or not within:
            r.at(
                pos,
                f"the build context {shown(context)} contains the symlink {shown(rel)} pointing outside it ({shown(target)})",
                "replace the symlink by the file itself; the build would read files outside the context",
            )


def link_target(source: SpecSource, path: str) -> str:
    """The text of a symlink's target."""
    if isinstance(source, WorktreeSource):
        return os.readlink(source.root / path)
    return source.read(path).decode("utf-8", "surrogateescape")  # git stores the target as the blob


def parse_env_text(r: Report, text: str, file: str) -> dict[str, str]:
    """KEY=VALUE lines of an env file, in order; problems are reported at file:line."""
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if (bad := CONTROL.search(raw)) is not None:
            r.at((n, bad.start() + 1), f"the env file has the control character U+{ord(bad.group()):04X}",
                 "containers cannot carry NUL or control characters (tab is fine)", file=file)
            continue
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(_ENV_LINE, line)
        if m is None:
            r.at(
                (n, 1),
                f"invalid line in env file: {shown(raw)}",
                "write KEY=VALUE (lines starting with # are comments)",
                file=file,
            )
            continue
        value = _env_value(m.group("value"))
        if value is None:
            r.at(
                (n, 1),
                f"unterminated quote in env file: {shown(raw)}",
                "close the quote on the same line",
                file=file,
            )
            continue
        out[m.group("key")] = value
    return out


def _env_value(text: str) -> str | None:
    text = text.strip()
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = _closing_quote(text, quote)
        if end < 0:
            return None
        inner = text[1:end]
        if quote == "'":
            return inner
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), inner)
    # Unquoted: " #" starts a comment, as in Compose's .env files.
    return re.split(r"\s+#", text, maxsplit=1)[0].rstrip()


def _closing_quote(text: str, quote: str) -> int:
    i = 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1
