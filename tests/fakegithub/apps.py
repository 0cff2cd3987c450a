"""Endpoints a GitHub App calls with its JWT: itself, installation tokens, a repository's installation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .base import Answer, Req, not_found, ok
from .render import error
from .state import Repo


def _app_id(req: Req) -> int:
    return int(req.me.removeprefix("app:"))


def get_app(req: Req) -> Answer:
    app_id = _app_id(req)
    slug = req.state.apps[app_id]["slug"]
    return ok({"id": app_id, "slug": slug, "node_id": f"A_{app_id}", "name": slug,
               "owner": req.view.user("octocat"), "description": "", "external_url": req.view.html,
               "html_url": f"{req.view.html}/apps/{slug}", "created_at": "2026-01-01T00:00:00Z",
               "updated_at": "2026-01-01T00:00:00Z",
               "permissions": {"checks": "write", "contents": "read", "issues": "write", "pull_requests": "write",
                               "statuses": "write", "deployments": "write", "members": "read"},
               "events": ["check_run", "issue_comment", "pull_request", "push"]})


def _installation(req: Req, iid: int) -> dict[str, Any]:
    return {"id": iid, "app_id": req.state.installations[iid], "target_type": "Organization",
            "account": req.view.user("Codertocat"), "repository_selection": "selected",
            "access_tokens_url": f"{req.view.api}/app/installations/{iid}/access_tokens",
            "permissions": {"checks": "write", "issues": "write"}, "events": ["push"]}


def create_access_token(req: Req, iid: str) -> Answer:
    """POST /app/installations/{id}/access_tokens: 201 {token, expires_at, ...}; 404 for another App's."""
    installation = int(iid)
    if req.state.installations.get(installation) != _app_id(req):
        return not_found()
    token, expiry = req.state.issue_installation_token(installation)
    expires_at = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ok({"token": token, "expires_at": expires_at, "permissions": {"checks": "write", "issues": "write"},
               "repository_selection": "selected"}, 201)


def repo_installation(req: Req, repo: Repo) -> Answer:
    """GET /repos/{owner}/{repo}/installation: the App's installation that covers the repository."""
    for iid, app_id in req.state.installations.items():
        if app_id == _app_id(req) and repo.full_name in req.state.installation_repos.get(iid, set()):
            return ok(_installation(req, iid))
    return 404, error("Not Found"), {}
