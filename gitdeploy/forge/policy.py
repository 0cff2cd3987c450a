"""Who may run a command from a PR comment, and what a `/deploy` needs. Pure: every fact is passed in.

Each function returns the reasons to refuse (empty: allowed), worded for the PR conversation.
"""

from __future__ import annotations

from collections.abc import Collection

from gitdeploy.deploy.freeze import Brake
from gitdeploy.forge.planstore import StoredPlan
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


def deploy_refusals(
    policy: DeployPolicy, *, env: str, head_sha: str, approved: bool | None, mergeable: bool | None,
    plan: StoredPlan | None, frozen: Brake | None,
) -> list[str]:
    """Reasons the PR head may not be deployed to `env` now (the operator is checked separately).

    `approved`/`mergeable` are None when the policy does not require them (not looked up).
    """
    reasons = []
    if policy.require_approved and not approved:
        reasons.append(f"the pull request is not approved for its head `{head_sha[:12]}`")
    if policy.require_mergeable and mergeable is not True:
        reasons.append("the pull request is not mergeable" if mergeable is False else
                       "GitHub has not worked out yet whether the pull request is mergeable; try again shortly")
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
