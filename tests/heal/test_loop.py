"""The self-healing loop against the real engine: events, repairs, flapping, restarts."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from gitdeploy import pipeline
from gitdeploy.deploy.freeze import freeze, unfreeze
from gitdeploy.heal import Policy, Watcher, check
from gitdeploy.live import labels
from gitdeploy.live.enginelock import Holder
from tests.heal.helpers import SLEEP, containers, svc, wait_for

pytestmark = pytest.mark.docker

FAST = Policy(backoff=0.2, backoff_max=1.0, max_attempts=3, window=60.0)


def running_ids(client, system, service):
    return {c.id for c in containers(client, system, service)}


@pytest.fixture
def small(spec_repo, system_name):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"a": svc(), "b": svc()}}})
    ctx = spec_repo.ctx()
    result = pipeline.deploy(ctx)
    assert result.ok, result.failure
    return ctx


def test_killed_container_is_replaced_in_heal_mode(small, docker_client, system_name):
    events = []
    w = Watcher(small, mode="heal", interval=60, policy=FAST, on_event=events.append)
    w.start()
    try:
        assert w.listening.wait(10) and wait_for(lambda: w.last_report is not None, 10)
        (victim,) = containers(docker_client, system_name, "a")
        killed = time.monotonic()
        victim.kill()
        assert wait_for(lambda: w.last_report.drifts == () and running_ids(docker_client, system_name, "a")
                        and any(e.kind == "repaired" for e in events), 10), events
        # how fast is measured in bench/heal.py (a timing bound here only measures the machine's load)
        print(f"killed -> running again in {time.monotonic() - killed:.2f}s")
        assert [e.service for e in events if e.kind == "repaired"] == ["a"]
        assert running_ids(docker_client, system_name, "b")  # b was left alone
    finally:
        w.stop()


def test_report_mode_reports_and_does_not_repair(small, docker_client, system_name):
    events = []
    w = Watcher(small, mode="report", interval=60, policy=FAST, on_event=events.append)
    w.start()
    try:
        assert w.listening.wait(10) and wait_for(lambda: w.last_report is not None, 10)
        (victim,) = containers(docker_client, system_name, "a")
        victim.kill()
        assert wait_for(lambda: any(e.kind == "drift" and e.service == "a" for e in events), 5)
        assert w.counts()["exited"] == 1
        time.sleep(1.0)
        assert not running_ids(docker_client, system_name, "a")
        assert not [e for e in events if e.kind.startswith("repair")]
    finally:
        w.stop()


def test_extra_labeled_container_is_removed_in_heal_mode(small, docker_client, system_name, base_image):
    events = []
    w = Watcher(small, mode="heal", interval=60, policy=FAST, on_event=events.append)
    w.start()
    try:
        assert w.listening.wait(10) and wait_for(lambda: w.last_report is not None, 10)
        lab = {labels.SYSTEM: system_name, labels.ENV: "production", labels.SERVICE: "intruder"}
        extra = docker_client.containers.run(base_image, SLEEP, detach=True, labels=lab, init=True)
        w.poke()  # a new container starting is no event the loop listens to; the interval would find it
        assert wait_for(lambda: any(e.kind == "repaired" and e.service == "intruder" for e in events), 10)
        extra.reload()
        assert extra.status == "exited"
        assert w.last_report.clean
    finally:
        w.stop()


# Its first container stays up; started again (a repair) it finds its mark in the volume and exits
# at once, so every repair fails its health gate.
CRASH_ON_RESTART = ["sh", "-c", "if [ -e /data/up ]; then exit 3; fi; touch /data/up; exec sleep 3600"]


def test_a_service_whose_repairs_fail_backs_off_then_is_given_up(spec_repo, system_name, docker_client):
    crash = svc(command=CRASH_ON_RESTART, restart="no", volumes=["marks:/data"])
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"crash": crash, "ok": svc()}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    (victim,) = containers(docker_client, system_name, "crash")
    victim.kill()
    events = []
    w = Watcher(ctx, mode="heal", interval=0.5, policy=FAST, on_event=events.append)
    started = time.monotonic()
    w.start()
    try:
        # the state flips just before the event is emitted, on the watcher's thread: wait for both
        assert wait_for(lambda: "crash" in w.given_up() and any(e.kind == "gave-up" for e in events), 60), events
        gave_up_after = time.monotonic() - started
        repairs = [e for e in events if e.kind == "repair"]
        assert len(repairs) == FAST.max_attempts
        assert len([e for e in events if e.kind == "repair-failed"]) == FAST.max_attempts
        gaps = [b.time - a.time for a, b in zip(repairs, repairs[1:], strict=False)]
        assert all(g >= 0.19 for g in gaps), gaps  # backed off
        assert any(e.kind == "gave-up" and e.loud and "crash" in e.message and "3 failed repairs" in e.message
                   for e in events)
        time.sleep(2.0)  # no more repairs once given up
        assert len([e for e in events if e.kind == "repair"]) == FAST.max_attempts
        assert w.counts()["exited"] == 1
        print(f"gave up after {gave_up_after:.1f}s, gaps {[round(g, 2) for g in gaps]}")
    finally:
        w.stop()
    # the give-up survives a restart of the watcher, and so does the drift
    again = Watcher(ctx, mode="heal", interval=60, policy=FAST)
    assert again.given_up() == ["crash"]
    assert again.counts()["exited"] == 1
    again.run_once()
    assert again.given_up() == ["crash"]
    assert running_ids(docker_client, system_name, "ok")


def test_successful_repairs_never_make_it_give_up(small, docker_client, system_name):
    # more repairs in one window than max_attempts, each of which works: the README promises a
    # give-up after failed repairs only
    events = []
    w = Watcher(small, mode="heal", interval=60, policy=FAST, on_event=events.append)
    w.start()
    try:
        assert w.listening.wait(10) and wait_for(lambda: w.last_report is not None, 10)
        for n in range(1, FAST.max_attempts + 2):
            (victim,) = containers(docker_client, system_name, "a")
            victim.kill()
            assert wait_for(lambda n=n: len([e for e in events if e.kind == "repaired"]) == n
                            and running_ids(docker_client, system_name, "a"), 20), events
        assert not w.given_up()
        assert not [e for e in events if e.kind in ("gave-up", "repair-failed")]
        assert len([e for e in events if e.kind == "repair"]) == FAST.max_attempts + 1
        assert w.state.services["a"].failures == []
    finally:
        w.stop()


def test_a_repair_refused_by_a_lock_or_a_freeze_is_skipped_not_failed(small, docker_client, system_name):
    # the drift was seen before another deploy took the engine's lock (or the environment was
    # frozen): the repair is refused by type (Locked, Frozen), never counted as a failed repair
    events = []
    w = Watcher(small, mode="heal", interval=60, policy=FAST, on_event=events.append)
    (victim,) = containers(docker_client, system_name, "a")
    victim.kill()
    target = w._load_target()
    report = check(small, target)
    assert report.services == {"a"} and not report.deploying and not report.frozen
    other = replace(small, data_dir=small.data_dir.parent / "other-data")  # a deploy from elsewhere
    with other.engine().hold_lock(system_name, "production", Holder.here("push: deploy HEAD", "carol@ci")):
        w._heal(report, target)
    freeze(small.data_dir, "production", "incident 9", who="dave@ops")
    try:
        w._heal(report, target)
    finally:
        unfreeze(small.data_dir, "production")
    skipped = [e.message for e in events if e.kind == "skipped"]
    assert len(skipped) == 2 and "carol@ci" in skipped[0] and "frozen by dave@ops" in skipped[1], events
    assert not [e for e in events if e.kind in ("repair-failed", "gave-up")]
    a = w.state.services["a"]
    assert a.failures == [] and a.attempts == [] and a.next_attempt == 0.0
    assert not running_ids(docker_client, system_name, "a")  # nothing was touched


def test_state_survives_recreating_the_watcher(small, docker_client, system_name):
    notices = []
    w = Watcher(small, mode="report", interval=60, policy=FAST, notify=notices.append)
    (victim,) = containers(docker_client, system_name, "b")
    victim.kill()
    w.run_once()
    assert w.counts()["exited"] == 1 and len(notices) == 1
    first_seen = dict(w.state.first_seen)

    w2 = Watcher(small, mode="report", interval=60, policy=FAST, notify=notices.append)
    assert w2.counts()["exited"] == 1
    w2.run_once()
    assert w2.state.first_seen == first_seen  # the same drift, first seen when it first was
    assert len(notices) == 1  # not notified twice for the same drift

    w3 = Watcher(small, mode="heal", interval=60, policy=FAST, notify=notices.append)
    w3.run_once()
    assert w3.last_report.clean
    assert notices[-1].resolved and len(notices) == 2
