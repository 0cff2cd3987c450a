"""The fake's routing table: (method, path pattern, handler) in GitHub's REST layout."""

from __future__ import annotations

import re
from collections.abc import Callable

from . import apps, commits, issues
from .base import Answer

# -- routing table ---------------------------------------------------------------------------

R = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = [
    (m, re.compile(f"^{p}$"), h)
    for m, p, h in [
        ("GET", "/user", issues.get_user),
        ("GET", "/app", apps.get_app),
        ("POST", r"/app/installations/(?P<iid>\d+)/access_tokens", apps.create_access_token),
        ("GET", R + r"/installation", apps.repo_installation),
        ("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)/memberships/(?P<login>[^/]+)", commits.team_membership),
        ("GET", R, issues.get_repo),
        ("GET", R + r"/pulls/(?P<number>\d+)", issues.get_pull),
        ("GET", R + r"/pulls/(?P<number>\d+)/reviews", issues.list_reviews),
        ("PUT", R + r"/pulls/(?P<number>\d+)/merge", issues.merge_pull),
        ("GET", R + r"/issues", issues.list_issues),
        ("POST", R + r"/issues", issues.create_issue),
        ("GET", R + r"/issues/(?P<number>\d+)", issues.get_issue),
        ("PATCH", R + r"/issues/(?P<number>\d+)", issues.edit_issue),
        ("GET", R + r"/issues/(?P<number>\d+)/comments", issues.list_comments),
        ("POST", R + r"/issues/(?P<number>\d+)/comments", issues.create_comment),
        ("GET", R + r"/issues/comments/(?P<cid>\d+)", issues.get_comment),
        ("PATCH", R + r"/issues/comments/(?P<cid>\d+)", issues.edit_comment),
        ("DELETE", R + r"/issues/comments/(?P<cid>\d+)", issues.delete_comment),
        ("POST", R + r"/issues/comments/(?P<cid>\d+)/reactions", issues.react_comment),
        ("POST", R + r"/statuses/(?P<sha>[^/]+)", commits.create_status),
        ("GET", R + r"/commits/(?P<ref>[^/]+)/statuses", commits.list_statuses),
        ("GET", R + r"/commits/(?P<ref>[^/]+)/status", commits.combined_status),
        ("GET", R + r"/commits/(?P<sha>[^/]+)/pulls", issues.commit_pulls),
        ("POST", R + r"/check-runs", commits.create_check_run),
        ("GET", R + r"/commits/(?P<ref>[^/]+)/check-runs", commits.list_check_runs),
        ("PATCH", R + r"/check-runs/(?P<rid>\d+)", commits.update_check_run),
        ("GET", R + r"/check-runs/(?P<rid>\d+)/annotations", commits.list_annotations),
        ("GET", R + r"/check-runs/(?P<rid>\d+)", commits.get_check_run),
        ("GET", R + r"/collaborators/(?P<login>[^/]+)/permission", commits.collaborator_permission),
        ("POST", R + r"/deployments", commits.create_deployment),
        ("GET", R + r"/deployments", commits.list_deployments),
        ("GET", R + r"/deployments/(?P<did>\d+)", commits.get_deployment),
        ("POST", R + r"/deployments/(?P<did>\d+)/statuses", commits.create_deployment_status),
        ("GET", R + r"/deployments/(?P<did>\d+)/statuses", commits.list_deployment_statuses),
    ]
]

# Paths answered with the App's JWT (Authorization: Bearer <jwt>), not a token.
APP_ROUTES = [re.compile(p) for p in (r"^/app$", r"^/app/installations/\d+/access_tokens$",
                                      r"^/repos/[^/]+/[^/]+/installation$")]
