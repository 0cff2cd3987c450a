"""What a commit SHA, a ref and a branch name from outside (a webhook, GitHub's API) may look like.

Checked before any git command sees them, so a value such as `--upload-pack=...` can never be
read as an option (the git calls also put `--` / `--end-of-options` before such values). Pure.
"""

from __future__ import annotations

import re

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
MAX_REF_LENGTH = 255  # git allows more; GitHub and most file systems do not
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def is_sha(value: object) -> bool:
    """True for a full, lower-case, 40-hex-digit commit SHA."""
    return isinstance(value, str) and SHA_RE.match(value) is not None


def ref_problem(value: object, *, full: bool = True) -> str:
    """Why `value` is not a valid ref ("" when it is).

    git's check-ref-format rules, plus: no component may start with "-" (it could read as an
    option). `full=True` wants "refs/..."; `full=False` accepts a branch name such as "main".
    """
    if not isinstance(value, str):
        return "is not a string"
    if not value:
        return "is empty"
    if len(value) > MAX_REF_LENGTH:
        return f"is longer than {MAX_REF_LENGTH} characters"
    if full and not value.startswith("refs/"):
        return "does not start with refs/"
    if _FORBIDDEN.search(value):
        return "contains a space, a control character or one of ~^:?*[\\"
    if ".." in value or "@{" in value or value == "@":
        return "contains '..' or '@{' or is '@'"
    if value.endswith((".", "/")) or value.startswith("/") or "//" in value:
        return "has an empty component or ends with '.'"
    for part in value.split("/"):
        if part.startswith((".", "-")) or part.endswith(".lock"):
            return f"has a component '{part}' that starts with '.' or '-' or ends with '.lock'"
    return ""


def is_ref(value: object) -> bool:
    """True for a valid full ref name ("refs/heads/main", "refs/pull/3/head")."""
    return ref_problem(value) == ""


def is_branch(value: object) -> bool:
    """True for a valid branch name ("main", "release/1.2")."""
    return ref_problem(value, full=False) == ""
