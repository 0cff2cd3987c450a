"""GitHub's JSON shapes for the fake's records (fields as in GitHub's REST reference).

URLs are built from the address the request came in on (with or without /api/v3), so the
links PyGithub follows lead back to the fake.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from .state import LEGACY_PERMISSION, Repo, State

DOCS = "https://docs.github.com/rest"


def node_id(kind: str, id_: int) -> str:
    # GitHub's legacy global ids: base64("<len>:<Type><id>"), e.g. MDQ6VXNlcjE= for User 1.
    return base64.b64encode(f"0{len(kind)}:{kind}{id_}".encode()).decode()


def error(message: str, docs: str = DOCS, **extra: Any) -> dict[str, Any]:
    return {"message": message, "documentation_url": docs, **extra}


def validation_failed(resource: str, field: str, code: str, message: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"resource": resource, "code": code, "field": field}
    if message:
        err["message"] = message
    return error("Validation Failed", errors=[err])


@dataclass(frozen=True)
class View:
    """Renders records for one request: `api` is the API root, `html` the web root."""

    state: State
    api: str
    html: str

    # -- users and repositories -------------------------------------------------------------

    def user(self, login: str | None) -> dict[str, Any] | None:
        if login is None:
            return None
        u = self.state.user(login)
        url = f"{self.api}/users/{login}"
        is_bot = u["type"] == "Bot"
        return {
            "login": login,
            "id": u["id"],
            "node_id": node_id("Bot" if is_bot else "User", u["id"]),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{u['id']}?v=4",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{self.html}/apps/{login.removesuffix('[bot]')}"
            if is_bot
            else f"{self.html}/{login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": u["type"],
            "site_admin": False,
        }

    def repo_url(self, repo: Repo) -> str:
        return f"{self.api}/repos/{repo.full_name}"

    def repo(self, repo: Repo) -> dict[str, Any]:
        url = self.repo_url(repo)
        return {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": f"{self.html}/{repo.full_name}",
            "description": None,
            "fork": repo.fork_of is not None,
            "url": url,
            "issues_url": f"{url}/issues{{/number}}",
            "pulls_url": f"{url}/pulls{{/number}}",
            "statuses_url": f"{url}/statuses/{{sha}}",
            "deployments_url": f"{url}/deployments",
            "commits_url": f"{url}/commits{{/sha}}",
            "collaborators_url": f"{url}/collaborators{{/collaborator}}",
            "created_at": repo.created_at,
            "updated_at": repo.created_at,
            "pushed_at": repo.created_at,
            "clone_url": f"{self.html}/{repo.full_name}.git",
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "archived": False,
            "disabled": False,
            "has_issues": True,
            "open_issues_count": sum(1 for i in repo.issues.values() if i["state"] == "open"),
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        }

    # -- issues, pull requests, comments ---------------------------------------------------

    def label(self, repo: Repo, name: str) -> dict[str, Any]:
        lid = abs(hash((repo.full_name, name))) % 10**9
        return {
            "id": lid,
            "node_id": node_id("Label", lid),
            "url": f"{self.repo_url(repo)}/labels/{name}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
        }

    def issue(self, repo: Repo, rec: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/issues/{rec['number']}"
        kind = "pull" if rec["is_pull"] else "issues"
        out = {
            "url": url,
            "repository_url": self.repo_url(repo),
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.html}/{repo.full_name}/{kind}/{rec['number']}",
            "id": rec["id"],
            "node_id": node_id("Issue", rec["id"]),
            "number": rec["number"],
            "title": rec["title"],
            "user": self.user(rec["user"]),
            "labels": [self.label(repo, n) for n in rec["labels"]],
            "state": rec["state"],
            "state_reason": rec["state_reason"],
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": sum(1 for c in repo.comments.values() if c["issue"] == rec["number"]),
            "created_at": rec["created_at"],
            "updated_at": rec["updated_at"],
            "closed_at": rec["closed_at"],
            "closed_by": self.user(rec["closed_by"]),
            "author_association": self.association(repo, rec["user"]),
            "active_lock_reason": None,
            "body": rec["body"],
        }
        if rec["is_pull"]:
            pull = f"{self.repo_url(repo)}/pulls/{rec['number']}"
            out["pull_request"] = {
                "url": pull,
                "html_url": f"{self.html}/{repo.full_name}/pull/{rec['number']}",
                "diff_url": f"{self.html}/{repo.full_name}/pull/{rec['number']}.diff",
                "patch_url": f"{self.html}/{repo.full_name}/pull/{rec['number']}.patch",
                "merged_at": rec["merged_at"],
            }
        return out

    def association(self, repo: Repo, login: str) -> str:
        if login == repo.owner:
            return "OWNER"
        if repo.permissions.get(login, "none") != "none":
            return "COLLABORATOR"
        return "NONE"

    def branch_end(self, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repo(repo),
        }

    def pull(self, repo: Repo, rec: dict[str, Any]) -> dict[str, Any]:
        n = rec["number"]
        url = f"{self.repo_url(repo)}/pulls/{n}"
        html = f"{self.html}/{repo.full_name}/pull/{n}"
        issue_url = f"{self.repo_url(repo)}/issues/{n}"
        open_ = rec["state"] == "open"
        return {
            "url": url,
            "id": rec["id"],
            "node_id": node_id("PullRequest", rec["id"]),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.repo_url(repo)}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{self.repo_url(repo)}/statuses/{rec['head_sha']}",
            "number": n,
            "state": rec["state"],
            "locked": False,
            "title": rec["title"],
            "user": self.user(rec["user"]),
            "body": rec["body"],
            "labels": [self.label(repo, name) for name in rec["labels"]],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": rec["created_at"],
            "updated_at": rec["updated_at"],
            "closed_at": rec["closed_at"],
            "merged_at": rec["merged_at"],
            "merge_commit_sha": rec["merge_commit_sha"],
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self.branch_end(self.state.repos.get(rec.get("head_repo") or "", repo),
                                    rec["head_ref"], rec["head_sha"]),
            "base": self.branch_end(repo, rec["base_ref"], repo.branches.get(rec["base_ref"], "")),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue_url},
                "comments": {"href": f"{issue_url}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{self.repo_url(repo)}/statuses/{rec['head_sha']}"},
            },
            "author_association": self.association(repo, rec["user"]),
            "auto_merge": None,
            "draft": rec["draft"],
            "merged": rec["merged"],
            "mergeable": rec["mergeable"] if open_ else None,
            "rebaseable": rec["mergeable"] if open_ else None,
            "mergeable_state": self.state.merge_state(repo, rec),
            "merged_by": self.user(rec["merged_by"]),
            "comments": sum(1 for c in repo.comments.values() if c["issue"] == n),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 1,
            "deletions": 0,
            "changed_files": 1,
        }

    def comment(self, repo: Repo, rec: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/issues/comments/{rec['id']}"
        counts = {c: 0 for c in ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")}
        for r in rec["reactions"]:
            counts[r["content"]] += 1
        return {
            "url": url,
            "html_url": f"{self.html}/{repo.full_name}/issues/{rec['issue']}#issuecomment-{rec['id']}",
            "issue_url": f"{self.repo_url(repo)}/issues/{rec['issue']}",
            "id": rec["id"],
            "node_id": node_id("IssueComment", rec["id"]),
            "user": self.user(rec["user"]),
            "created_at": rec["created_at"],
            "updated_at": rec["updated_at"],
            "author_association": self.association(repo, rec["user"]),
            "body": rec["body"],
            "reactions": {"url": f"{url}/reactions", "total_count": len(rec["reactions"]), **counts},
        }

    def reaction(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": rec["id"],
            "node_id": node_id("Reaction", rec["id"]),
            "user": self.user(rec["user"]),
            "content": rec["content"],
            "created_at": rec["created_at"],
        }

    def review(self, repo: Repo, number: int, rec: dict[str, Any]) -> dict[str, Any]:
        html = f"{self.html}/{repo.full_name}/pull/{number}#pullrequestreview-{rec['id']}"
        pull_url = f"{self.repo_url(repo)}/pulls/{number}"
        return {
            "id": rec["id"],
            "node_id": node_id("PullRequestReview", rec["id"]),
            "user": self.user(rec["user"]),
            "body": rec["body"],
            "state": rec["state"],
            "html_url": html,
            "pull_request_url": pull_url,
            "author_association": self.association(repo, rec["user"]),
            "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
            "submitted_at": rec["submitted_at"],
            "commit_id": rec["commit_id"],
        }

    def permission(self, repo: Repo, login: str) -> dict[str, Any]:
        role = repo.permissions.get(login, "admin" if login == repo.owner else "none")
        return {"permission": LEGACY_PERMISSION[role], "role_name": role, "user": self.user(login)}

    # -- statuses, checks, deployments -----------------------------------------------------

    def status(self, repo: Repo, rec: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"{self.repo_url(repo)}/statuses/{rec['sha']}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{self.state.user(rec['creator'])['id']}?v=4",
            "id": rec["id"],
            "node_id": node_id("StatusContext", rec["id"]),
            "state": rec["state"],
            "description": rec["description"],
            "target_url": rec["target_url"],
            "context": rec["context"],
            "created_at": rec["created_at"],
            "updated_at": rec["created_at"],
            "creator": self.user(rec["creator"]),
        }

    def combined_status(self, repo: Repo, sha: str, latest: list[dict[str, Any]]) -> dict[str, Any]:
        states = {s["state"] for s in latest}
        if states & {"error", "failure"}:
            state = "failure"
        elif not latest or "pending" in states:
            state = "pending"
        else:
            state = "success"
        return {
            "state": state,
            "statuses": [self.status(repo, s) for s in latest],
            "sha": sha,
            "total_count": len(latest),
            "repository": self.repo(repo),
            "commit_url": f"{self.repo_url(repo)}/commits/{sha}",
            "url": f"{self.repo_url(repo)}/commits/{sha}/status",
        }

    def check_run(self, repo: Repo, rec: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/check-runs/{rec['id']}"
        return {
            "id": rec["id"],
            "head_sha": rec["head_sha"],
            "node_id": node_id("CheckRun", rec["id"]),
            "external_id": rec.get("external_id", ""),
            "url": url,
            "html_url": f"{self.html}/{repo.full_name}/runs/{rec['id']}",
            "details_url": rec.get("details_url"),
            "status": rec["status"],
            "conclusion": rec.get("conclusion"),
            "started_at": rec["started_at"],
            "completed_at": rec.get("completed_at"),
            "output": {
                "title": rec.get("output", {}).get("title"),
                "summary": rec.get("output", {}).get("summary"),
                "text": rec.get("output", {}).get("text"),
                "annotations_count": len(rec.get("output", {}).get("annotations", [])),
                "annotations_url": f"{url}/annotations",
            },
            "name": rec["name"],
            "check_suite": {"id": rec["suite_id"]},
            "app": {
                "id": 1,
                "slug": rec["creator"].removesuffix("[bot]"),
                "name": rec["creator"].removesuffix("[bot]"),
            },
            "pull_requests": [],
        }

    def deployment(self, repo: Repo, rec: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/deployments/{rec['id']}"
        return {
            "url": url,
            "id": rec["id"],
            "node_id": node_id("Deployment", rec["id"]),
            "sha": rec["sha"],
            "ref": rec["ref"],
            "task": rec["task"],
            "payload": rec["payload"],
            "original_environment": rec["environment"],
            "environment": rec["environment"],
            "description": rec["description"],
            "creator": self.user(rec["creator"]),
            "created_at": rec["created_at"],
            "updated_at": rec["updated_at"],
            "statuses_url": f"{url}/statuses",
            "repository_url": self.repo_url(repo),
            "transient_environment": rec["transient_environment"],
            "production_environment": rec["production_environment"],
        }

    def deployment_status(self, repo: Repo, dep: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
        dep_url = f"{self.repo_url(repo)}/deployments/{dep['id']}"
        return {
            "url": f"{dep_url}/statuses/{rec['id']}",
            "id": rec["id"],
            "node_id": node_id("DeploymentStatus", rec["id"]),
            "state": rec["state"],
            "creator": self.user(rec["creator"]),
            "description": rec["description"],
            "environment": rec["environment"],
            "target_url": rec["log_url"],
            "log_url": rec["log_url"],
            "environment_url": rec["environment_url"],
            "created_at": rec["created_at"],
            "updated_at": rec["created_at"],
            "deployment_url": dep_url,
            "repository_url": self.repo_url(repo),
        }
