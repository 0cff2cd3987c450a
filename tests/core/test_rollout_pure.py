"""The rollout (plan.rollout) and the health gate (deploy.health) as pure decisions: no engine."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gitdeploy.deploy.execute import _chains
from gitdeploy.deploy.health import EngineEvent, FinalState, decide
from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.model import GateSpec, Op, ServiceChange
from gitdeploy.plan.rollout import (
    Kept,
    batch_sizes,
    batches,
    describe_batches,
    prunable,
    restore_plan,
    rollout,
)

GATE = GateSpec(True, 0, 30)


def change(action="replace", start=(), create=(), retire=()) -> ServiceChange:
    return ServiceChange("web", action, "", "h", len(retire), len(start) + len(create), start=tuple(start),
                         create=tuple(create), retire=tuple(retire))


def kinds(phases) -> list[list[str]]:
    return [[op.kind for op in phase] for phase in phases]


def test_start_first_replace_brings_each_batch_up_held_back_then_drains_as_many_old_ones():
    phases = rollout(change(create=(1, 2, 3), retire=("o1", "o2", "o3")), "start-first", 2, GATE, drain=1.5)
    # the next batch is created during a gate and started as soon as it passed; old ones are
    # drained, then stopped, during the next gate - never before the batch replacing them passed
    # its gate and was published
    assert kinds(phases) == [
        ["create", "create"], ["start", "start"], ["gate", "gate", "create"], ["publish", "publish", "start"],
        ["gate", "drain", "stop", "drain", "stop"], ["publish"], ["drain", "stop"],
    ]
    assert all(op.hold_back for op in phases[0] + phases[2][2:])
    assert [op.container for op in phases[4][1:]] == ["o1", "o1", "o2", "o2"] and phases[4][1].seconds == 1.5
    assert all(op.rejoin for op in phases[4][2::2] + phases[6][1:])  # kept for rollback with its aliases
    assert batches(phases) == [[1, 2], [3]]


def test_stop_first_replace_stops_before_it_creates_and_publishes_at_once():
    phases = rollout(change(create=(1, 2), retire=("o1", "o2")), "stop-first", 1, GATE)
    assert kinds(phases) == [["stop"], ["create"], ["start"], ["gate"], ["stop"], ["create"], ["start"], ["gate"]]
    assert not any(op.hold_back for op in phases[1])


def test_kept_containers_start_instead_of_new_ones_and_surplus_stops_last():
    phases = rollout(change(start=(("k1", 1),), create=(2,), retire=("o1", "o2", "o3")), "start-first", 2, GATE)
    assert phases[0] == (Op("create", replica=2, hold_back=True),)
    assert phases[1] == (Op("start", replica=1, container="k1"), Op("start", replica=2))
    assert phases[-1] == (Op("stop", container="o3", seconds=10.0),)  # one more old than new


def test_canary_then_the_rest_at_once_by_default():
    old = tuple(f"o{i}" for i in range(8))
    phases = rollout(change(create=range(1, 9), retire=old), "start-first", None, GATE, drain=1.5, canary=1)
    assert batches(phases) == [[1], [2, 3, 4, 5, 6, 7, 8]]  # two gate windows, not eight
    assert kinds(phases) == [["create"], ["start"], ["gate"] + ["create"] * 7, ["publish"] + ["start"] * 7,
                             ["gate"] * 7 + ["drain", "stop"], ["publish"] * 7, ["drain", "stop"] * 7]
    assert [op.container for op in phases[4] if op.kind == "drain"] == ["o0"]  # the canary replaces one only
    assert [op.container for op in phases[-1] if op.kind == "stop"] == list(old[1:])
    assert describe_batches(phases, 1) == "replica 1 alone (canary), then 2-8 together"


def test_canary_batches_of_parallelism_and_canary_off():
    old = tuple(f"o{i}" for i in range(5))
    with_canary = rollout(change(create=range(1, 6), retire=old), "stop-first", 2, GATE, canary=1)
    assert batches(with_canary) == [[1], [2, 3], [4, 5]]
    assert kinds(with_canary)[:4] == [["stop"], ["create"], ["start"], ["gate"]]  # stop-first keeps its order
    off = rollout(change(create=range(1, 6), retire=old), "start-first", 2, GATE, canary=0)
    assert batches(off) == [[1, 2], [3, 4], [5]]
    assert describe_batches(off, 0) == "replicas 1, 2 together, then 3, 4 together, then 5"
    assert batches(rollout(change(create=range(1, 6), retire=old), "start-first", None, GATE)) == [[1, 2, 3, 4, 5]]
    assert describe_batches(rollout(change(create=(1,), retire=("o",)), "start-first", None, GATE, canary=1), 1) == ""


def test_batch_sizes():
    assert batch_sizes(8, 1, None) == [1, 7]
    assert batch_sizes(8, 1, 3) == [1, 3, 3, 1]
    assert batch_sizes(8, 0, None) == [8]
    assert batch_sizes(8, 0, 1) == [1] * 8
    assert batch_sizes(2, 5, None) == [2]  # a canary larger than the service: one batch
    assert batch_sizes(1, 1, None) == [1]
    assert batch_sizes(0, 1, None) == []


def test_scale_and_remove():
    assert kinds(rollout(change("scale", create=(2, 3)), "start-first", 1, GATE)) == [
        ["create", "create"], ["start", "start"], ["gate", "gate"]]
    assert kinds(rollout(change("scale", retire=("x",)), "start-first", 1, GATE)) == [["stop"]]
    assert kinds(rollout(change("remove", retire=("a", "b")), "stop-first", 1)) == [["stop", "stop"]]


@settings(max_examples=200, deadline=None)
@given(
    n_start=st.integers(0, 3), n_create=st.integers(0, 5), n_old=st.integers(0, 6),
    parallelism=st.none() | st.integers(1, 4), canary=st.integers(0, 3),
    order=st.sampled_from(["start-first", "stop-first"]),
)
def test_every_replica_comes_up_once_and_every_old_one_stops_once(n_start, n_create, n_old, parallelism, canary,
                                                                   order):
    start = [(f"k{i}", i + 1) for i in range(n_start)]
    create = list(range(n_start + 1, n_start + n_create + 1))
    old = [f"o{i}" for i in range(n_old)]
    phases = rollout(change(start=start, create=create, retire=old), order, parallelism, GATE, canary=canary)
    ops = [op for phase in phases for op in phase]
    if start or create:  # batches: the canary alone first, then at most `parallelism` at a time
        sizes = [len(b) for b in batches(phases)]
        assert sizes == batch_sizes(len(start) + len(create), canary, parallelism)
        if canary:
            assert sizes[0] == min(canary, len(start) + len(create))
    started = sorted(op.replica for op in ops if op.kind == "start")
    assert started == sorted([r for _, r in start] + create)
    assert sorted(op.replica for op in ops if op.kind == "gate") == started
    assert sorted(op.container for op in ops if op.kind == "stop") == sorted(old)
    for r in create:  # created before started, gated after
        kinds_of_r = [op.kind for op in ops if op.replica == r and not op.container]
        assert kinds_of_r[:3] == ["create", "start", "gate"]
    # nothing of a batch starts before every earlier batch passed its gate (the canary first)
    gated_in = {op.replica: k for k, phase in enumerate(phases) for op in phase if op.kind == "gate"}
    started_in = {op.replica: k for k, phase in enumerate(phases) for op in phase if op.kind == "start"}
    groups = batches(phases)
    for b, group in enumerate(groups[1:], 1):
        assert min(started_in[r] for r in group) > max(gated_in[r] for g in groups[:b] for r in g)
    if order == "start-first" and start + create:
        # an old replica is drained and stopped in one phase, in that order (see execute._chains):
        # no phase ends with an old replica out of DNS but still running
        for phase in phases:
            drained = [op.container for op in phase if op.kind == "drain"]
            stopped = [op.container for op in phase if op.kind == "stop"]
            assert set(drained) <= set(stopped)
            for cid in drained:
                assert [op.kind for op in phase if op.container == cid] == ["drain", "stop"]
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


def test_the_runner_chains_the_ops_of_one_container_and_runs_the_rest_at_once():
    phase = (Op("gate", replica=2, gate=GATE), Op("drain", container="o1"), Op("drain", container="o2"),
             Op("stop", container="o1"), Op("create", replica=3), Op("stop", container="o2"))
    assert [[(op.kind, op.container or op.replica) for op in c] for c in _chains(phase)] == [
        [("gate", 2)], [("drain", "o1"), ("stop", "o1")], [("drain", "o2"), ("stop", "o2")], [("create", 3)]]
