"""The journal's account of requests still in flight (Unfinished.in_flight): a stop or drain
journaled as about to be sent, and not journaled as done, is what recovery must wait for.
Written and read through the real files (Journal, read)."""

from __future__ import annotations

from gitdeploy.deploy.journal import Journal, read


def test_a_request_sent_and_not_seen_done_is_in_flight(tmp_path):
    j = Journal(tmp_path)
    j.begin({"system": "shop", "target": "abc"})
    j.note(stage="deploy", step="web", sending="drain", replica=0, cid="aaaaaaaaaaaa", seconds=1.5)
    j.note(stage="deploy", step="web", op="drain", replica=0, cid="aaaaaaaaaaaa")
    j.note(stage="deploy", step="web", sending="stop", replica=0, cid="aaaaaaaaaaaa", seconds=10)
    j.note(stage="deploy", step="web", op="stop", replica=0, cid="aaaaaaaaaaaa")
    j.note(stage="deploy", step="api", sending="stop", replica=0, cid="bbbbbbbbbbbb", seconds=3)
    # the rollback stops the same container again: a second request of the same kind
    j.note(stage="rollback", step="web", sending="stop", replica=0, cid="aaaaaaaaaaaa", seconds=10)
    left = read(tmp_path)
    assert left is not None
    assert [(r["step"], r["sending"], r["cid"], r["seconds"]) for r in left.in_flight] == [
        ("api", "stop", "bbbbbbbbbbbb", 3), ("web", "stop", "aaaaaaaaaaaa", 10)]
    assert left.ops_done == 2  # `sending` lines are no engine actions done


def test_nothing_is_in_flight_once_every_request_is_seen_done(tmp_path):
    j = Journal(tmp_path)
    j.begin({"system": "shop", "target": "abc"})
    for kind in ("drain", "stop"):
        j.note(stage="deploy", step="web", sending=kind, replica=0, cid="aaaaaaaaaaaa", seconds=1)
        j.note(stage="deploy", step="web", op=kind, replica=0, cid="aaaaaaaaaaaa")
    left = read(tmp_path)
    assert left is not None and left.in_flight == ()
