"""Who may run a command from a PR comment, and what a `/deploy` needs. Pure: every fact is passed in.

Each function returns the reasons to refuse (empty: allowed), worded for the PR conversation.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from gitdeploy.deploy.freeze import Brake
from gitdeploy.github.forge import ReviewInfo
from gitdeploy.github.planstore import StoredPlan
from gitdeploy.server.config import DeployPolicy, permission_at_least


def operator_refusals(
    policy: DeployPolicy, user: str, permission: str, teams_of_user: Collection[str] = (),
) -> list[str]:
    """Reasons `user` (with repository `permission`, active member of `teams_of_user` among the
    policy's teams) may not deploy, roll back or freeze."""
    reasons = []
    if not permission_at_least(permission, policy.min_permission):
        reasons.append(f"@{user} has `{permission}` permission on this repository; "
                       f"`{policy.min_permission}` or more is required")
    listed = user.lower() in {u.lower() for u in policy.users}
    in_team = any(t in policy.teams for t in teams_of_user)
    if (policy.users or policy.teams) and not listed and not in_team:
        where = ["`deploy.permissions.users`"] if policy.users else []
        where += [f"team {t}" for t in policy.teams]
        reasons.append(f"@{user} is not in the deploy allow-list ({', '.join(where)})")
    return reasons


@dataclass(frozen=True)
class PullGate:
    """What GitHub says about a pull request when a `/deploy` is asked for (looked up by the
    command handler; reviews and red checks only when the policy needs them)."""

    head_sha: str
    draft: bool
    mergeable: bool | None  # None while GitHub is still computing it
    mergeable_state: str  # clean, unstable, has_hooks, blocked, behind, dirty, draft, unknown
    reviews: tuple[ReviewInfo, ...] = ()  # oldest first
    permissions: Mapping[str, str] = field(default_factory=dict)  # reviewer -> repository role
    red_checks: tuple[str, ...] = ()  # "name (state)" of every check on the head that is not green


_MERGE_STATES = {
    "blocked": "GitHub blocks merging it (`blocked`: a required check or review is missing)",
    "behind": "its branch is behind its base (`behind`); update it",
    "unstable": "a check on its head is failing (`unstable`)",
    "has_hooks": "GitHub reports pre-receive hooks (`has_hooks`)",
    "dirty": "it conflicts with its base (`dirty`)",
}


def latest_verdicts(reviews: Sequence[ReviewInfo]) -> dict[str, ReviewInfo]:
    """Each reviewer's standing verdict: their latest APPROVED or CHANGES_REQUESTED review (a
    comment does not change it, a dismissal clears it), by lower-cased login."""
    verdicts: dict[str, ReviewInfo] = {}
    for review in reviews:
        if review.state in ("APPROVED", "CHANGES_REQUESTED"):
            verdicts[review.user.lower()] = review
        elif review.state == "DISMISSED":
            verdicts.pop(review.user.lower(), None)
    return verdicts


def pull_refusals(policy: DeployPolicy, gate: PullGate) -> list[str]:
    """Reasons the pull request itself may not be deployed from, as strict as branch protection:
    no draft; an approval of the current head by someone with write access or more; no standing
    request for changes by such a reviewer; a merge state in `policy.mergeable_states`, with
    every check that is not green named."""
    reasons = []
    head = gate.head_sha[:12]
    if gate.draft:
        reasons.append("the pull request is a draft; mark it ready for review first")
    if policy.require_approved:
        verdicts = latest_verdicts(gate.reviews)

        def role(r: ReviewInfo) -> str:
            return gate.permissions.get(r.user, "none")

        counts = [r for r in verdicts.values() if permission_at_least(role(r), "write")]
        reasons += [f"@{r.user} requested changes" for r in counts if r.state == "CHANGES_REQUESTED"]
        if not any(r.state == "APPROVED" and r.commit_id == gate.head_sha for r in counts):
            notes = [f"@{r.user} approved an older commit `{r.commit_id[:12]}`" for r in counts
                     if r.state == "APPROVED"]
            notes += [f"@{r.user}'s approval does not count (`{role(r)}` permission; `write` or more counts)"
                      for r in verdicts.values() if r.state == "APPROVED" and r not in counts]
            reasons.append(f"the pull request is not approved for its head `{head}` by someone with write "
                           "access" + (f" ({'; '.join(notes)})" if notes else ""))
    if policy.require_mergeable:
        state = gate.mergeable_state
        if gate.mergeable is False:
            reasons.append("the pull request is not mergeable: it conflicts with its base")
        elif gate.mergeable is None or state == "unknown":
            reasons.append("GitHub has not worked out yet whether the pull request is mergeable; try again shortly")
        elif state not in policy.mergeable_states and state != "draft":
            what = _MERGE_STATES.get(state, f"its merge state is `{state}`")
            accepted = ", ".join(f"`{s}`" for s in policy.mergeable_states)
            reasons.append(f"the pull request may not be merged as it is: {what}; {accepted} is required")
            if gate.red_checks:
                reasons.append("not green on the head: " + ", ".join(f"`{c}`" for c in gate.red_checks))
    return reasons


def deploy_refusals(
    policy: DeployPolicy, *, env: str, head_sha: str, plan: StoredPlan | None, frozen: Brake | None,
) -> list[str]:
    """Reasons the PR head may not be deployed to `env` now (the operator and the pull request
    itself are checked separately: `operator_refusals`, `pull_refusals`)."""
    reasons = []
    if plan is None:
        reasons.append(f"there is no plan for `{env}` yet; comment `/plan`")
    elif plan.head_sha != head_sha:
        reasons.append(f"the plan is stale: it is for `{plan.head_sha[:12]}`, the head is `{head_sha[:12]}`; "
                       "comment `/plan` and review the new plan")
    elif not plan.ok:
        reasons.append(f"the plan for `{head_sha[:12]}` failed ({plan.summary}); fix the spec and push")
    if frozen is not None:
        reasons.append(f"`{env}` is frozen by {frozen.describe()}")
    return reasons
