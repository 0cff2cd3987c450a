"""Followers share the watch's rounds: services followed at once cost two manager calls per round,
not two per service and poll; each sees what it changed; a service removed while followed is said."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live import labels
from gitdeploy.live.swarm import services, tasks
from gitdeploy.live.swarm.engine import SwarmEngine
from tests.swarm.marks import SWARM

pytestmark = SWARM


class Counting:
    """The real APIClient, with its list calls counted (nothing is answered for it)."""

    def __init__(self, api) -> None:
        self.api = api
        self.calls: dict[str, int] = {"services": 0, "tasks": 0}
        self._lock = threading.Lock()

    def __getattr__(self, name):
        real = getattr(self.api, name)
        if name not in self.calls:
            return real

        def counted(*a, **kw):
            with self._lock:
                self.calls[name] += 1
            return real(*a, **kw)

        return counted


def sleeper_spec(system: str, name: str, image: str, replicas: int = 1) -> dict:
    return {
        "Name": f"{system}_{name}",
        "Labels": {labels.SYSTEM: system, labels.ENV: "prod", labels.SERVICE: name},
        "TaskTemplate": {"ContainerSpec": {"Image": image, "Args": ["sleep", "600"], "Init": True,
                                           "StopGracePeriod": 1_000_000_000},
                         "RestartPolicy": {"Condition": "none"}},
        "Mode": {"Replicated": {"Replicas": replicas}},
        "EndpointSpec": {"Mode": "dnsrr"},
    }


def test_followers_share_rounds_and_see_their_own_change(swarm_cluster, swarm_system, tmp_path):
    client = swarm_cluster.manager
    engine = SwarmEngine(client, tmp_path)
    counting = Counting(client.api)
    engine.watch.api = counting
    ids = [services.create(client.api, sleeper_spec(swarm_system, f"s{i}", swarm_cluster.base_image))
           for i in range(3)]
    judged: list[tasks.Progress] = []
    lock = threading.Lock()

    def follow(sid: str) -> tasks.Progress:
        def seen(p: tasks.Progress) -> None:
            with lock:
                judged.append(p)
        return engine.follow(sid, 90, on_progress=seen)

    with ThreadPoolExecutor(3) as pool:
        done = list(pool.map(follow, ids))
    assert all(p.done for p in done), [p.explain() for p in done]
    assert [p.summary().split(" at ")[0] for p in done] == ["1/1 tasks"] * 3
    # one round answers every follower: each round is one services call and one tasks call
    rounds = engine.watch.rounds
    assert counting.calls == {"services": rounds, "tasks": rounds}
    assert rounds >= 1
    assert {p.name for p in judged} == {f"{swarm_system}_s{i}" for i in range(3)}  # each saw its own

    # a service removed while it is followed: said, never a hang or a traceback
    client.api.remove_service(ids[0])
    with pytest.raises(GitdeployError, match="no such service"):
        engine.follow(ids[0], 10)
    engine.watch.close()  # not engine.close(): the client is the session's shared one
