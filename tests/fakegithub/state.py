"""The fake's memory: repositories, pull requests, issues, comments, statuses, deployments.

Records are plain dicts holding only the facts; `render.py` turns them into GitHub's JSON
shapes. Seeding helpers here are what tests call before the bot runs.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# GitHub's collaborator roles, strongest first; `permission` (legacy) folds maintain/triage.
ROLES = ("admin", "maintain", "write", "triage", "read", "none")
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_sha(*parts: object) -> str:
    return hashlib.sha1(json.dumps([str(p) for p in parts]).encode()).hexdigest()


@dataclass(frozen=True)
class Call:
    """One request the fake answered, as the bot sent it (path without the /api/v3 prefix)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    time: float


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str = "main"
    private: bool = False
    created_at: str = field(default_factory=now_iso)
    branches: dict[str, str] = field(default_factory=dict)  # name -> sha
    permissions: dict[str, str] = field(default_factory=dict)  # login -> role
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> issue or PR
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> issue comment
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # PR number -> reviews
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> statuses
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    commit_pulls: dict[str, list[int]] = field(default_factory=dict)  # sha -> PR numbers
    protection: dict[str, list[str]] = field(default_factory=dict)  # branch -> required check names
    fork_of: str | None = None  # the parent's full name when this repository is a fork
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class State:
    """Everything the fake GitHub knows. All access goes through `lock` (the server is threaded)."""

    def __init__(self, token: str = "test-token", login: str = "deploy-bot") -> None:
        self.lock = threading.RLock()
        self.token = token  # the default token, issued to `login` (a user account, as on GitHub)
        self.login = login
        self.users: dict[str, dict[str, Any]] = {}
        # token -> the login it acts as: personal tokens act as their user, installation tokens
        # as the App's "<slug>[bot]" account; whatever a request creates is attributed to it.
        self.tokens: dict[str, str] = {}
        self.token_expiry: dict[str, float] = {}  # installation token -> when it stops working
        # GitHub Apps: app id -> {"slug", "public_key" (PEM)}; installation id -> app id
        self.apps: dict[int, dict[str, Any]] = {}
        self.installations: dict[int, int] = {}
        self.installation_repos: dict[int, set[str]] = {}  # installation -> owner/name it may use
        self.token_ttl = 3600.0  # seconds an installation token lives (tests shorten it)
        self.repos: dict[str, Repo] = {}
        self.calls: list[Call] = []
        # (method, path regex) -> list of (status, json body) answered instead, once each
        self.faults: list[tuple[str, str, int, dict[str, Any]]] = []
        # (org, team slug) -> {login: membership state ("active" or "pending")}
        self.teams: dict[tuple[str, str], dict[str, str]] = {}
        self._next_id = 1000
        self.add_token(token, login)

    # -- ids and users -------------------------------------------------------------------

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def user(self, login: str, type_: str = "User") -> dict[str, Any]:
        """The user record for `login`, created on first use."""
        with self.lock:
            if login not in self.users:
                self.users[login] = {"login": login, "id": self.new_id(), "type": type_}
            return self.users[login]

    def add_token(self, token: str, login: str) -> None:
        """Issue personal access token `token` to user `login` (never a "[bot]" account: those
        belong to GitHub Apps, whose tokens come from an installation)."""
        if login.lower().endswith("[bot]"):
            raise ValueError(f"{login!r} is an App's account; a personal token belongs to a user")
        with self.lock:
            self.user(login)
            self.tokens[token] = login

    def login_of(self, token: str) -> str | None:
        """The account `token` acts as, or None when GitHub would not accept it (unknown, expired)."""
        with self.lock:
            expiry = self.token_expiry.get(token)
            if expiry is not None and expiry <= time.time():
                return None
            return self.tokens.get(token)

    def add_app(self, app_id: int, slug: str, public_key_pem: str) -> None:
        """Register a GitHub App: its JWTs must verify against `public_key_pem` (RS256)."""
        with self.lock:
            self.apps[app_id] = {"slug": slug, "public_key": public_key_pem}
            self.user(f"{slug}[bot]", "Bot")

    def add_installation(self, installation_id: int, app_id: int, *repos: str) -> None:
        """Install App `app_id` on `repos` (owner/name) as installation `installation_id`."""
        with self.lock:
            self.installations[installation_id] = app_id
            self.installation_repos.setdefault(installation_id, set()).update(repos)

    def issue_installation_token(self, installation_id: int) -> tuple[str, float]:
        """A new installation token acting as the App's "<slug>[bot]": (token, expiry time)."""
        with self.lock:
            slug = self.apps[self.installations[installation_id]]["slug"]
            token = f"ghs_{fake_sha('installation', installation_id, self.new_id())[:36]}"
            self.tokens[token] = f"{slug}[bot]"
            self.token_expiry[token] = time.time() + self.token_ttl
            return token, self.token_expiry[token]

    def issued_tokens(self) -> list[str]:
        """Every installation token handed out so far (to check none was logged)."""
        with self.lock:
            return list(self.token_expiry)

    # -- seeding ---------------------------------------------------------------------------

    def add_repo(self, full_name: str, default_branch: str = "main", private: bool = False) -> Repo:
        """Create (or return) repository `owner/name`; its default branch gets a made-up sha."""
        with self.lock:
            if full_name in self.repos:
                return self.repos[full_name]
            owner, name = full_name.split("/", 1)
            self.user(owner)
            repo = Repo(
                id=self.new_id(), owner=owner, name=name, default_branch=default_branch, private=private
            )
            repo.branches[default_branch] = fake_sha(full_name, default_branch)
            self.repos[full_name] = repo
            return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name]

    def add_team_member(self, team: str, login: str, state: str = "active") -> None:
        """Make `login` a member of `team` ("org/slug"); state "pending" = invited, not yet in."""
        org, slug = team.split("/", 1)
        with self.lock:
            self.user(login)
            self.teams.setdefault((org, slug), {})[login] = state

    def set_permission(self, full_name: str, login: str, role: str) -> None:
        """Give `login` a collaborator role: admin, maintain, write, triage, read or none."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {ROLES}")
        with self.lock:
            self.user(login)
            self.repo(full_name).permissions[login] = role

    def protect(self, full_name: str, branch: str, required: list[str]) -> None:
        """Branch protection on `branch`: the checks (status contexts or check-run names) that
        must succeed before a pull request into it can merge."""
        with self.lock:
            self.repo(full_name).protection[branch] = list(required)

    def add_fork(self, parent: str, full_name: str) -> Repo:
        """A fork of `parent` named `full_name` (another owner's copy)."""
        with self.lock:
            fork = self.add_repo(full_name)
            fork.fork_of = parent
            return fork

    def checks_of(self, repo: Repo, sha: str) -> dict[str, str]:
        """The latest state of every check on `sha`: name -> success, failure or pending.

        Commit statuses by context (error counts as failure) and check runs by name (a
        conclusion other than success, neutral or skipped is a failure)."""
        with self.lock:
            out: dict[str, str] = {}
            for s in repo.statuses.get(sha, []):  # oldest first: the latest wins
                out[s["context"]] = {"error": "failure"}.get(s["state"], s["state"])
            for run in sorted(repo.check_runs.values(), key=lambda r: r["id"]):
                if run["head_sha"] == sha:
                    if run["status"] != "completed":
                        out[run["name"]] = "pending"
                    else:
                        good = run["conclusion"] in ("success", "neutral", "skipped")
                        out[run["name"]] = "success" if good else "failure"
            return out

    def merge_state(self, repo: Repo, rec: dict[str, Any]) -> str:
        """GitHub's `mergeable_state` of pull request `rec`: draft, dirty, blocked (a required
        check is not green), unstable (another check is red), clean - or the seeded one."""
        if rec.get("mergeable_state"):
            return rec["mergeable_state"]
        if rec["state"] != "open":
            return "unknown"
        if rec["draft"]:
            return "draft"
        if not rec["mergeable"]:
            return "dirty"
        checks = self.checks_of(repo, rec["head_sha"])
        required = repo.protection.get(rec["base_ref"], [])
        if any(checks.get(name) != "success" for name in required):
            return "blocked"
        if any(state == "failure" for state in checks.values()):
            return "unstable"
        return "clean"

    def add_branch(self, full_name: str, branch: str, sha: str) -> None:
        with self.lock:
            self.repo(full_name).branches[branch] = sha

    def add_pull(
        self,
        full_name: str,
        number: int | None = None,
        *,
        head_sha: str | None = None,
        head_ref: str = "feature",
        base_ref: str | None = None,
        state: str = "open",
        merged: bool = False,
        mergeable: bool | None = True,
        user: str = "octocat",
        title: str = "A change",
        body: str | None = "",
        draft: bool = False,
        head_repo: str | None = None,
        mergeable_state: str | None = None,
    ) -> dict[str, Any]:
        """Seed a pull request; its head sha is associated with it (commits/{sha}/pulls).

        `head_repo` names a fork (seeded with add_fork) the head comes from; `mergeable_state`
        fixes GitHub's merge state instead of working it out (see merge_state)."""
        with self.lock:
            repo = self.add_repo(full_name)
            number = number or repo.next_number
            repo.next_number = max(repo.next_number, number + 1)
            head_sha = head_sha or fake_sha(full_name, "pull", number)
            self.user(user)
            stamp = now_iso()
            pr = {
                "number": number,
                "id": self.new_id(),
                "is_pull": True,
                "title": title,
                "body": body,
                "user": user,
                "state": state,
                "state_reason": None,
                "labels": [],
                "created_at": stamp,
                "updated_at": stamp,
                "closed_at": stamp if state == "closed" else None,
                "closed_by": None,
                "head_sha": head_sha,
                "head_ref": head_ref,
                "base_ref": base_ref or repo.default_branch,
                "merged": merged,
                "merged_at": stamp if merged else None,
                "merged_by": None,
                "merge_commit_sha": fake_sha(full_name, "merge", number) if merged else None,
                "mergeable": mergeable,
                "draft": draft,
                "head_repo": head_repo or full_name,
                "mergeable_state": mergeable_state,
            }
            repo.issues[number] = pr
            repo.branches.setdefault(head_ref, head_sha)
            self.associate_commit(full_name, head_sha, number)
            return pr

    def add_pull_from_payload(self, payload: dict[str, Any] | str | Path) -> dict[str, Any]:
        """Seed repository and pull request from a `pull_request` webhook payload (dict or file)."""
        if not isinstance(payload, dict):
            payload = json.loads(Path(payload).read_text())
        pr = payload["pull_request"]
        repo_json = payload["repository"]
        repo = self.add_repo(
            repo_json["full_name"], repo_json.get("default_branch", "main"), repo_json.get("private", False)
        )
        head_repo = ((pr["head"].get("repo") or {}).get("full_name")) or repo.full_name
        if head_repo != repo.full_name:
            self.add_fork(repo.full_name, head_repo)
        return self.add_pull(
            repo.full_name,
            pr["number"],
            head_sha=pr["head"]["sha"],
            head_ref=pr["head"]["ref"],
            base_ref=pr["base"]["ref"],
            state=pr["state"],
            merged=bool(pr.get("merged")),
            mergeable=pr.get("mergeable") is not False,  # null in payloads: GitHub was still computing
            user=pr["user"]["login"],
            title=pr["title"],
            body=pr.get("body"),
            draft=bool(pr.get("draft")),
            head_repo=head_repo,
        )

    def add_review(
        self, full_name: str, number: int, user: str, state: str, commit_id: str | None = None, body: str = ""
    ) -> dict[str, Any]:
        """Seed a review: state APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING."""
        with self.lock:
            repo = self.repo(full_name)
            self.user(user)
            review = {
                "id": self.new_id(),
                "user": user,
                "state": state,
                "body": body,
                "commit_id": commit_id or repo.issues[number]["head_sha"],
                "submitted_at": now_iso(),
            }
            repo.reviews.setdefault(number, []).append(review)
            return review

    def associate_commit(self, full_name: str, sha: str, *numbers: int) -> None:
        with self.lock:
            prs = self.repo(full_name).commit_pulls.setdefault(sha, [])
            prs.extend(n for n in numbers if n not in prs)

    def add_issue(
        self,
        full_name: str,
        title: str,
        body: str | None = "",
        *,
        user: str = "octocat",
        labels: list[str] | None = None,
        state: str = "open",
    ) -> dict[str, Any]:
        with self.lock:
            repo = self.add_repo(full_name)
            number = repo.next_number
            repo.next_number += 1
            self.user(user)
            stamp = now_iso()
            issue = {
                "number": number,
                "id": self.new_id(),
                "is_pull": False,
                "title": title,
                "body": body,
                "user": user,
                "state": state,
                "state_reason": "completed" if state == "closed" else None,
                "labels": list(labels or []),
                "created_at": stamp,
                "updated_at": stamp,
                "closed_at": stamp if state == "closed" else None,
                "closed_by": None,
            }
            repo.issues[number] = issue
            return issue

    def add_comment(self, full_name: str, number: int, body: str, user: str = "octocat") -> dict[str, Any]:
        with self.lock:
            repo = self.repo(full_name)
            self.user(user)
            stamp = now_iso()
            comment = {
                "id": self.new_id(),
                "issue": number,
                "body": body,
                "user": user,
                "created_at": stamp,
                "updated_at": stamp,
                "reactions": [],
                "minimized": None,
            }
            repo.comments[comment["id"]] = comment
            return comment

    def fail_next(
        self, method: str, path_regex: str, status: int = 502, body: dict[str, Any] | None = None
    ) -> None:
        """Answer the next request matching `method` and `path_regex` (re.search) with an error."""
        with self.lock:
            self.faults.append((method.upper(), path_regex, status, body or {"message": "Server Error"}))

    # -- reading, for assertions -----------------------------------------------------------

    def comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        """The issue comments currently on issue/PR `number`, oldest first."""
        with self.lock:
            return [dict(c) for c in self.repo(full_name).comments.values() if c["issue"] == number]

    def calls_to(self, method: str | None = None, path_contains: str = "") -> list[Call]:
        """Recorded calls, optionally filtered by method and a substring of the path."""
        with self.lock:
            return [
                c
                for c in self.calls
                if (method is None or c.method == method.upper()) and path_contains in c.path
            ]

    def clear_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def clock(self) -> float:
        return time.time()
