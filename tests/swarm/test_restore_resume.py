"""A way back that Swarm paused is resumed: sending the old spec again to a service whose update
stopped short makes Swarm replace the tasks not at it, and only those. `resumable` decides when
restore does so (pure)."""

from __future__ import annotations

import time

from gitdeploy.deploy.swarm import resumable
from gitdeploy.live import labels
from gitdeploy.live.swarm import services, tasks
from gitdeploy.live.swarm.engine import SwarmEngine
from tests.swarm.marks import SWARM

pytestmark = SWARM

ENV = "prod"
SECOND = 1_000_000_000


def spec(system: str, version: str, image: str, command: str) -> dict:
    update = {"Parallelism": 1, "FailureAction": "pause", "Monitor": 2 * SECOND, "MaxFailureRatio": 0,
              "Order": "start-first"}
    return {
        "Name": f"{system}_{ENV}_api",
        "Labels": {labels.SYSTEM: system, labels.ENV: ENV, labels.SERVICE: "api", labels.COMMIT: version * 40},
        "TaskTemplate": {"ContainerSpec": {"Image": image, "Args": ["sh", "-c", command], "Init": True,
                                           "Env": [f"V={version}"], "StopGracePeriod": SECOND},
                         "RestartPolicy": {"Condition": "none"}},
        "Mode": {"Replicated": {"Replicas": 2}},
        "EndpointSpec": {"Mode": "dnsrr"},
        "UpdateConfig": update,
        "RollbackConfig": update,
    }


def progress(**kw) -> tasks.Progress:
    base = {"name": "s", "commit": "c", "want": 2, "ready": 1, "nodes": (), "old": 1, "update": "updating",
            "update_message": "", "errors": ()}
    return tasks.Progress(**(base | kw))


def test_when_a_way_back_is_resumed():
    assert resumable(progress(update="rollback_paused"))
    assert resumable(progress(update="paused"))
    assert resumable(progress(crashed=1))  # an old-spec task ended early: Swarm pauses, or has
    assert not resumable(progress(update="rollback_started"))  # still on its way: follow it
    assert not resumable(progress(ready=2, old=0, update="rollback_completed"))  # back
    assert not resumable(progress(ready=2, old=0, update="rollback_started", crashed=1))  # back, one died on the way


def test_a_paused_service_is_resumed_by_its_spec_sent_again(swarm_cluster, swarm_system, tmp_path):
    api = swarm_cluster.manager.api
    engine = SwarmEngine(swarm_cluster.manager, tmp_path)
    good = spec(swarm_system, "1", swarm_cluster.base_image, "exec sleep 600")
    sid = services.create(api, good)
    assert engine.follow(sid, 60).done
    # a failing update: Swarm pauses it with one slot tried (start-first: the old task still runs)
    services.replace(api, sid, spec(swarm_system, "2", swarm_cluster.base_image, "exit 1"))
    deadline = time.monotonic() + 60
    while (api.inspect_service(sid).get("UpdateStatus") or {}).get("State") != "paused":
        assert time.monotonic() < deadline, api.inspect_service(sid).get("UpdateStatus")
        time.sleep(0.2)
    engine.resume(sid, good)  # what restore sends when the way back stopped short
    seen = engine.follow(sid, 60, known=engine.task_ids(sid), back=True)
    assert seen.done, seen.explain()
    assert api.inspect_service(sid)["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["V=1"]
    running = [t for t in api.tasks(filters={"service": sid, "desired-state": "running"})
               if t["Status"]["State"] == "running"]
    assert len(running) == 2 and all(t["Spec"]["ContainerSpec"]["Env"] == ["V=1"] for t in running)
    engine.watch.close()  # not engine.close(): the client is the session's shared one
