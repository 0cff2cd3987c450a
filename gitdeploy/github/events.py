"""GitHub webhook events -> the jobs they call for. Pure: no I/O, no clock, no GitHub calls.

| event / action                                   | jobs                                         |
|--------------------------------------------------|----------------------------------------------|
| pull_request opened, synchronize, reopened,      | `plan` per environment whose branch is the   |
| ready_for_review                                 | PR's base (none when no environment matches) |
| pull_request closed, not merged                  | `release` per matching environment           |
| pull_request closed and merged                   | nothing: the push to the branch deploys      |
| issue_comment created on a PR, body starts "/"   | `command` (no environment: the handler       |
|                                                  | resolves the PR, the payload lacks its base) |
| push to refs/heads/<branch> of an environment    | `deploy` per environment on that branch      |
| installation, installation_repositories          | nothing: logged (a GitHub App's installation)|
| check_run rerequested, on `gitdeploy/plan`       | `plan` per PR it lists, per environment      |
| ping, pull_request_review, anything else         | nothing                                      |

Every field read here is first checked against its schema (gitdeploy.github.payloads): a wrong
shape raises PayloadInvalid, which the app answers with 400.

Ignored: repositories outside the allow-list, comments on plain issues, edited/deleted comments,
comments by an App account (sender of type Bot, or a "[bot]" login), comments by the configured
`bot_login`, branch deletions. (With a learned identity, the bot's own comments never start with
"/"; the command handler also skips them.)

Dedup keys: `plan:<repo>#<pr>:<env>` (a newer push to the PR supersedes a queued plan) and the
queue's default `deploy:<env>` (a newer push supersedes a queued deploy).
"""

from __future__ import annotations

import logging
from typing import Any

from gitdeploy.github.payloads import check
from gitdeploy.server.config import ServerConfig
from gitdeploy.server.queue import JobSpec

log = logging.getLogger(__name__)

ZERO_SHA = "0" * 40
PLAN_CHECK = "gitdeploy/plan"  # the bot's plan check run (gitdeploy.github.bot.PLAN_STATUS)
PLAN_ACTIONS = {"opened", "synchronize", "reopened", "ready_for_review"}


def jobs_for_event(event: str, payload: dict[str, Any], config: ServerConfig) -> list[JobSpec]:
    """The jobs a webhook delivery calls for; an empty list when it is ignored.

    Raises gitdeploy.github.payloads.PayloadInvalid when a field it reads has the wrong shape.
    """
    if event in ("installation", "installation_repositories"):
        check(event, payload)
        _log_installation(event, payload, config)
        return []
    translate = _TRANSLATORS.get(event)
    if translate is None:
        return []
    check(event, payload)
    repo = payload["repository"]["full_name"]
    if not config.allows_repository(repo):
        log.warning("ignoring %s event from %s: not in the allowed repositories", event, repo)
        return []
    specs = translate(payload, repo, config)
    installation = (payload.get("installation") or {}).get("id")
    if installation:  # the GitHub App installation the handlers act as
        specs = [JobSpec(s.kind, {**s.payload, "installation": int(installation)}, s.environment, s.dedup_key)
                 for s in specs]
    return specs


def _log_installation(event: str, payload: dict, config: ServerConfig) -> None:
    """An App installed, removed or given other repositories: logged (no job). Repositories
    outside `repositories:` stay ignored whatever the installation covers."""
    action = payload.get("action")
    installation = payload["installation"]
    account = (installation.get("account") or {}).get("login", "?")
    for key in ("repositories", "repositories_added", "repositories_removed"):
        names = [r["full_name"] for r in payload.get(key) or []]
        if not names:
            continue
        served = [n for n in names if config.allows_repository(n)]
        log.info("GitHub App installation %s on %s %s (%s): %s; served: %s", installation["id"], account, action,
                 key.removeprefix("repositories").strip("_") or "repositories", ", ".join(names),
                 ", ".join(served) or "none (not in repositories:)")
    if not any(payload.get(k) for k in ("repositories", "repositories_added", "repositories_removed")):
        log.info("GitHub App installation %s on %s %s", installation["id"], account, action)


def _pull_request(payload: dict, repo: str, config: ServerConfig) -> list[JobSpec]:
    action = payload.get("action")
    pr = payload["pull_request"]
    base = pr["base"]["ref"]
    envs = config.environments_for_branch(base)
    common = {
        "repo": repo,
        "pr": int(pr["number"]),  # JSON may say 2.0; the schema allows only whole numbers
        "head_sha": pr["head"]["sha"],
        "base_ref": base,
        "action": action,
        "draft": bool(pr.get("draft")),
        # a head in another repository (a fork, or null: the fork was deleted) is untrusted code
        "fork": ((pr["head"].get("repo") or {}).get("full_name") or "").lower() != repo.lower(),
    }
    if action in PLAN_ACTIONS:
        kind = "plan"
    elif action == "closed" and not pr.get("merged"):
        kind = "release"
    else:
        return []
    return [
        JobSpec(kind, {**common, "environment": env.name}, env.name,
                f"plan:{repo}#{common['pr']}:{env.name}" if kind == "plan" else None)
        for env in envs
    ]


def _issue_comment(payload: dict, repo: str, config: ServerConfig) -> list[JobSpec]:
    issue, comment = payload["issue"], payload["comment"]
    author = comment["user"]
    if payload.get("action") != "created" or "pull_request" not in issue:
        return []
    if (payload.get("sender") or {}).get("type") == "Bot" or author.get("type") == "Bot":
        return []
    login = (author.get("login") or "").lower()
    if login.endswith("[bot]") or (config.bot_login and login == config.bot_login.lower()):
        return []
    body = (comment.get("body") or "").strip()
    if not body.startswith("/"):
        return []
    words = body.splitlines()[0].split()
    command = words[0][1:]
    if not command:
        return []
    return [JobSpec("command", {
        "repo": repo,
        "pr": int(issue["number"]),
        "command": command,
        "args": words[1:],
        "author": author.get("login") or "",
        "author_association": comment.get("author_association") or "",
        "comment_id": int(comment["id"]),
    })]


def _push(payload: dict, repo: str, config: ServerConfig) -> list[JobSpec]:
    ref = payload["ref"]
    after = payload.get("after") or ZERO_SHA
    if not ref.startswith("refs/heads/") or payload.get("deleted") or after == ZERO_SHA:
        return []
    branch = ref.removeprefix("refs/heads/")
    head = payload.get("head_commit") or {}
    pusher = payload.get("pusher") or {}
    return [
        JobSpec("deploy", {
            "repo": repo,
            "environment": env.name,
            "sha": after,
            "ref": ref,
            "before": payload.get("before") or "",
            "forced": bool(payload.get("forced")),
            "pusher": pusher.get("name") or (payload.get("sender") or {}).get("login", ""),
            "message": head.get("message") or "",
        }, env.name)
        for env in config.environments_for_branch(branch)
    ]


def _check_run(payload: dict, repo: str, config: ServerConfig) -> list[JobSpec]:
    """"Re-run" on the bot's plan check run: plan again, per PR the run lists (GitHub lists only
    PRs whose head is in the repository; the handler checks the head has not moved)."""
    run = payload["check_run"]
    if payload.get("action") != "rerequested" or run.get("name") != PLAN_CHECK:
        return []
    jobs = []
    for pr in run.get("pull_requests") or []:
        base, number = pr["base"]["ref"], int(pr["number"])
        for env in config.environments_for_branch(base):
            jobs.append(JobSpec("plan", {"repo": repo, "pr": number, "head_sha": run["head_sha"], "base_ref": base,
                                         "action": "rerequested", "environment": env.name},
                                env.name, f"plan:{repo}#{number}:{env.name}"))
    return jobs


_TRANSLATORS = {
    "check_run": _check_run,
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "push": _push,
}
