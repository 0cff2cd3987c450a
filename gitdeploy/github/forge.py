"""GitHubForge: the only place gitdeploy talks to GitHub, through the real PyGithub client.

One instance serves one repository (`owner/name`); `for_repo` gives another repository the
same client and identity. Every failure reaches the caller as a `GitdeployError` with a
message and a hint, never a traceback and never the token.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from github import Auth, Github, GithubException
from github.GithubException import BadCredentialsException, RateLimitExceededException, UnknownObjectException

from gitdeploy.errors import GitdeployError
from gitdeploy.render.markdown import COMMENT_LIMIT

DEFAULT_BASE_URL = "https://api.github.com"
STATUS_DESCRIPTION_LIMIT = 140  # GitHub refuses longer commit/deployment status descriptions
CHECK_TEXT_LIMIT = 65_535  # a check run's output summary and text
CHECK_TITLE_LIMIT = 255
ANNOTATIONS_PER_REQUEST = 50  # GitHub takes at most 50 a request; more are sent in further updates
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
_PART = re.compile(r"<!-- part (\d+) of (\d+) -->\n?")


@dataclass(frozen=True)
class PullInfo:
    """What gitdeploy needs to know about a pull request."""

    number: int
    head_sha: str
    head_ref: str
    base_ref: str
    state: str  # "open" or "closed"
    merged: bool
    mergeable: bool | None  # None while GitHub is still computing it
    author: str
    title: str
    merge_commit_sha: str | None = None  # the merge (or squash/rebase) commit once merged
    draft: bool = False
    mergeable_state: str = "unknown"  # GitHub's: clean, unstable, has_hooks, blocked, behind, dirty, draft, unknown
    head_repo: str = ""  # owner/name the head comes from ("" when it was deleted)
    base_repo: str = ""

    @property
    def from_fork(self) -> bool:
        """True when the head lives in another repository than the base (a fork, or a deleted one)."""
        return self.head_repo.lower() != self.base_repo.lower()


@dataclass(frozen=True)
class ReviewInfo:
    """One submitted review: who, their verdict (APPROVED, CHANGES_REQUESTED, COMMENTED,
    DISMISSED) and the commit it was given on."""

    user: str
    state: str
    commit_id: str


@dataclass(frozen=True)
class Annotation:
    """A note GitHub shows inline in the pull request's diff, at `path`:`line`."""

    path: str
    line: int
    message: str
    column: int = 0
    title: str = ""
    details: str = ""
    level: str = "failure"  # notice, warning or failure

    def to_json(self) -> dict[str, Any]:
        line = max(self.line, 1)
        data: dict[str, Any] = {"path": self.path, "start_line": line, "end_line": line,
                                "annotation_level": self.level, "message": truncate(self.message, 64_000)}
        if self.column:
            data.update(start_column=self.column, end_column=self.column)
        if self.title:
            data["title"] = truncate(self.title, CHECK_TITLE_LIMIT)
        if self.details:
            data["raw_details"] = truncate(self.details, 64_000)
        return data


@dataclass(frozen=True)
class CommentRef:
    """A comment the forge wrote: its id and its web address."""

    id: int
    url: str


@dataclass(frozen=True)
class IssueRef:
    """An issue the forge opened or updated; `created` tells which."""

    number: int
    url: str
    created: bool


def truncate(text: str, limit: int = STATUS_DESCRIPTION_LIMIT) -> str:
    """`text` cut to `limit` characters, ending in an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def part_header(marker: str, index: int, total: int) -> str:
    """The hidden header of part `index` (1-based) of a `total`-part marked comment."""
    return f"{marker}\n" if total == 1 else f"{marker}<!-- part {index} of {total} -->\n"


def part_index(marker: str, body: str) -> int | None:
    """Which part of the `marker` comment `body` is (1-based), or None if it is not one."""
    if not body.startswith(marker):
        return None
    m = _PART.match(body, len(marker))
    return int(m.group(1)) if m else 1


def _redact_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.hostname or "")) if parts.username else url


class _Identity:
    """Who the bot is on GitHub, shared by the forges of one client (None: not asked yet)."""

    def __init__(self, login: str | None) -> None:
        self.login = login


class GitHubForge:
    """Pull-request comments, statuses, deployments and issues on one GitHub repository.

    `pace=True` keeps PyGithub's pacing (0.25 s between requests, 1 s between writes), which
    GitHub's secondary rate limit guidance asks for; `pace=False` turns it off, for the local
    fake in tests and benchmarks. `retry=None` keeps PyGithub's retry policy; tests pass 0.
    `bot_login` overrides the identity; by default it is asked of GitHub (see `bot_login()`).
    """

    def __init__(
        self,
        token: str,
        repo: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        pace: bool = True,
        retry: int | None = None,
        timeout: int = 15,
        bot_login: str | None = None,
        client: Github | None = None,
        auth: Auth.Auth | None = None,
    ) -> None:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise GitdeployError(f"not a GitHub repository name: {repo!r}", "use the form owner/name")
        if not token and auth is None:
            raise GitdeployError("no GitHub token is configured",
                                 "give gitdeploy a token with repo access, or a GitHub App (github.app_id)")
        self.repo_name = repo
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._auth = auth or Auth.Token(token)
        self._identity = _Identity(bot_login)
        if client is None:
            options: dict[str, Any] = {}
            if retry is not None:
                options["retry"] = retry
            if not pace:
                options.update(seconds_between_requests=0, seconds_between_writes=0)
            client = Github(auth=self._auth, base_url=self.base_url, timeout=timeout, lazy=True, **options)
        self._gh = client
        self._repo = client.get_repo(repo)  # lazy: no request until used

    def for_repo(self, repo: str) -> GitHubForge:
        """A forge for another repository sharing this client, its pacing and identity."""
        other = GitHubForge(self._token, repo, base_url=self.base_url, client=self._gh, auth=self._auth)
        other._identity = self._identity  # learned once, for every repository
        return other

    @property
    def is_app(self) -> bool:
        """True when acting as a GitHub App installation (check runs are available)."""
        return isinstance(self._auth, Auth.AppInstallationAuth)

    def git_token(self) -> str:
        """The token for git over https (an installation token is refreshed when it is about to expire)."""
        with self._calling("getting a token for git"):
            return self._auth.token

    @property
    def requester(self) -> Any:
        """PyGithub's Requester (its pacing and base URL), for inspection."""
        return self._gh.requester

    # -- error translation -----------------------------------------------------------------

    @contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """Turn PyGithub and network failures during `action` into GitdeployError."""
        try:
            yield
        except GitdeployError:
            raise
        except BadCredentialsException as exc:
            raise self._error(action, exc, "GitHub rejected the token (401 Bad credentials)",
                              "check the GitHub token gitdeploy is given: it may be wrong, expired or revoked") from None  # fmt: skip
        except RateLimitExceededException as exc:
            raise self._error(action, exc, "GitHub's rate limit is exhausted",
                              "wait for the limit to reset, or keep pacing on (pace=True)") from None  # fmt: skip
        except UnknownObjectException as exc:
            raise self._error(action, exc, "GitHub answered 404 Not Found",
                              f"check that {self.repo_name} and the object exist and that the token can see them "
                              "(GitHub answers 404 for private repositories it hides)") from None  # fmt: skip
        except GithubException as exc:
            raise self._error(action, exc, f"GitHub answered {exc.status}", _hint_for(exc.status)) from None
        except (requests.exceptions.RequestException, OSError) as exc:
            raise GitdeployError(
                f"cannot reach GitHub at {_redact_url(self.base_url)} while {action}: {type(exc).__name__}",
                "check the network and the GitHub base URL",
            ) from None

    def _error(self, action: str, exc: GithubException, what: str, hint: str) -> GitdeployError:
        detail = _github_message(exc)
        message = f"{what} while {action}" + (f": {detail}" if detail else "")
        return GitdeployError(message.replace(self._token, "***") if self._token else message, hint)

    # -- identity and permissions ----------------------------------------------------------

    def bot_login(self) -> str:
        """The login gitdeploy acts as: the configured one, else GitHub's answer to GET /user
        (the token's account), asked once and cached. Comments and issues are the bot's own
        only when their author is this login."""
        if self._identity.login is None:
            with self._calling("reading the bot's identity (GET /user)"):
                self._identity.login = self._gh.get_user().login
        return self._identity.login

    def permission(self, user: str) -> str:
        """`user`'s role on the repository: admin, maintain, write, triage, read or none."""
        with self._calling(f"reading {user}'s permission on {self.repo_name}"):
            quoted = urllib.parse.quote(user, safe="")
            _, data = self._gh.requester.requestJsonAndCheck(
                "GET", f"{self._repo.url}/collaborators/{quoted}/permission"
            )
        role = data.get("role_name")
        if role in ("admin", "maintain", "write", "triage", "read", "none"):
            return role
        return str(data.get("permission") or "none")  # custom roles: fall back to the legacy level

    def team_member(self, team: str, user: str) -> bool:
        """Whether `user` is an active member of `team` ("org/team-slug"); an invitation is not."""
        org, _, slug = team.partition("/")
        q = urllib.parse.quote
        with self._calling(f"reading {user}'s membership of team {team}"):
            try:
                _, data = self._gh.requester.requestJsonAndCheck(
                    "GET", f"/orgs/{q(org, safe='')}/teams/{q(slug, safe='')}/memberships/{q(user, safe='')}"
                )
            except UnknownObjectException:
                return False  # GitHub answers 404 for a non-member
        return data.get("state") == "active"

    # -- pull requests ---------------------------------------------------------------------

    def pull(self, number: int) -> PullInfo:
        """The pull request `number` as a PullInfo."""
        with self._calling(f"reading pull request #{number} of {self.repo_name}"):
            pr = self._repo.get_pull(number)
            return PullInfo(
                number=pr.number,
                head_sha=pr.head.sha,
                head_ref=pr.head.ref,
                base_ref=pr.base.ref,
                state=pr.state,
                merged=bool(pr.merged),
                mergeable=pr.mergeable,
                author=pr.user.login,
                title=pr.title,
                merge_commit_sha=pr.merge_commit_sha,
                draft=bool(pr.draft),
                mergeable_state=pr.mergeable_state or "unknown",
                head_repo=pr.head.repo.full_name if pr.head.repo is not None else "",
                base_repo=pr.base.repo.full_name if pr.base.repo is not None else self.repo_name,
            )

    def reviews(self, number: int) -> list[ReviewInfo]:
        """The submitted reviews of pull request `number`, oldest first (pending ones left out)."""
        with self._calling(f"reading reviews of pull request #{number}"):
            return [ReviewInfo(r.user.login, r.state, r.commit_id or "")
                    for r in self._repo.get_pull(number).get_reviews()
                    if r.user is not None and r.state != "PENDING"]

    def red_checks(self, sha: str) -> list[str]:
        """Checks on commit `sha` that are not green, as "name (state)": the latest commit status
        per context that is failure/error/pending, and every check run not (yet) successful."""
        with self._calling(f"reading the checks of {sha[:12]}"):
            commit = self._repo.get_commit(sha)
            red = [f"{s.context} ({s.state})" for s in commit.get_combined_status().statuses
                   if s.state != "success"]
            for run in commit.get_check_runs():
                if run.status != "completed":
                    red.append(f"{run.name} ({run.status})")
                elif run.conclusion not in ("success", "neutral", "skipped"):
                    red.append(f"{run.name} ({run.conclusion})")
        return red

    def prs_for_commit(self, sha: str) -> list[int]:
        """Numbers of the pull requests whose branches contain commit `sha`."""
        with self._calling(f"finding pull requests for commit {sha[:12]}"):
            return [pr.number for pr in self._repo.get_commit(sha).get_pulls()]

    def merge(self, number: int, sha: str, method: str = "merge") -> str:
        """Merge pull request `number` if its head is still `sha`; returns the merge commit sha."""
        with self._calling(f"merging pull request #{number}"):
            try:
                status = self._repo.get_pull(number).merge(sha=sha, merge_method=method)
            except GithubException as exc:
                if exc.status == 405:
                    raise GitdeployError(f"pull request #{number} cannot be merged: {_github_message(exc)}",
                                         "resolve conflicts or required checks on the pull request") from None  # fmt: skip
                if exc.status == 409:
                    raise GitdeployError(f"pull request #{number} moved past {sha[:12]}; not merged",
                                         "plan the new head again before merging") from None  # fmt: skip
                raise
            return status.sha

    # -- comments and reactions ------------------------------------------------------------

    def comment(self, pr_number: int, body: str) -> CommentRef:
        """Post a new comment on issue or pull request `pr_number`."""
        _check_length(body)
        with self._calling(f"commenting on #{pr_number}"):
            c = self._repo.get_issue(pr_number).create_comment(body)
            return CommentRef(c.id, c.html_url)

    def react(self, comment_id: int, content: str) -> None:
        """Add reaction `content` (eyes, +1, -1, rocket, confused, ...) to issue comment `comment_id`."""
        if content not in REACTIONS:
            raise ValueError(f"unknown reaction {content!r}; one of {REACTIONS}")
        with self._calling(f"reacting to comment {comment_id}"):
            self._gh.requester.requestJsonAndCheck(
                "POST", f"{self._repo.url}/issues/comments/{comment_id}/reactions", input={"content": content}
            )

    def upsert_marked_comment(self, pr_number: int, marker: str, bodies: Sequence[str]) -> list[CommentRef]:
        """Keep one logical comment, identified by hidden `marker`, holding `bodies` in order.

        Part i is the bot's comment starting with `part_header(marker, i, n)`. Existing parts
        are edited in place (only when their text changed), missing ones created, parts beyond
        `len(bodies)` and duplicates deleted. Split long text first with
        `split_markdown(text, reserve=len(marker) + 32)`. Returns the parts, in order.
        """
        if not bodies:
            raise ValueError("upsert_marked_comment needs at least one body")
        texts = [part_header(marker, i, len(bodies)) + body for i, body in enumerate(bodies, 1)]
        for text in texts:
            _check_length(text)
        me = self.bot_login().lower()
        with self._calling(f"updating the {marker!r} comment on #{pr_number}"):
            issue = self._repo.get_issue(pr_number)
            existing: dict[int, Any] = {}
            stale = []
            for c in issue.get_comments():
                index = part_index(marker, c.body or "")
                if index is None or c.user is None or c.user.login.lower() != me:
                    continue
                if index in existing or index > len(texts):
                    stale.append(c)
                else:
                    existing[index] = c
            refs = []
            for i, text in enumerate(texts, 1):
                c = existing.get(i)
                if c is None:
                    c = issue.create_comment(text)
                elif c.body != text:
                    c.edit(text)
                refs.append(CommentRef(c.id, c.html_url))
            for c in stale:
                c.delete()
            return refs

    # -- commit statuses -------------------------------------------------------------------

    def set_status(
        self, sha: str, context: str, state: str, description: str, target_url: str | None = None
    ) -> None:
        """Set commit status `context` on `sha` (state: pending, success, failure or error).

        The description is cut to GitHub's 140 characters.
        """
        if state not in ("pending", "success", "failure", "error"):
            raise ValueError(f"unknown commit status state {state!r}")
        with self._calling(f"setting status {context!r} on {sha[:12]}"):
            extra = {"target_url": target_url} if target_url else {}
            self._repo.get_commit(sha).create_status(
                state, description=truncate(description), context=context, **extra
            )

    # -- check runs (a GitHub App only) ----------------------------------------------------

    def start_check(self, sha: str, name: str, title: str, details_url: str | None = None) -> int:
        """Create check run `name` on `sha`, in progress; returns its id (a re-run makes a new one,
        which GitHub shows in place of the old)."""
        with self._calling(f"creating check run {name!r} on {sha[:12]}"):
            extra = {"details_url": details_url} if details_url else {}
            run = self._repo.create_check_run(name=name, head_sha=sha, status="in_progress",
                                              output={"title": truncate(title, CHECK_TITLE_LIMIT), "summary": title},
                                              **extra)
            return run.id

    def finish_check(self, run_id: int, conclusion: str, title: str, summary: str,
                     annotations: Sequence[Annotation] = (), details_url: str | None = None) -> None:
        """Complete check run `run_id` with `conclusion` (success, failure, neutral, ...), `title`
        (one line), `summary` (Markdown, cut to GitHub's 65,535 characters) and `annotations`."""
        output = {"title": truncate(title, CHECK_TITLE_LIMIT), "summary": truncate(summary, CHECK_TEXT_LIMIT)}
        notes = [a.to_json() for a in annotations]
        batches = [notes[i:i + ANNOTATIONS_PER_REQUEST] for i in range(0, len(notes), ANNOTATIONS_PER_REQUEST)]
        with self._calling(f"completing check run {run_id}"):
            run = self._repo.get_check_run(run_id)
            extra = {"details_url": details_url} if details_url else {}
            run.edit(status="completed", conclusion=conclusion, output={**output, "annotations": batches[0]}
                     if batches else output, **extra)
            for batch in batches[1:]:
                run.edit(output={**output, "annotations": batch})

    # -- deployments -----------------------------------------------------------------------

    def create_deployment(
        self,
        ref: str,
        environment: str,
        description: str,
        *,
        payload: dict[str, Any] | None = None,
        required_contexts: Sequence[str] = (),
    ) -> int:
        """Record a deployment of `ref` (a sha or branch) to `environment`; returns its id.

        `required_contexts` defaults to none: gitdeploy gates deploys itself, and GitHub would
        otherwise refuse (409) while any status on the commit is not success.
        """
        with self._calling(f"creating a deployment of {ref[:12]} to {environment}"):
            dep = self._repo.create_deployment(
                ref,
                auto_merge=False,
                required_contexts=list(required_contexts),
                payload=payload or {},
                environment=environment,
                description=truncate(description),
            )
            return dep.id

    def deployment_status(
        self, deployment_id: int, state: str, description: str, environment_url: str | None = None
    ) -> None:
        """Report deployment `deployment_id` as `state` (queued, in_progress, success, failure, ...)."""
        with self._calling(f"setting the status of deployment {deployment_id}"):
            extra = {"environment_url": environment_url} if environment_url else {}
            self._repo.get_deployment(deployment_id).create_status(
                state, description=truncate(description), **extra
            )

    # -- issues (drift reports) ------------------------------------------------------------

    def _find_issue(self, marker: str, labels: Sequence[str]) -> Any | None:
        me = self.bot_login().lower()
        for issue in self._repo.get_issues(state="open", labels=list(labels)):
            if (
                issue.pull_request is None
                and issue.user is not None
                and issue.user.login.lower() == me
                and (issue.body or "").startswith(marker)
            ):
                return issue
        return None

    def open_or_update_issue(
        self, marker: str, title: str, body: str, labels: Sequence[str] = ("gitdeploy",)
    ) -> IssueRef:
        """Keep one open issue identified by hidden `marker` (e.g. one per environment).

        Updates the open one if its title or body changed, or opens a new one with `labels`.
        """
        text = f"{marker}\n{body}"
        _check_length(text)
        with self._calling(f"opening or updating the {marker!r} issue"):
            issue = self._find_issue(marker, labels)
            if issue is None:
                issue = self._repo.create_issue(title, body=text, labels=list(labels))
                return IssueRef(issue.number, issue.html_url, created=True)
            if issue.title != title or issue.body != text:
                issue.edit(title=title, body=text)
            return IssueRef(issue.number, issue.html_url, created=False)

    def close_issue(
        self, marker: str, comment: str | None = None, labels: Sequence[str] = ("gitdeploy",)
    ) -> int | None:
        """Close the open `marker` issue, first posting `comment` if given; returns its number."""
        with self._calling(f"closing the {marker!r} issue"):
            issue = self._find_issue(marker, labels)
            if issue is None:
                return None
            if comment:
                issue.create_comment(comment)
            issue.edit(state="closed", state_reason="completed")
            return issue.number


def _check_length(body: str) -> None:
    if len(body) > COMMENT_LIMIT:
        raise ValueError(
            f"comment body of {len(body)} characters exceeds GitHub's {COMMENT_LIMIT}; split it first"
        )


def _github_message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or "").strip()
    details = [
        str(e.get("message") or e.get("code")) for e in data.get("errors") or [] if isinstance(e, dict)
    ]
    return "; ".join([message, *details]) if details else message


def _hint_for(status: int) -> str:
    return {
        403: "the token lacks a permission this needs (issues, pull requests, statuses or deployments: write)",
        422: "GitHub refused the input; this is likely a gitdeploy bug, please report it",
        502: "GitHub had a temporary failure; try again",
        503: "GitHub is unavailable; try again later",
    }.get(status, "see https://www.githubstatus.com/ and try again")


__all__ = ["Annotation", "CommentRef", "GitHubForge", "IssueRef", "PullInfo", "ReviewInfo", "part_header", "part_index", "truncate"]
