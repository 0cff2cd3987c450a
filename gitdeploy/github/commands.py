"""PR-comment commands: /plan, /deploy, /rollback, /freeze [reason], /unfreeze, /help.

Each command is acknowledged with 👀 on receipt and 👍 / 👎 / 😕 (unknown command) on its
outcome, and answered with one reply comment (marked with the command comment's id, so a re-run
edits it instead of posting twice). Refusals list every reason. Deploys - from /deploy and
/rollback - are enqueued as `deploy` jobs of the environment, so they run one at a time with
the environment's other deploys, and report on the PR when they finish.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gitdeploy.deploy import freeze
from gitdeploy.errors import GitdeployError
from gitdeploy.github.forge import GitHubForge, PullInfo
from gitdeploy.github.policy import (
    PullGate,
    deploy_refusals,
    latest_verdicts,
    operator_refusals,
    pull_refusals,
)
from gitdeploy.history.revert import TRAILER_OF
from gitdeploy.render import comments
from gitdeploy.server.config import DeployPolicy, Environment
from gitdeploy.server.queue import Job, JobSpec

log = logging.getLogger(__name__)

Outcome = tuple[str, str]  # (reaction, reply markdown)


def run_command(bot, job: Job) -> str:
    """Run one `command` job (see gitdeploy.github.events for its payload)."""
    p = job.payload
    repo, pr, name, author = p["repo"], int(p["pr"]), p["command"], p.get("author", "")
    comment_id = p.get("comment_id")
    forge = bot.forge(repo, p.get("installation"))
    if author and author.lower() == forge.bot_login().lower():
        return f"ignored /{name} on #{pr}: the bot's own comment"
    if comment_id:
        forge.react(comment_id, "eyes")
    command = COMMANDS.get(name.lower())
    try:
        if command is None:
            reaction, reply = "confused", comments.unknown_command(name)
        else:
            reaction, reply = command(bot, forge, job)
    except GitdeployError as exc:
        reaction, reply = "-1", comments.command_failed(name, exc.message, exc.hint)
    except Exception:  # noqa: BLE001 - a bug: the log gets the traceback, GitHub a plain note
        log.exception("/%s on %s#%d raised", name, repo, pr)
        reaction, reply = "-1", comments.command_failed(name, comments.INTERNAL)
    marker = comments.reply_marker(comment_id or f"job-{job.id}")
    forge.upsert_marked_comment(pr, marker, [f"@{author} {reply}" if author else reply])
    if comment_id:
        forge.react(comment_id, reaction)
    return f"/{name} by {author} on #{pr}: {reaction}"


def _environments(bot, pull: PullInfo) -> list[Environment]:
    envs = list(bot.config.environments_for_branch(pull.base_ref))
    if not envs:
        raise GitdeployError(f"no environment deploys from `{pull.base_ref}`, the base of this pull request")
    return envs


def _requested(bot, pull: PullInfo, args: list[str]) -> list[Environment]:
    """The environments a command names (`/plan staging`), else those deploying from the PR's base."""
    if not args:
        return _environments(bot, pull)
    known = [e.name for e in bot.config.environments]
    unknown = [a for a in args if a not in known]
    if unknown:
        raise GitdeployError(f"unknown environment{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(f'`{u}`' for u in unknown)}; configured: {', '.join(f'`{k}`' for k in known)}")
    return [bot.config.environment(a) for a in dict.fromkeys(args)]


def _operator(bot, forge: GitHubForge, author: str, policy: DeployPolicy | None = None) -> list[str]:
    """Reasons `author` may not operate under `policy` (default: the top-level one)."""
    policy = policy or bot.config.deploy
    listed = author.lower() in {u.lower() for u in policy.users}
    # Team look-ups only when they can change the answer (not listed by name, teams configured).
    teams = [] if listed else [t for t in policy.teams if forge.team_member(t, author)]
    return operator_refusals(policy, author, forge.permission(author), teams)


def _gate(policies: list[DeployPolicy], forge: GitHubForge, pull: PullInfo) -> PullGate:
    """Look up what `pull_refusals` needs under any of `policies`: reviews and their authors'
    roles (when approval is required), the checks that are not green (when the merge state is
    not accepted)."""
    reviews = tuple(forge.reviews(pull.number)) if any(p.require_approved for p in policies) else ()
    verdicts = latest_verdicts(reviews)
    permissions = {r.user: forge.permission(r.user) for r in verdicts.values()}
    red: tuple[str, ...] = ()
    if any(p.require_mergeable and pull.mergeable_state not in (*p.mergeable_states, "draft", "unknown")
           for p in policies):
        red = tuple(forge.red_checks(pull.head_sha))
    return PullGate(pull.head_sha, pull.draft, pull.mergeable, pull.mergeable_state, reviews, permissions, red)


def _plan(bot, forge: GitHubForge, job: Job) -> Outcome:
    pull = forge.pull(int(job.payload["pr"]))
    if pull.state != "open":
        return "-1", comments.refused("plan", ["the pull request is closed"])
    rows, all_ok = [], True
    for env in _requested(bot, pull, job.payload.get("args") or []):
        ok, summary = bot.run_plan(job.payload["repo"], pull.number, pull.head_sha, env, fork=pull.from_fork)
        all_ok &= ok
        rows.append((env.name, pull.head_sha, summary))
    return ("+1" if all_ok else "-1"), comments.planned_again(rows)


def _deploy(bot, forge: GitHubForge, job: Job) -> Outcome:
    p = job.payload
    repo, author = p["repo"], p.get("author", "")
    pull = forge.pull(int(p["pr"]))
    if pull.state != "open":
        why = "it is merged: the push to its base branch deployed it" if pull.merged else "the pull request is closed"
        return "-1", comments.refused("deploy", [why])
    envs = _requested(bot, pull, p.get("args") or [])
    policies = {env.name: bot.config.policy(env) for env in envs}
    reasons = [r for env in envs for r in _operator(bot, forge, author, policies[env.name])]
    if pull.from_fork and not bot.config.allow_fork_prs:
        reasons.append(comments.fork_refusal(pull.head_repo))
    gate = _gate(list(policies.values()), forge, pull)
    for env in envs:
        reasons += pull_refusals(policies[env.name], gate)
        reasons += deploy_refusals(
            policies[env.name], env=env.name, head_sha=pull.head_sha,
            plan=bot.store.get(repo, pull.number, env.name), frozen=freeze.frozen(bot.config.data_dir, env.name))
    if reasons:
        for env in envs:
            bot.results.labels(env.name, "refused").inc()
        return "-1", comments.refused("deploy", list(dict.fromkeys(reasons)))
    lines = []
    for env in envs:
        job_id = bot.enqueue(JobSpec("deploy", {
            "repo": repo, "environment": env.name, "sha": pull.head_sha, "ref": f"refs/pull/{pull.number}/head",
            "pusher": author, "trigger": "comment", "pr": pull.number, "message": pull.title,
        }, env.name, comment_deploy_key(env.name, repo, pull.number)))
        lines.append(comments.deploy_started(env.name, pull.head_sha, job_id, "comment"))
    return "+1", "\n".join(lines)


def _rollback(bot, forge: GitHubForge, job: Job) -> Outcome:
    p = job.payload
    repo, author = p["repo"], p.get("author", "")
    pull = forge.pull(int(p["pr"]))
    if not pull.merged or not pull.merge_commit_sha:
        return "-1", comments.refused("rollback", ["the pull request is not merged: there is nothing to roll back"])
    envs = _environments(bot, pull)
    reasons = _operator(bot, forge, author)
    for env in envs:
        frozen = freeze.frozen(bot.config.data_dir, env.name)
        if frozen:
            reasons.append(comments.frozen_refusal(env.name, frozen.describe()))
    if reasons:
        return "-1", comments.refused("rollback", reasons)
    mirror = bot.mirror(repo)
    head = mirror.fetch_branch(pull.base_ref)
    merge = mirror.fetch(pull.merge_commit_sha, f"refs/gitdeploy-bot/merged/{pull.number}")
    message = comments.revert_message(pull.number, pull.title, author, TRAILER_OF, merge)
    revert = mirror.revert(merge, head, message)
    mirror.push(revert, pull.base_ref, expect=head)
    lines = [comments.rollback_committed(revert, merge, pull.base_ref)]
    for env in envs:
        job_id = bot.enqueue(JobSpec("deploy", {
            "repo": repo, "environment": env.name, "sha": revert, "ref": f"refs/heads/{pull.base_ref}",
            "pusher": author, "trigger": "rollback", "pr": pull.number, "message": message.splitlines()[0],
        }, env.name))
        lines.append(comments.deploy_started(env.name, revert, job_id, "rollback"))
    return "+1", "\n".join(lines)


def _brake_target(bot, forge: GitHubForge, job: Job, command: str):
    """(author, pull, environments, refusal): who asks to (un)freeze what, or why they may not."""
    author = job.payload.get("author", "")
    pull = forge.pull(int(job.payload["pr"]))
    reasons = _operator(bot, forge, author)
    refusal: Outcome | None = ("-1", comments.refused(command, reasons)) if reasons else None
    return author, pull, _environments(bot, pull), refusal


def _freeze(bot, forge: GitHubForge, job: Job) -> Outcome:
    author, pull, envs, refusal = _brake_target(bot, forge, job, "freeze")
    if refusal:
        return refusal
    reason = " ".join(job.payload.get("args") or []) or f"frozen from #{pull.number}"
    for env in envs:
        freeze.freeze(bot.config.data_dir, env.name, reason, who=author)
    return "+1", comments.froze([e.name for e in envs], reason)


def _unfreeze(bot, forge: GitHubForge, job: Job) -> Outcome:
    _, _, envs, refusal = _brake_target(bot, forge, job, "unfreeze")
    if refusal:
        return refusal
    lifted = [e.name for e in envs if freeze.unfreeze(bot.config.data_dir, e.name)]
    return "+1", comments.unfroze(lifted)


def _help(bot, forge: GitHubForge, job: Job) -> Outcome:
    return "+1", comments.HELP


def comment_deploy_key(env: str, repo: str, pr: int) -> str:
    """The dedup key of deploys asked for from PR `pr`: a newer ask supersedes, a close cancels."""
    return f"deploy:{env}:{repo.lower()}#{pr}"


COMMANDS: dict[str, Callable[..., Outcome]] = {
    "plan": _plan, "deploy": _deploy, "rollback": _rollback, "freeze": _freeze, "unfreeze": _unfreeze,
    "help": _help,
}
