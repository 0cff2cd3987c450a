"""A push job whose commit is no longer the head of its branch is superseded, never deployed (the
real bot server, a local origin, fake GitHub and the real engine)."""

from __future__ import annotations

import pytest

from gitdeploy.live import labels

from .conftest import push_event, svc

pytestmark = pytest.mark.docker


def test_a_push_job_for_an_old_head_is_superseded_and_the_newer_one_deploys(bot, origin, docker_client,
                                                                           system_name):
    a = origin.commit("main", {"system": system_name, "services": {"app": svc(environment={"V": "a"})}}, "a")
    b = origin.commit("main", {"system": system_name, "services": {"app": svc(environment={"V": "b"})}}, "b")
    # A's delivery arrives late (or its job is requeued after a crash): B is already the head
    [old] = bot.run("push", push_event("main", "0" * 40, a))
    assert old.state == "superseded", old.result
    assert old.result == f"superseded: {b[:7]} is newer on main (the head now); {a[:7]} was not deployed"
    assert docker_client.containers.list(filters={"label": f"{labels.SYSTEM}={system_name}"}) == []
    [new] = bot.run("push", push_event("main", a, b))
    assert new.state == "done", new.result
    running = docker_client.containers.list(filters={"label": f"{labels.SYSTEM}={system_name}"})
    assert {c.labels[labels.COMMIT] for c in running} == {b}
