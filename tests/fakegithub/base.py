"""What every endpoint handler shares: the request, answers, pagination, ref resolution.

Each handler gets a `Req` and the path parameters and returns `(status, json, headers)`.
Validation follows GitHub's documented answers: 404 for unknown resources, 422 for
invalid input, 405/409 for merges that cannot happen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .render import View, error
from .state import Repo, State

Answer = tuple[int, Any, dict[str, str]]
COMMENT_LIMIT = 65536
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
STATUS_STATES = ("error", "failure", "pending", "success")
DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CHECK_CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
SHA_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class Req:
    state: State
    view: View
    query: dict[str, str]
    body: Any
    url: str  # the full request URL, for Link headers
    me: str  # the account of the token the request came with: what it creates is theirs


def not_found() -> Answer:
    return 404, error("Not Found"), {}


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return status, data, headers or {}


def paginate(req: Req, items: list[Any]) -> Answer:
    """One page of `items` with GitHub's Link header (per_page default 30, max 100)."""
    per_page = min(max(int(req.query.get("per_page", 30)), 1), 100)
    page = max(int(req.query.get("page", 1)), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []
    base = re.sub(r"([?&])page=\d+&?", r"\1", req.url).rstrip("?&")
    sep = "&" if "?" in base else "?"
    if page < last:
        links.append(f'<{base}{sep}page={page + 1}&per_page={per_page}>; rel="next"')
        links.append(f'<{base}{sep}page={last}&per_page={per_page}>; rel="last"')
    if page > 1:
        links.append(f'<{base}{sep}page=1&per_page={per_page}>; rel="first"')
        links.append(f'<{base}{sep}page={page - 1}&per_page={per_page}>; rel="prev"')
    headers = {"Link": ", ".join(links)} if links else {}
    return 200, items[(page - 1) * per_page : page * per_page], headers


def body_field(req: Req, name: str) -> Any:
    return req.body.get(name) if isinstance(req.body, dict) else None


def resolve_ref(repo: Repo, ref: str) -> str | None:
    """The sha of a branch name or full sha; None when GitHub would not find it."""
    if SHA_RE.match(ref):
        return ref
    return repo.branches.get(ref.removeprefix("refs/heads/"))
