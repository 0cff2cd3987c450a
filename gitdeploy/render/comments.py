"""The bot's wording on pull requests: pure functions from values to Markdown (no GitHub calls).

Every comment the bot keeps up to date starts with a hidden marker, so it is found and edited in
place (`GitHubForge.upsert_marked_comment`). Secret values never reach here: plans and results
only hold fingerprints.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitdeploy.deploy.result import Result
from gitdeploy.errors import Problem
from gitdeploy.plan.model import Plan
from gitdeploy.render.plan import plan_markdown
from gitdeploy.render.result import result_markdown

HELP = """**gitdeploy commands** (comment on a pull request):

| Command | What it does |
|---|---|
| `/plan [ENV...]` | plan the PR's head again against the live environment (or the named ones) |
| `/deploy [ENV...]` | deploy the PR's head before merging (needs permission, approval and a current plan) |
| `/rollback` | on a merged PR: commit a revert of its merge to the environment branch and deploy it |
| `/freeze [reason]` | stop every deploy to the PR's environment until `/unfreeze` |
| `/unfreeze` | lift the freeze |
| `/help` | this text |"""

FOOTER = "<sub>Comment `/deploy` to deploy this plan before merging, `/help` for every command.</sub>"
INTERNAL = "internal error, see server log"


PLAN_MARKER = "<!-- gitdeploy:plan -->"


def plan_marker(env: str = "") -> str:
    """The hidden marker of the PR's one plan comment. Every environment planned for the PR is a
    section of it (`plan_sections`); `env` is accepted for callers that think per environment."""
    return PLAN_MARKER


def plan_sections(sections: Sequence[str]) -> str:
    """The plan comment: one section per environment planned, in the order given."""
    return "\n\n---\n\n".join(sections)


def deploy_marker(env: str, sha: str) -> str:
    return f"<!-- gitdeploy:deploy:{env}:{sha} -->"


def _head(env: str, sha: str) -> str:
    return f"### gitdeploy plan for `{env}`\nHead: `{sha}`\n"


FORK_NOTE = ("⚠️ **This pull request comes from a fork**: it is planned without building or pulling "
             "anything on the engine, so services with `build:` show `not built: fork pull request`, and it "
             "cannot be deployed from here (the server's `allow_fork_prs` is off).")


def plan_comment(env: str, sha: str, plan: Plan, untrusted: bool = False,
                 skipped: Sequence[tuple[str, str]] = ()) -> str:
    """The plan comment: heading, head SHA, the rendered plan, how to deploy it (or, for a fork's
    pull request planned `untrusted`, why nothing was built and it cannot be deployed, with each
    `skipped` (service, "not built: ..." / "not pulled: ...") listed)."""
    if untrusted:
        rows = "".join(f"\n- `{path}`: {why}" for path, why in skipped)
        return f"{_head(env, sha)}\n{FORK_NOTE}{rows}\n\n{plan_markdown(plan)}"
    return f"{_head(env, sha)}\n{plan_markdown(plan)}\n\n{FOOTER}"


def invalid_comment(env: str, sha: str, problems: Sequence[Problem]) -> str:
    """The plan comment when the spec is invalid: every problem at file:line:column."""
    n = len(problems)
    rows = "\n".join(f"- `{p.location()}`: {p.message}" + (f" (hint: {p.hint})" if p.hint else "")
                     for p in problems)
    return (f"{_head(env, sha)}\n❌ **The spec is invalid** ({n} problem{'s' if n != 1 else ''}); "
            f"nothing can be deployed from this commit.\n\n{rows}")


def error_comment(env: str, sha: str, message: str, hint: str = "") -> str:
    """The plan comment when planning failed for another reason (engine down, fetch failed...)."""
    text = f"{_head(env, sha)}\n❌ **Planning failed:** {message}"
    return text + (f"\n\nHint: {hint}" if hint else "")


def invalid_summary(problems: Sequence[Problem]) -> str:
    """A commit-status description for an invalid spec (GitHub cuts it at 140 characters)."""
    first = problems[0] if problems else None
    n = len(problems)
    head = f"spec invalid ({n} problem{'s' if n != 1 else ''})"
    return f"{head}: {first.location()}: {first.message}" if first else head


def deploy_started(env: str, sha: str, job: int, trigger: str) -> str:
    return f"🚀 Deploying `{sha[:12]}` to `{env}` ({trigger}, job {job}); the result follows here."


def result_comment(env: str, sha: str, result: Result, who: str, trigger: str) -> str:
    """The deploy result on the PR that introduced the commit."""
    return f"### gitdeploy deploy to `{env}`\nCommit: `{sha}` ({trigger} by {who})\n\n{result_markdown(result)}"


def deploy_error_comment(env: str, sha: str, message: str, hint: str = "") -> str:
    text = f"### gitdeploy deploy to `{env}`\nCommit: `{sha}`\n\n❌ **Not deployed:** {message}"
    return text + (f"\n\nHint: {hint}" if hint else "")


def refused(command: str, reasons: Sequence[str]) -> str:
    """Why a command was refused: every reason, one a line."""
    return f"🚫 `/{command}` refused:\n" + "\n".join(f"- {r}" for r in reasons)


def unknown_command(command: str) -> str:
    return f"Unknown command `/{command}`.\n\n{HELP}"


def reply_marker(comment_id: object) -> str:
    """The hidden marker of the bot's one reply to a command comment (a re-run edits it)."""
    return f"<!-- gitdeploy:reply:{comment_id} -->"


def command_failed(command: str, message: str, hint: str = "") -> str:
    return f"❌ `/{command}` failed: {message}" + (f"\n\nHint: {hint}" if hint else "")


def planned_again(rows: Sequence[tuple[str, str, str]]) -> str:
    """The `/plan` reply: one line per (environment, head SHA, plan summary)."""
    lines = [f"- `{env}` at `{sha[:12]}`: {summary}" for env, sha, summary in rows]
    return "planned again (the plan comment is updated):\n" + "\n".join(lines)


def fork_refusal(head_repo: str) -> str:
    """Why a fork's pull request may not be deployed from a comment (a reason for `refused`)."""
    return (f"the pull request comes from a fork (`{head_repo or 'a deleted repository'}`): deploying it would run "
            "its code on the environment's engine, and this server does not allow that (`allow_fork_prs: false`)")


def frozen_refusal(env: str, by: str) -> str:
    """Why `env` refuses a rollback: frozen `by` (the freeze's own description)."""
    return f"`{env}` is frozen by {by}"


def revert_message(pr: int, title: str, author: str, trailer: str, merge: str) -> str:
    """The commit message of a `/rollback` revert; `trailer` names the reverted merge for the history."""
    return (f"Revert #{pr}: {title}\n\nRolled back by @{author} from a pull request comment.\n\n"
            f"{trailer}: {merge}\n")


def rollback_committed(revert: str, merge: str, branch: str) -> str:
    return f"↩️ committed `{revert[:12]}` reverting `{merge[:12]}` on `{branch}`."


def froze(envs: Sequence[str], reason: str) -> str:
    names = ", ".join(f"`{e}`" for e in envs)
    return f"❄️ froze {names}: {reason}. Nothing deploys there until `/unfreeze`."


def unfroze(lifted: Sequence[str]) -> str:
    """The `/unfreeze` reply: the environments whose freeze was lifted (none: nothing was frozen)."""
    if not lifted:
        return "nothing was frozen."
    return f"unfroze {', '.join(f'`{n}`' for n in lifted)}."
