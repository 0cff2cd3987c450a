"""Replica assignment without an engine: which container is replica i, which are surplus, which
stopped one starts again - and the planner and the verification agreeing on it."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from gitdeploy.deploy.verify import verify
from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.diff import diff
from gitdeploy.plan.replicas import assign, newest
from gitdeploy.spec.identity import Desired, definition_of, hash_definition
from gitdeploy.spec.model import Service

H, OLD = "h" * 64, "o" * 64


def c(id_: str, replica: int, created: float, state: str = "running", hash_: str = H) -> LiveContainer:
    return LiveContainer(id=id_, name=f"web.{replica}.{id_}", service="web", replica=replica, hash=hash_,
                         commit="", state=state, health="none", image_id="", created=created)


def test_the_newest_running_container_serves_an_index_and_the_rest_is_surplus():
    a = assign([c("r1-old", 1, 10), c("r1-new", 1, 20), c("r2", 2, 5), c("r3", 3, 30)], H, 2)
    assert {i: x.id for i, x in a.kept.items()} == {1: "r1-new", 2: "r2"}
    assert [x.id for x in a.surplus] == ["r1-old", "r3"]  # by index; a duplicate, then beyond the replicas
    assert a.unserved == a.missing == () and not a.startable and not a.old
    assert [x.id for x in a.running_at_target] == ["r1-new", "r2", "r1-old", "r3"]


def test_an_unserved_index_starts_its_newest_stopped_container_or_is_missing():
    a = assign([c("s1-old", 1, 10, "exited"), c("s1-new", 1, 20, "exited"), c("s2", 2, 5, "exited"),
                c("r2", 2, 1), c("s9", 9, 50, "exited"), c("c1", 1, 60, "created")], H, 3)
    assert {i: x.id for i, x in a.kept.items()} == {2: "r2"}
    assert {i: x.id for i, x in a.startable.items()} == {1: "c1"}  # never started counts as stopped
    assert [x.id for x in a.spare] == ["s9", "s1-new", "s1-old", "s2"]  # newest first
    assert a.missing == (3,) and a.unserved == (1, 3)


def test_other_revisions_running_are_old_and_stopped_ones_are_left_alone():
    a = assign([c("old-run", 1, 1, hash_=OLD), c("old-kept", 1, 2, "exited", hash_=OLD),
                c("paused", 2, 3, "paused", hash_=OLD)], H, 1)
    assert [x.id for x in a.old] == ["old-run", "paused"]
    assert not a.kept and not a.spare and not a.startable and a.missing == (1,)
    assert newest(a.old).id == "paused"


containers = st.lists(
    st.builds(c, st.uuids().map(lambda u: u.hex[:8]), st.integers(0, 4), st.integers(0, 5).map(float),
              st.sampled_from(["running", "exited", "created", "restarting"]), st.sampled_from([H, OLD])),
    max_size=8, unique_by=lambda x: x.id)


@settings(max_examples=300)
@given(containers, st.integers(0, 3))
def test_every_container_at_the_target_has_exactly_one_role(cs, replicas):
    a = assign(cs, H, replicas)
    at = [x for x in cs if x.hash == H]
    roles = [*a.kept.values(), *a.surplus, *a.startable.values(), *a.spare]
    assert sorted(x.id for x in roles) == sorted(x.id for x in at)
    assert set(a.kept) | set(a.startable) | set(a.missing) == set(range(1, replicas + 1))
    assert len(a.kept) + len(a.startable) + len(a.missing) == replicas
    for i, x in a.kept.items():
        assert x.running and x.replica == i
        assert x.created == max(y.created for y in at if y.running and y.replica == i)
    for i, x in a.startable.items():
        assert not x.running and x.replica == i and i not in a.kept
        assert x.created == max(y.created for y in at if not y.running and y.replica == i)
    assert {x.id for x in a.old} == {x.id for x in cs if x.hash != H and x.running}


def desired(replicas: int) -> Desired:
    s = Service("web", image="x", replicas=replicas)
    definition = definition_of(s, "sha256:" + "a" * 64, {})
    return Desired(s, "sha256:" + "a" * 64, definition, hash_definition(definition))


@settings(max_examples=300)
@given(containers, st.integers(0, 3))
def test_the_planner_and_the_verification_agree(cs, replicas):
    """Where every running container is fit (a restarting one is not: the healer's business), the
    verification passes exactly when the plan has nothing to do, and counts the replicas it keeps."""
    d = desired(replicas)
    cs = [replace(x, hash=d.hash if x.hash == H else x.hash, state="running" if x.running else x.state)
          for x in cs]
    live = Live("s", "production", tuple(cs))
    (change,) = diff([d], live)
    checked = verify([d], live)
    assert checked.ok == (change.action == "unchanged")
    assert checked.at_target == replicas - len(change.start) - len(change.create)
    a = assign(cs, d.hash, replicas)
    assert change.create == a.missing and [i for _, i in change.start] == list(a.startable)
    assert set(change.retire) == {x.id for x in (*a.old, *a.surplus)}
