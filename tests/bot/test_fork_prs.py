"""A fork's pull request is planned without building or pulling anything on the engine, and
cannot be deployed, unless the server allows fork PRs."""

from __future__ import annotations

import json
import time

import pytest

from gitdeploy.live import labels
from gitdeploy.live.forksafe import NOT_BUILT, NOT_PULLED
from gitdeploy.render.comments import plan_marker

from .conftest import REPO, comment_event, pr_event, svc

pytestmark = pytest.mark.docker
FORK = "mallory/Hello-World"
DOCKERFILE = 'FROM gitdeploy/busybox:1\nRUN touch /pwned\nCMD ["sleep", "3600"]\n'


def engine_events(client, since: float, system: str) -> list[dict]:
    """Every engine event since `since` that names the test's system (builds tag gd-<system>/...)."""
    until = time.time() + 1
    return [e for e in client.events(since=since, until=until, decode=True) if system in json.dumps(e)]


def plan_body(fake, number: int) -> str:
    [comment] = [c for c in fake.state.comments(REPO, number) if c["body"].startswith(plan_marker("production"))]
    return comment["body"]


def test_fork_pr_is_planned_without_building_or_pulling(bot, origin, fake_github, docker_client, base_image,
                                                         system_name):
    fake = fake_github
    site = {k: v for k, v in svc(build="site").items() if k not in ("image", "command")}
    pulled = f"registry.invalid/{system_name}/miner:1"
    origin.commit("main", {"system": system_name, "services": {"app": svc()}}, "v1")
    head = origin.commit("fork", {"system": system_name, "services": {"app": svc(), "site": site,
                                                                      "miner": svc(image=pulled)}},
                         "from a fork", files={"site/Dockerfile": DOCKERFILE})
    fake.state.add_fork(REPO, FORK)
    fake.state.add_pull(REPO, 40, head_sha=head, head_ref="fork", base_ref="main", head_repo=FORK, user="mallory")
    fake.state.set_permission(REPO, "octocat", "admin")
    fake.state.add_review(REPO, 40, "octocat", "APPROVED")
    try:
        since = time.time() - 1
        [job] = bot.run("pull_request", pr_event("opened", 40, head, "fork", head_repo=FORK))
        assert job.state == "done", job.result
        assert engine_events(docker_client, since, system_name) == []  # no build, no pull, no container
        assert docker_client.images.list(filters={"label": f"{labels.SYSTEM}={system_name}"}) == []
        body = plan_body(fake, 40)
        assert "comes from a fork" in body and NOT_BUILT in body and NOT_PULLED in body, body
        assert "`/deploy` to deploy" not in body

        # refused commands say why; /plan plans again, just as safely
        for text in ("/deploy", "/plan"):
            seeded = fake.state.add_comment(REPO, 40, text, user="octocat")
            [job] = bot.run("issue_comment", comment_event(40, text, "octocat", seeded["id"]))
            assert job.state == "done", job.result
        replies = [c["body"] for c in fake.state.comments(REPO, 40) if "gitdeploy:reply" in c["body"]]
        assert "refused" in replies[0] and f"comes from a fork (`{FORK}`)" in replies[0], replies[0]
        assert "allow_fork_prs" in replies[0]
        assert engine_events(docker_client, since, system_name) == []

        # the same spec from a branch of the repository itself is built: the check above can see builds
        inside = origin.commit("inside", {"system": system_name, "services": {"app": svc(), "site": site}},
                               "from a branch", files={"site/Dockerfile": DOCKERFILE})
        fake.state.add_pull(REPO, 41, head_sha=inside, head_ref="inside", base_ref="main")
        since = time.time() - 1
        [job] = bot.run("pull_request", pr_event("opened", 41, inside, "inside"))
        assert job.state == "done", job.result
        assert "1 to create" in plan_body(fake, 41) or "2 to create" in plan_body(fake, 41)
        assert any(e.get("Action") == "tag" for e in engine_events(docker_client, since, system_name))
    finally:
        for image in docker_client.images.list(filters={"label": f"{labels.SYSTEM}={system_name}"}):
            docker_client.images.remove(image.id, force=True)
