"""Endpoints for the user, repositories, pull requests, issues, comments and reactions."""

from __future__ import annotations

from typing import Any

from .base import COMMENT_LIMIT, REACTIONS, Answer, Req, body_field, not_found, ok, paginate
from .render import error, validation_failed
from .state import Repo, fake_sha, now_iso

# -- user and repository --------------------------------------------------------------------


def get_user(req: Req) -> Answer:
    if req.me.endswith("[bot]"):  # an installation token: GitHub answers 403
        return 403, error("Resource not accessible by integration"), {}
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
