"""The names gitdeploy derives from a spec, and the rules that keep them unambiguous.

Engine objects are named by joining parts with dots - containers `<system>.<env>.<dashed
path>.<replica>.<hash8>`, the network `<system>.<env>`, volumes `<system>.<env>.<volume>` - and
services answer on the network to DNS aliases: their dashed path (`shop/web` -> `shop-web`) and
their short name where no other service answers to it. So no part may contain a dot, every alias
must name one service only, and every name stays short enough for DNS (a label has at most 63
characters) and for the engine's and the file system's limits (a file name has at most 255 bytes):
with every part at most 63 characters, a container name has at most 63+1+63+1+63+1+4+1+8 = 205.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitdeploy.spec.model import Spec

DNS_LABEL_MAX = 63  # RFC 1035: a DNS label (an alias on the network) has at most 63 characters
NAME_MAX = DNS_LABEL_MAX  # system, service, group and volume names
FILE_NAME_MAX = 255  # secret and config names become file names
NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")  # service, group, volume: no '.', no '/'
SYSTEM_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
FILE_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")  # secret and config names

NAME_HINT = "use letters, digits, '_' and '-', starting with a letter or digit (no '.': gitdeploy joins names with dots)"


def name_problem(name: str, what: str) -> tuple[str, str] | None:
    """(message, hint) when `name` cannot name a `what` ("service", "group", "volume", "system",
    "secret", "config"), else None."""
    shown = name if len(name) <= 60 else name[:60] + "…"
    if what in ("secret", "config"):
        pattern, limit = FILE_NAME_RE, FILE_NAME_MAX
        hint = "use letters, digits, '_', '.' and '-', starting with a letter or digit"
    elif what == "system":
        pattern, limit = SYSTEM_RE, NAME_MAX
        hint = "use lowercase letters, digits, '_' and '-', starting with a letter or digit (no '.')"
    else:
        pattern, limit, hint = NAME_RE, NAME_MAX, NAME_HINT
    if not pattern.fullmatch(name):
        return f"invalid {what} name {shown!r}", hint
    if len(name) > limit:
        return (f"the {what} name {shown!r} has {len(name)} characters (at most {limit})",
                "choose a shorter name")
    return None


def dns_name(path: str) -> str:
    """A service's full DNS alias: its path with '/' as '-' ("shop/web" -> "shop-web")."""
    return path.replace("/", "-")


def short_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def aliases(paths: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """DNS aliases per service path: its dashed path, plus its short name when no other service
    answers to that name (DNS compares names without case)."""
    paths = list(paths)
    count: dict[str, int] = {}
    for p in paths:
        for n in {short_name(p).lower(), dns_name(p).lower()}:
            count[n] = count.get(n, 0) + 1
    out: dict[str, tuple[str, ...]] = {}
    for p in paths:
        short, dashed = short_name(p), dns_name(p)
        unique = short != dashed and count[short.lower()] == 1
        out[p] = (short, dashed) if unique else (dashed,)
    return out


def aliases_for(spec: Spec) -> dict[str, tuple[str, ...]]:
    """DNS aliases per service of `spec` (see `aliases`)."""
    return aliases(s.path for s in spec.services)


@dataclass(frozen=True)
class Collision:
    alias: str
    first: str  # the service path written first
    second: str


def alias_collisions(paths: Iterable[str]) -> list[Collision]:
    """Every service whose dashed path (its DNS name, also part of its container names) is
    another's: `shop-web` and `shop/web` would both answer to `shop-web`."""
    owner: dict[str, str] = {}
    out: list[Collision] = []
    for p in paths:
        key = dns_name(p).lower()
        if key in owner:
            out.append(Collision(dns_name(p), owner[key], p))
        else:
            owner[key] = p
    return out
