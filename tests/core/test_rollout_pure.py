"""The rollout (plan.rollout) and the health gate (deploy.health) as pure decisions: no engine."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gitdeploy.deploy.health import EngineEvent, FinalState, decide
from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.model import GateSpec, Op, ServiceChange
from gitdeploy.plan.rollout import Kept, prunable, restore_plan, rollout

GATE = GateSpec(True, 0, 30)


def change(action="replace", start=(), create=(), retire=()) -> ServiceChange:
    return ServiceChange("web", action, "", "h", len(retire), len(start) + len(create), start=tuple(start),
                         create=tuple(create), retire=tuple(retire))


def kinds(phases) -> list[list[str]]:
    return [[op.kind for op in phase] for phase in phases]


def test_start_first_replace_brings_each_batch_up_held_back_then_drains_as_many_old_ones():
    phases = rollout(change(create=(1, 2, 3), retire=("o1", "o2", "o3")), "start-first", 2, GATE, drain=1.5)
    assert kinds(phases) == [
        ["create", "create"], ["start", "start"], ["gate", "gate"], ["publish", "publish"],
        ["drain", "drain"], ["stop", "stop"],
        ["create"], ["start"], ["gate"], ["publish"], ["drain"], ["stop"],
    ]
    assert all(op.hold_back for op in phases[0])
    assert [op.container for op in phases[4]] == ["o1", "o2"] and phases[4][0].seconds == 1.5
    assert all(op.rejoin for op in phases[5])  # kept for rollback with its aliases


def test_stop_first_replace_stops_before_it_creates_and_publishes_at_once():
    phases = rollout(change(create=(1, 2), retire=("o1", "o2")), "stop-first", 1, GATE)
    assert kinds(phases) == [["stop"], ["create"], ["start"], ["gate"], ["stop"], ["create"], ["start"], ["gate"]]
    assert not any(op.hold_back for op in phases[1])


def test_kept_containers_start_instead_of_new_ones_and_surplus_stops_last():
    phases = rollout(change(start=(("k1", 1),), create=(2,), retire=("o1", "o2", "o3")), "start-first", 2, GATE)
    assert phases[0] == (Op("create", replica=2, hold_back=True),)
    assert phases[1] == (Op("start", replica=1, container="k1"), Op("start", replica=2))
    assert phases[-1] == (Op("stop", container="o3", seconds=10.0),)  # one more old than new


def test_scale_and_remove():
    assert kinds(rollout(change("scale", create=(2, 3)), "start-first", 1, GATE)) == [
        ["create", "create"], ["start", "start"], ["gate", "gate"]]
    assert kinds(rollout(change("scale", retire=("x",)), "start-first", 1, GATE)) == [["stop"]]
    assert kinds(rollout(change("remove", retire=("a", "b")), "stop-first", 1)) == [["stop", "stop"]]


@settings(max_examples=200, deadline=None)
@given(
    n_start=st.integers(0, 3), n_create=st.integers(0, 5), n_old=st.integers(0, 6), parallelism=st.integers(1, 4),
    order=st.sampled_from(["start-first", "stop-first"]),
)
def test_every_replica_comes_up_once_and_every_old_one_stops_once(n_start, n_create, n_old, parallelism, order):
    start = [(f"k{i}", i + 1) for i in range(n_start)]
    create = list(range(n_start + 1, n_start + n_create + 1))
    old = [f"o{i}" for i in range(n_old)]
    ops = [op for phase in rollout(change(start=start, create=create, retire=old), order, parallelism, GATE)
           for op in phase]
    started = sorted(op.replica for op in ops if op.kind == "start")
    assert started == sorted([r for _, r in start] + create)
    assert sorted(op.replica for op in ops if op.kind == "gate") == started
    assert sorted(op.container for op in ops if op.kind == "stop") == sorted(old)
    for r in create:  # created before started, gated after
        kinds_of_r = [op.kind for op in ops if op.replica == r and not op.container]
        assert kinds_of_r[:3] == ["create", "start", "gate"]
    if order == "start-first":  # never fewer serving than before: an old one stops only after a new one
        up = down = 0
        for op in ops:
            up += op.kind == "gate"
            down += op.kind == "stop"
            assert down <= up or down > len(started)


def lc(cid, service="web", replica=1, h="a", state="running", created=0.0) -> LiveContainer:
    return LiveContainer(cid, cid, service, replica, h, "c", state, "none", "img", created)


def test_prune_keeps_the_newest_revisions_counting_what_the_plan_retires():
    live = [lc("new", h="t"), lc("r1", h="b", created=3), lc("s1", h="c", state="exited", created=2),
            lc("s2", h="d", state="exited", created=1)]
    assert prunable(live, ["r1"], {"web": "t"}, keep=2) == ["s2"]
    assert prunable(live, [], {"web": "t"}, keep=1) == ["s2"]


def test_restore_plan_starts_what_ran_before_then_stops_the_rest():
    live = Live("s", "e", (lc("old1", state="exited"), lc("old2"), lc("new1", h="b")))
    before = [Kept("old1", "web", 1, True), Kept("old2", "web", 2, False)]
    plan = restore_plan("s", "e", live, before, {"old2": False, "new1": True})
    (step,) = plan.steps
    assert kinds(step.rollout) == [["start"], ["gate"], ["publish"], ["stop"]]
    assert step.rollout[1][0].gate.healthcheck and step.rollout[3][0].container == "new1"


# -- the health gate ----------------------------------------------------------------------------

def ev(t, action, code=""):
    return EngineEvent(t, action, code)


def test_health_gate_decisions():
    hc, plain = GateSpec(True, 5, 30), GateSpec(False, 5, 30)
    assert decide(hc, [ev(10.1, "health_status: healthy")], 10).ok
    assert decide(hc, [ev(10.1, "health_status: unhealthy")], 10) == decide(hc, [], 10)  # still open
    assert not decide(hc, [], 10).done
    died = decide(plain, [ev(11, "die", "3")], 10)
    assert died.done and not died.ok and died.detail == "exited with code 3"
    assert decide(plain, [ev(9, "die", "0")], 10).done is False  # the stop before this start
    assert not decide(hc, [ev(11, "oom")], 10).ok
    assert decide(plain, [], 10, FinalState(True)).detail == "running for 5s"
    assert not decide(hc, [], 10, FinalState(True, health="starting")).ok
    assert "exit code 1" in decide(plain, [], 10, FinalState(False, status="exited", exit_code=1)).detail
    assert decide(GateSpec(False, 0, 30), [], 10).detail == "started"
