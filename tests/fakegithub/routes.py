"""The fake's endpoints: one function per GitHub REST operation, in GitHub's own words.

Each handler gets a `Req` and the path parameters and returns `(status, json, headers)`.
Validation follows GitHub's documented answers: 404 for unknown resources, 422 for
invalid input, 405/409 for merges that cannot happen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .render import View, error, validation_failed
from .state import Repo, State, fake_sha, now_iso

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

    @property
    def me(self) -> str:
        return self.state.bot_login


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


# -- user and repository --------------------------------------------------------------------


def get_user(req: Req) -> Answer:
    return ok(req.view.user(req.me))


def get_repo(req: Req, repo: Repo) -> Answer:
    return ok(req.view.repo(repo))


# -- pull requests ---------------------------------------------------------------------------


def _pull(repo: Repo, number: str) -> dict[str, Any] | None:
    rec = repo.issues.get(int(number))
    return rec if rec and rec["is_pull"] else None


def get_pull(req: Req, repo: Repo, number: str) -> Answer:
    rec = _pull(repo, number)
    return ok(req.view.pull(repo, rec)) if rec else not_found()


def list_reviews(req: Req, repo: Repo, number: str) -> Answer:
    if not _pull(repo, number):
        return not_found()
    reviews = [req.view.review(repo, int(number), r) for r in repo.reviews.get(int(number), [])]
    return paginate(req, reviews)


def merge_pull(req: Req, repo: Repo, number: str) -> Answer:
    rec = _pull(repo, number)
    if not rec:
        return not_found()
    method = body_field(req, "merge_method") or "merge"
    if method not in ("merge", "squash", "rebase"):
        return 422, validation_failed("PullRequest", "merge_method", "invalid"), {}
    if rec["state"] != "open" or rec["merged"] or not rec["mergeable"]:
        return 405, error("Pull Request is not mergeable"), {}
    sha = body_field(req, "sha")
    if sha and sha != rec["head_sha"]:
        return 409, error("Head branch was modified. Review and try the merge again."), {}
    stamp = now_iso()
    merge_sha = fake_sha(repo.full_name, "merge", rec["number"], stamp)
    rec.update(
        merged=True, state="closed", merged_at=stamp, closed_at=stamp, updated_at=stamp,
        merged_by=req.me, merge_commit_sha=merge_sha,
    )  # fmt: skip
    repo.branches[rec["base_ref"]] = merge_sha
    return ok({"sha": merge_sha, "merged": True, "message": "Pull Request successfully merged"})


def commit_pulls(req: Req, repo: Repo, sha: str) -> Answer:
    numbers = repo.commit_pulls.get(sha, [])
    return paginate(req, [req.view.pull(repo, repo.issues[n]) for n in numbers])


# -- issues and comments ---------------------------------------------------------------------


def get_issue(req: Req, repo: Repo, number: str) -> Answer:
    rec = repo.issues.get(int(number))
    return ok(req.view.issue(repo, rec)) if rec else not_found()


def list_issues(req: Req, repo: Repo) -> Answer:
    state = req.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        return 422, validation_failed("Issue", "state", "invalid"), {}
    labels = {x for x in req.query.get("labels", "").split(",") if x}
    creator = req.query.get("creator")
    found = [
        rec
        for rec in repo.issues.values()
        if (state == "all" or rec["state"] == state)
        and labels <= set(rec["labels"])
        and (creator is None or rec["user"] == creator)
    ]
    found.sort(key=lambda r: r["number"], reverse=req.query.get("direction", "desc") == "desc")
    return paginate(req, [req.view.issue(repo, r) for r in found])


def _check_body(body: Any, resource: str, required: bool) -> Answer | None:
    if body is None and not required:
        return None
    if not isinstance(body, str) or (required and not body):
        return 422, validation_failed(resource, "body", "missing_field"), {}
    if len(body) > COMMENT_LIMIT:
        msg = f"body is too long (maximum is {COMMENT_LIMIT} characters)"
        return 422, validation_failed(resource, "body", "custom", msg), {}
    return None


def create_issue(req: Req, repo: Repo) -> Answer:
    title = body_field(req, "title")
    if not isinstance(title, str) or not title:
        return 422, validation_failed("Issue", "title", "missing_field"), {}
    if bad := _check_body(body_field(req, "body"), "Issue", required=False):
        return bad
    rec = req.state.add_issue(
        repo.full_name,
        title,
        body_field(req, "body"),
        user=req.me,
        labels=list(body_field(req, "labels") or []),
    )
    data = req.view.issue(repo, rec)
    return ok(data, 201, {"Location": data["url"]})


def edit_issue(req: Req, repo: Repo, number: str) -> Answer:
    rec = repo.issues.get(int(number))
    if not rec:
        return not_found()
    if bad := _check_body(body_field(req, "body"), "Issue", required=False):
        return bad
    state = body_field(req, "state")
    if state is not None and state not in ("open", "closed"):
        return 422, validation_failed("Issue", "state", "invalid"), {}
    stamp = now_iso()
    for key in ("title", "body"):
        if key in req.body:
            rec[key] = req.body[key]
    if "labels" in req.body:
        rec["labels"] = list(req.body["labels"] or [])
    if state == "closed" and rec["state"] != "closed":
        reason = body_field(req, "state_reason") or "completed"
        rec.update(state="closed", closed_at=stamp, closed_by=req.me, state_reason=reason)
    elif state == "open" and rec["state"] != "open":
        rec.update(state="open", closed_at=None, closed_by=None, state_reason="reopened")
    rec["updated_at"] = stamp
    return ok(req.view.issue(repo, rec))


def list_comments(req: Req, repo: Repo, number: str) -> Answer:
    if int(number) not in repo.issues:
        return not_found()
    comments = [req.view.comment(repo, c) for c in repo.comments.values() if c["issue"] == int(number)]
    return paginate(req, comments)


def create_comment(req: Req, repo: Repo, number: str) -> Answer:
    if int(number) not in repo.issues:
        return not_found()
    if bad := _check_body(body_field(req, "body"), "IssueComment", required=True):
        return bad
    rec = req.state.add_comment(repo.full_name, int(number), req.body["body"], user=req.me)
    data = req.view.comment(repo, rec)
    return ok(data, 201, {"Location": data["url"]})


def get_comment(req: Req, repo: Repo, cid: str) -> Answer:
    rec = repo.comments.get(int(cid))
    return ok(req.view.comment(repo, rec)) if rec else not_found()


def edit_comment(req: Req, repo: Repo, cid: str) -> Answer:
    rec = repo.comments.get(int(cid))
    if not rec:
        return not_found()
    if bad := _check_body(body_field(req, "body"), "IssueComment", required=True):
        return bad
    rec.update(body=req.body["body"], updated_at=now_iso())
    return ok(req.view.comment(repo, rec))


def delete_comment(req: Req, repo: Repo, cid: str) -> Answer:
    if repo.comments.pop(int(cid), None) is None:
        return not_found()
    return 204, None, {}


def react_comment(req: Req, repo: Repo, cid: str) -> Answer:
    rec = repo.comments.get(int(cid))
    if not rec:
        return not_found()
    content = body_field(req, "content")
    if content not in REACTIONS:
        return 422, validation_failed("Reaction", "content", "invalid"), {}
    for r in rec["reactions"]:
        if r["user"] == req.me and r["content"] == content:
            return ok(req.view.reaction(r))  # GitHub answers 200 with the existing reaction
    reaction = {"id": req.state.new_id(), "user": req.me, "content": content, "created_at": now_iso()}
    rec["reactions"].append(reaction)
    return ok(req.view.reaction(reaction), 201)


# -- commit statuses and check runs ----------------------------------------------------------


def create_status(req: Req, repo: Repo, sha: str) -> Answer:
    resolved = resolve_ref(repo, sha)
    if resolved is None:
        return 422, error(f"No commit found for SHA: {sha}"), {}
    state = body_field(req, "state")
    if state not in STATUS_STATES:
        return (
            422,
            validation_failed("Status", "state", "custom", f"state is not included in the list: {state}"),
            {},
        )
    description = body_field(req, "description")
    if description is not None and len(description) > 140:
        msg = "description is too long (maximum is 140 characters)"
        return 422, validation_failed("Status", "description", "custom", msg), {}
    rec = {
        "id": req.state.new_id(),
        "sha": resolved,
        "state": state,
        "description": description,
        "target_url": body_field(req, "target_url"),
        "context": body_field(req, "context") or "default",
        "creator": req.me,
        "created_at": now_iso(),
    }
    repo.statuses.setdefault(resolved, []).append(rec)
    data = req.view.status(repo, rec)
    return ok(data, 201, {"Location": data["url"]})


def _statuses(repo: Repo, ref: str) -> list[dict[str, Any]]:
    sha = resolve_ref(repo, ref) or ref
    return list(reversed(repo.statuses.get(sha, [])))  # newest first, as GitHub lists them


def list_statuses(req: Req, repo: Repo, ref: str) -> Answer:
    return paginate(req, [req.view.status(repo, s) for s in _statuses(repo, ref)])


def combined_status(req: Req, repo: Repo, ref: str) -> Answer:
    sha = resolve_ref(repo, ref)
    if sha is None:
        return 422, error(f"No commit found for SHA: {ref}"), {}
    latest: dict[str, dict[str, Any]] = {}
    for s in _statuses(repo, ref):
        latest.setdefault(s["context"], s)
    return ok(req.view.combined_status(repo, sha, list(latest.values())))


def _check_fields(req: Req, rec: dict[str, Any]) -> Answer | None:
    for key in ("name", "details_url", "external_id", "output", "started_at", "completed_at"):
        if key in req.body:
            rec[key] = req.body[key]
    status = req.body.get("status", rec.get("status", "queued"))
    conclusion = req.body.get("conclusion", rec.get("conclusion"))
    if status not in CHECK_STATUSES:
        return 422, validation_failed("CheckRun", "status", "invalid"), {}
    if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
        return 422, validation_failed("CheckRun", "conclusion", "invalid"), {}
    if conclusion is not None:
        status = "completed"  # GitHub: providing a conclusion sets status to completed
    if status == "completed" and conclusion is None:
        return 422, error('Invalid request.\n\n"conclusion" wasn\'t supplied.'), {}
    rec.update(status=status, conclusion=conclusion)
    if status == "completed":
        rec.setdefault("completed_at", now_iso())
    return None


def create_check_run(req: Req, repo: Repo) -> Answer:
    name, head_sha = body_field(req, "name"), body_field(req, "head_sha")
    if not name or not head_sha:
        missing = "name" if not name else "head_sha"
        return 422, error(f'Invalid request.\n\n"{missing}" wasn\'t supplied.'), {}
    rec: dict[str, Any] = {"id": req.state.new_id(), "head_sha": head_sha, "started_at": now_iso()}
    rec["suite_id"] = req.state.new_id()
    if bad := _check_fields(req, rec):
        return bad
    repo.check_runs[rec["id"]] = rec
    return ok(req.view.check_run(repo, rec), 201)


def update_check_run(req: Req, repo: Repo, rid: str) -> Answer:
    rec = repo.check_runs.get(int(rid))
    if not rec:
        return not_found()
    updated = dict(rec)
    if bad := _check_fields(req, updated):
        return bad
    rec.update(updated)
    return ok(req.view.check_run(repo, rec))


# -- collaborators ---------------------------------------------------------------------------


def collaborator_permission(req: Req, repo: Repo, login: str) -> Answer:
    if login not in req.state.users:
        return not_found()  # GitHub: 404 when the user does not exist
    return ok(req.view.permission(repo, login))


# -- deployments -----------------------------------------------------------------------------


def create_deployment(req: Req, repo: Repo) -> Answer:
    ref = body_field(req, "ref")
    if not isinstance(ref, str) or not ref:
        return 422, validation_failed("Deployment", "ref", "missing_field"), {}
    sha = resolve_ref(repo, ref)
    if sha is None:
        return 422, error(f"No ref found for: {ref}"), {}
    required = body_field(req, "required_contexts")
    latest: dict[str, str] = {}
    for s in _statuses(repo, sha):
        latest.setdefault(s["context"], s["state"])
    # GitHub checks every context when required_contexts is omitted, none when it is [].
    must = latest.keys() if required is None else required
    failing = [c for c in must if latest.get(c) != "success"]
    if failing:
        errors = [{"contexts": [{"context": c, "state": latest.get(c, "missing")} for c in failing],
                   "resource": "Deployment", "field": "required_contexts", "code": "invalid"}]  # fmt: skip
        return 409, error(f"Conflict: Commit status checks failed for {ref}.", errors=errors), {}
    environment = body_field(req, "environment") or "production"
    stamp = now_iso()
    rec = {
        "id": req.state.new_id(),
        "sha": sha,
        "ref": ref,
        "task": body_field(req, "task") or "deploy",
        "payload": body_field(req, "payload") or {},
        "environment": environment,
        "description": body_field(req, "description"),
        "creator": req.me,
        "created_at": stamp,
        "updated_at": stamp,
        "transient_environment": bool(body_field(req, "transient_environment")),
        "production_environment": body_field(req, "production_environment")
        if body_field(req, "production_environment") is not None
        else environment == "production",
        "statuses": [],
    }
    repo.deployments[rec["id"]] = rec
    return ok(req.view.deployment(repo, rec), 201)


def list_deployments(req: Req, repo: Repo) -> Answer:
    found = [
        d
        for d in sorted(repo.deployments.values(), key=lambda d: d["id"], reverse=True)
        if all(req.query.get(k) in (None, d[k]) for k in ("sha", "ref", "task", "environment"))
    ]
    return paginate(req, [req.view.deployment(repo, d) for d in found])


def get_deployment(req: Req, repo: Repo, did: str) -> Answer:
    rec = repo.deployments.get(int(did))
    return ok(req.view.deployment(repo, rec)) if rec else not_found()


def create_deployment_status(req: Req, repo: Repo, did: str) -> Answer:
    dep = repo.deployments.get(int(did))
    if not dep:
        return not_found()
    state = body_field(req, "state")
    if state not in DEPLOYMENT_STATES:
        return 422, validation_failed("DeploymentStatus", "state", "invalid"), {}
    description = body_field(req, "description") or ""
    if len(description) > 140:
        msg = "description is too long (maximum is 140 characters)"
        return 422, validation_failed("DeploymentStatus", "description", "custom", msg), {}
    rec = {
        "id": req.state.new_id(),
        "state": state,
        "creator": req.me,
        "description": description,
        "environment": body_field(req, "environment") or dep["environment"],
        "log_url": body_field(req, "log_url") or body_field(req, "target_url") or "",
        "environment_url": body_field(req, "environment_url") or "",
        "created_at": now_iso(),
    }
    dep["statuses"].append(rec)
    dep["updated_at"] = rec["created_at"]
    if state == "success" and body_field(req, "auto_inactive") is not False:
        # GitHub marks earlier successful deployments to the same environment inactive.
        for other in repo.deployments.values():
            if other is not dep and other["environment"] == dep["environment"] and other["statuses"]:
                if other["statuses"][-1]["state"] == "success":
                    other["statuses"].append(
                        {**other["statuses"][-1], "id": req.state.new_id(), "state": "inactive"}
                    )
    return ok(req.view.deployment_status(repo, dep, rec), 201)


def list_deployment_statuses(req: Req, repo: Repo, did: str) -> Answer:
    dep = repo.deployments.get(int(did))
    if not dep:
        return not_found()
    return paginate(req, [req.view.deployment_status(repo, dep, s) for s in reversed(dep["statuses"])])


# -- routing table ---------------------------------------------------------------------------

R = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = [
    (m, re.compile(f"^{p}$"), h)
    for m, p, h in [
        ("GET", "/user", get_user),
        ("GET", R, get_repo),
        ("GET", R + r"/pulls/(?P<number>\d+)", get_pull),
        ("GET", R + r"/pulls/(?P<number>\d+)/reviews", list_reviews),
        ("PUT", R + r"/pulls/(?P<number>\d+)/merge", merge_pull),
        ("GET", R + r"/issues", list_issues),
        ("POST", R + r"/issues", create_issue),
        ("GET", R + r"/issues/(?P<number>\d+)", get_issue),
        ("PATCH", R + r"/issues/(?P<number>\d+)", edit_issue),
        ("GET", R + r"/issues/(?P<number>\d+)/comments", list_comments),
        ("POST", R + r"/issues/(?P<number>\d+)/comments", create_comment),
        ("GET", R + r"/issues/comments/(?P<cid>\d+)", get_comment),
        ("PATCH", R + r"/issues/comments/(?P<cid>\d+)", edit_comment),
        ("DELETE", R + r"/issues/comments/(?P<cid>\d+)", delete_comment),
        ("POST", R + r"/issues/comments/(?P<cid>\d+)/reactions", react_comment),
        ("POST", R + r"/statuses/(?P<sha>[^/]+)", create_status),
        ("GET", R + r"/commits/(?P<ref>[^/]+)/statuses", list_statuses),
        ("GET", R + r"/commits/(?P<ref>[^/]+)/status", combined_status),
        ("GET", R + r"/commits/(?P<sha>[^/]+)/pulls", commit_pulls),
        ("POST", R + r"/check-runs", create_check_run),
        ("PATCH", R + r"/check-runs/(?P<rid>\d+)", update_check_run),
        ("GET", R + r"/collaborators/(?P<login>[^/]+)/permission", collaborator_permission),
        ("POST", R + r"/deployments", create_deployment),
        ("GET", R + r"/deployments", list_deployments),
        ("GET", R + r"/deployments/(?P<did>\d+)", get_deployment),
        ("POST", R + r"/deployments/(?P<did>\d+)/statuses", create_deployment_status),
        ("GET", R + r"/deployments/(?P<did>\d+)/statuses", list_deployment_statuses),
    ]
]
