"""bench/swarm.py's pure parts: the gitdeploy spec and the stack file describe the same services,
and the convergence check (the same for both tools) says no until every task runs the wanted spec.
No cluster: the spec goes through gitdeploy's own loader for the swarm engine, the stack file
through a YAML parser."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gitdeploy.spec.durations import parse_duration
from gitdeploy.spec.load import load_spec
from gitdeploy.spec.source import WorktreeSource

_PATH = Path(__file__).resolve().parents[2] / "bench" / "swarm.py"
_SPEC = importlib.util.spec_from_file_location("bench_swarm", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_swarm"] = bench  # dataclasses look their module up
_SPEC.loader.exec_module(bench)

IMAGE = "10.99.7.1:40000/gitdeploy/busybox:1"
BASE = bench.Variant(20, 2)
VARIANTS = {
    "fresh": BASE,
    "change-one": BASE.but({bench.CHANGED: "v1"}),
    "fail+rollback": BASE.but({bench.CHANGED: "v1", bench.GOOD: "v3"}, bad=bench.BAD, on_failure="rollback"),
    "fail-alone": BASE.but({bench.GOOD: "v4"}, bad=bench.BAD, on_failure="pause"),
}


@pytest.mark.parametrize("scenario", sorted(VARIANTS))
def test_stack_file_has_the_same_services_as_the_spec(tmp_path, scenario):
    v = VARIANTS[scenario]
    (tmp_path / "gitdeploy.yaml").write_text(bench.spec_yaml("benchsys", IMAGE, v))
    spec = load_spec(WorktreeSource(tmp_path), engine="swarm")
    stack = YAML(typ="safe").load(bench.stack_yaml(IMAGE, v))

    assert spec.system == "benchsys"
    assert str(stack["version"]).startswith("3")
    assert sorted(stack["services"]) == sorted(s.path for s in spec.services) == sorted(f"s{i}" for i in range(20))
    for s in spec.services:
        c = stack["services"][s.path]
        deploy, update = c["deploy"], c["deploy"]["update_config"]
        assert c["image"] == s.image == IMAGE
        assert tuple(c["command"]) == s.command
        assert dict(s.environment) == {k: str(x) for k, x in c["environment"].items()}
        assert c["init"] is s.init is True
        assert parse_duration(c["stop_grace_period"]) == s.stop_grace_period
        assert deploy["replicas"] == s.replicas == 2
        assert deploy["endpoint_mode"] == s.endpoint_mode == "dnsrr"
        assert deploy.get("mode", "replicated") == s.mode
        assert update["order"] == s.effective_order == "start-first"
        assert update["parallelism"] == s.rollout.parallelism == 1
        assert parse_duration(update["monitor"]) == s.rollout.monitor
        assert parse_duration(update["delay"]) == 0
        if s.path == f"s{v.bad}":
            assert update["failure_action"] == s.rollout.on_failure == v.on_failure
            assert s.command == bench.BAD_COMMAND
            assert s.rollout.monitor == 3.0
        else:
            assert update["failure_action"] == "pause"  # gitdeploy's own ServiceSpec pauses too
            assert s.command == bench.GOOD_COMMAND
            assert s.rollout.monitor == 0


def test_the_scenarios_change_what_they_say():
    base, changed = VARIANTS["fresh"], VARIANTS["change-one"]
    differ = [i for i in range(20) if (base.version(i), base.command(i)) != (changed.version(i), changed.command(i))]
    assert differ == [bench.CHANGED]
    failing = VARIANTS["fail+rollback"]
    differ = [i for i in range(20) if (changed.version(i), changed.command(i)) != (failing.version(i), failing.command(i))]
    assert differ == [bench.GOOD, bench.BAD]


# -- the convergence check ------------------------------------------------------------------


def _task(service_id: str, version: str, state: str = "running", desired: str = "running",
          command: tuple[str, ...] = bench.GOOD_COMMAND) -> dict:
    return {"ServiceID": service_id, "DesiredState": desired, "Status": {"State": state},
            "Spec": {"ContainerSpec": {"Env": [f"VERSION={version}", "GITDEPLOY_REPLICA=1"], "Args": list(command)}}}


def _services(update: str = "") -> dict:
    return {"s0": {"ID": "id0", "UpdateStatus": {"State": update} if update else None},
            "s1": {"ID": "id1"}}


WANT = {"s0": bench.Want("v1"), "s1": bench.Want("v0")}


def test_converged_when_every_task_runs_the_wanted_spec():
    tasks = [_task("id0", "v1"), _task("id0", "v1"), _task("id1", "v0"), _task("id1", "v0"),
             _task("id0", "v0", state="shutdown", desired="shutdown")]
    assert bench.not_converged(_services(), tasks, WANT, 2) is None


@pytest.mark.parametrize("tasks, why", [
    ([_task("id0", "v1"), _task("id0", "v0"), _task("id1", "v0"), _task("id1", "v0")], "s0: 1/2 tasks running at v1"),
    ([_task("id0", "v1"), _task("id0", "v1", state="starting"), _task("id1", "v0"), _task("id1", "v0")],
     "s0: 1/2 tasks running at v1"),
    ([_task("id0", "v1"), _task("id0", "v1"), _task("id0", "v0", desired="shutdown"), _task("id1", "v0"),
      _task("id1", "v0")], "s0: 1 task(s) still running another spec"),
    ([_task("id0", "v1"), _task("id0", "v1"), _task("id1", "v0")], "s1: 1/2 tasks running at v0"),
    ([_task("id0", "v1"), _task("id0", "v1", command=bench.BAD_COMMAND), _task("id1", "v0"), _task("id1", "v0")],
     "s0: 1/2 tasks running at v1"),
])
def test_not_converged_says_why(tasks, why):
    assert bench.not_converged(_services(), tasks, WANT, 2) == why


def test_more_tasks_than_replicas_all_at_the_spec_is_converged_and_said():
    tasks = [_task("id0", "v1"), _task("id0", "v1"), _task("id0", "v1"), _task("id1", "v0"), _task("id1", "v0")]
    assert bench.not_converged(_services(), tasks, WANT, 2) is None
    assert bench.surplus(_services(), tasks, 2) == ["s0: 3 tasks for 2 replicas"]
    assert bench.surplus(_services(), tasks[1:], 2) == []


def test_an_update_state_is_waited_for():
    tasks = [_task("id0", "v1"), _task("id0", "v1"), _task("id1", "v0"), _task("id1", "v0")]
    want = WANT | {"s0": bench.Want("v1", update="rollback_completed")}
    assert bench.not_converged(_services("rollback_started"), tasks, want, 2) == (
        "s0: update rollback_started, waiting for rollback_completed")
    assert bench.not_converged(_services("rollback_completed"), tasks, want, 2) is None
    only_paused = {"s0": bench.Want(tasks=False, update="paused")}
    assert bench.not_converged(_services("paused"), [], only_paused, 2) is None
    assert bench.not_converged({}, [], only_paused, 2) == "s0: no such service yet"
