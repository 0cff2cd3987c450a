"""Endpoints for commit statuses, check runs, collaborator permissions and deployments."""

from __future__ import annotations

from typing import Any

from .base import (
    CHECK_CONCLUSIONS,
    CHECK_STATUSES,
    DEPLOYMENT_STATES,
    STATUS_STATES,
    Answer,
    Req,
    body_field,
    not_found,
    ok,
    paginate,
    resolve_ref,
)
from .render import error, validation_failed
from .state import Repo, now_iso

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


ANNOTATION_LEVELS = ("notice", "warning", "failure")


def _check_output(req: Req, rec: dict[str, Any]) -> Answer | None:
    """Validate `output` as GitHub does; annotations accumulate over updates (at most 50 a request)."""
    output = req.body.get("output")
    if output is None:
        return None
    if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
        return 422, validation_failed("CheckRun", "output", "invalid", "title and summary are required"), {}
    if len(output["summary"]) > 65535 or len(output.get("text") or "") > 65535:
        return 422, validation_failed("CheckRun", "output", "custom", "summary is too long (maximum is 65535 characters)"), {}
    annotations = output.get("annotations") or []
    if len(annotations) > 50:
        return 422, validation_failed("CheckRun", "annotations", "custom", "at most 50 annotations per request"), {}
    for a in annotations:
        if (not isinstance(a, dict) or not a.get("path") or not isinstance(a.get("start_line"), int)
                or not isinstance(a.get("end_line"), int) or a.get("annotation_level") not in ANNOTATION_LEVELS
                or not a.get("message")):
            return 422, validation_failed("CheckRun", "annotations", "invalid"), {}
        if ("start_column" in a or "end_column" in a) and a["start_line"] != a["end_line"]:
            return 422, validation_failed("CheckRun", "annotations", "custom", "columns need one line"), {}
    previous = rec.get("output", {}).get("annotations", [])
    rec["output"] = {**{k: v for k, v in output.items() if k != "annotations"},
                     "annotations": previous + list(annotations)}
    return None


def _check_fields(req: Req, rec: dict[str, Any]) -> Answer | None:
    if not req.me.endswith("[bot]"):  # GitHub: only an App may write check runs
        return 403, error("You must authenticate via a GitHub App."), {}
    for key in ("name", "details_url", "external_id", "started_at", "completed_at"):
        if key in req.body:
            rec[key] = req.body[key]
    if bad := _check_output(req, rec):
        return bad
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
    rec: dict[str, Any] = {"id": req.state.new_id(), "head_sha": head_sha, "started_at": now_iso(),
                           "creator": req.me}
    rec["suite_id"] = req.state.new_id()
    if bad := _check_fields(req, rec):
        return bad
    repo.check_runs[rec["id"]] = rec
    return ok(req.view.check_run(repo, rec), 201)


def get_check_run(req: Req, repo: Repo, rid: str) -> Answer:
    rec = repo.check_runs.get(int(rid))
    return ok(req.view.check_run(repo, rec)) if rec else not_found()


def list_annotations(req: Req, repo: Repo, rid: str) -> Answer:
    rec = repo.check_runs.get(int(rid))
    if not rec:
        return not_found()
    return paginate(req, [{**a, "blob_href": f"{req.view.html}/{repo.full_name}/blob/{rec['head_sha']}/{a['path']}"}
                          for a in rec.get("output", {}).get("annotations", [])])


def list_check_runs(req: Req, repo: Repo, ref: str) -> Answer:
    """GET /commits/{ref}/check-runs: {total_count, check_runs}, newest first."""
    sha = resolve_ref(repo, ref)
    if sha is None:
        return 422, error(f"No commit found for SHA: {ref}"), {}
    name = req.query.get("check_name")
    runs = [req.view.check_run(repo, r) for r in sorted(repo.check_runs.values(), key=lambda r: -r["id"])
            if r["head_sha"] == sha and name in (None, r["name"])]
    status, page, headers = paginate(req, runs)
    return status, {"total_count": len(runs), "check_runs": page}, headers


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


def team_membership(req: Req, org: str, slug: str, login: str) -> Answer:
    """GET /orgs/{org}/teams/{slug}/memberships/{login}: 200 with role and state, or 404."""
    members = req.state.teams.get((org, slug))
    if members is None or login not in members:
        return not_found()  # GitHub: 404 for a non-member (and for a team the token cannot see)
    url = f"{req.view.api}/organizations/1/team/1/memberships/{login}"
    return ok({"url": url, "role": "member", "state": members[login]})


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
