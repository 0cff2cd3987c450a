"""Docker image references, checked with the grammar of distribution/reference."""

from __future__ import annotations

import re

from gitdeploy.spec.shown import shown

_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")


def image_problem(ref: str) -> tuple[str, str] | None:
    """None when `ref` is a valid image reference, else (message, hint)."""
    if not ref:
        return "the image reference is empty", "e.g. image: nginx:1.27"
    if "$" in ref:
        return (
            f"invalid image reference {shown(ref)}: variable interpolation is not supported",
            "write the image tag into the spec; every change to it is a commit",
        )
    m = _REFERENCE.fullmatch(ref)
    if m is None:
        lowered = _REFERENCE.fullmatch(_lower_repository(ref))
        if lowered is not None:
            return f"invalid image reference {shown(ref)}: the repository name must be lowercase", ""
        return (
            f"invalid image reference {shown(ref)}",
            "expected [registry[:port]/]name[:tag][@sha256:digest], e.g. ghcr.io/acme/web:1.2",
        )
    if len(m.group(1)) > 255:
        return f"invalid image reference {shown(ref)}: the name is longer than 255 characters", ""
    return None


def _lower_repository(ref: str) -> str:
    """The reference with its repository path (not registry, tag or digest) lower-cased."""
    name, sep, rest = ref.partition("@")
    head, _, last = name.rpartition("/")
    tag = ""
    if ":" in last:
        last, tag = last.split(":", 1)
        tag = ":" + tag
    if head:
        first, _, middle = head.partition("/")
        registry_like = "." in first or ":" in first or first == "localhost"
        head = first + ("/" + middle.lower() if middle else "") if registry_like else head.lower()
        return f"{head}/{last.lower()}{tag}{sep}{rest}"
    return f"{last.lower()}{tag}{sep}{rest}"
