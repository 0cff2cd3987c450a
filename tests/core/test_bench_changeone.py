"""bench/changeone.py's pure parts: the client's lines are parsed, the failed requests of a change are
counted in [tool start, tool exit + 2 s] and the first answer at the new version is found, the verdict
needs both the time and zero failures, and the gitdeploy spec and the compose file describe the same
services (the spec through gitdeploy's own loader, with `monitor: 0s` and the default drain). No engine."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

from ruamel.yaml import YAML

from gitdeploy.spec.load import load_spec
from gitdeploy.spec.source import WorktreeSource

_PATH = Path(__file__).resolve().parents[2] / "bench" / "changeone.py"
_SPEC = importlib.util.spec_from_file_location("bench_changeone", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_changeone"] = bench  # dataclasses look their module up
_SPEC.loader.exec_module(bench)

LOG = """ok 1 100.00 100.01 v1
FAIL 1 100.01 100.50 exit1
ok 2 99.00 100.20 v1
garbage line
ok 1 100.50 100.52 v2
FAIL 2 105.10 105.20 exit143
FAIL 1 99.10 99.20 exit1
ok 1 106.00 106.01 v2
FAIL 1 1
end
"""


def test_parse_lines_keeps_requests_and_skips_the_rest():
    reqs = bench.parse_lines(LOG)
    assert len(reqs) == 7
    assert reqs[1] == bench.Request(False, 1, 100.01, 100.50, "exit1")
    assert reqs[2] == bench.Request(True, 2, 99.0, 100.2, "v1")


def test_count_takes_the_window_from_tool_start_to_exit_plus_tail():
    # tool from 100.0 to 103.0: the window ends at 105.0
    fig = bench.count(bench.parse_lines(LOG), 100.0, 103.0, "v2")
    assert fig.seconds == 3.0
    # in: the three at ~100 (one in flight at the start); out: the failure before (99.1-99.2), the
    # failure after 105 and the late ok
    assert fig.requests == 4
    assert fig.failed == 1 and fig.failures[0].body == "exit1"
    assert abs(fig.first_new - 0.52) < 1e-9
    assert abs(fig.slowest - 1.2) < 1e-9  # loop 2's request from 99.0 to 100.2, in flight at the start


def test_count_without_an_answer_at_the_new_version():
    fig = bench.count(bench.parse_lines(LOG), 100.0, 103.0, "v9")
    assert fig.first_new is None


def _fig(seconds, failed):
    return bench.RunFigures(seconds, failed, 100, 1.0, ())


def test_verdict_needs_the_time_and_zero_failed_requests():
    compose = [_fig(2.0, 10), _fig(2.2, 12), _fig(1.8, 9)]
    assert bench.verdict([_fig(2.3, 0), _fig(2.4, 0), _fig(9.0, 0)], compose) == (1.2, True)
    ratio, ok = bench.verdict([_fig(2.3, 0), _fig(2.4, 1), _fig(2.0, 0)], compose)
    assert ratio < 1.2 and not ok  # one dropped request fails the target
    assert bench.verdict([_fig(2.5, 0)] * 3, compose)[1] is False


def test_spec_and_compose_file_describe_the_same_services(tmp_path):
    (tmp_path / "gitdeploy.yaml").write_text(bench.spec_yaml("benchsys", 5, "v2"))
    spec = load_spec(WorktreeSource(tmp_path))
    compose = YAML(typ="safe").load(bench.compose_yaml(5, "v2"))["services"]
    services = {s.path: s for s in spec.services}
    assert sorted(services) == sorted(compose) == ["s1", "s2", "s3", "s4", "web"]
    for path, s in services.items():
        c = compose[path]
        assert s.image == c["image"] and s.command == tuple(c["command"]) and s.init is c["init"] is True
        assert dict(s.environment) == c.get("environment", {})
        assert s.replicas == 1 and s.healthcheck is None and s.rollout.monitor == 0
    web = services["web"]
    assert dict(web.environment) == {"VERSION": "v2"}
    assert "$" not in web.command[-1]  # Compose would interpolate it
    (tmp_path / "gitdeploy.yaml").write_text("system: plain\nservices:\n  a:\n    image: x\n")
    defaults = load_spec(WorktreeSource(tmp_path)).services[0].rollout
    assert web.rollout == dataclasses.replace(defaults, monitor=0.0)  # nothing else tuned
