"""The pure parts of drift on a cluster (gitdeploy.heal.swarm): Swarm's words in the spec's words, its clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gitdeploy.heal.swarm import field_words, timestamp


def test_swarm_fields_are_named_in_the_spec_words():
    assert field_words("TaskTemplate.ContainerSpec.Env.LOG_LEVEL") == "environment.LOG_LEVEL"
    assert field_words("TaskTemplate.ContainerSpec.Image") == "image"
    assert field_words("TaskTemplate.ContainerSpec.Args") == "command"
    assert field_words("TaskTemplate.ContainerSpec.Hostname") == "container.Hostname"
    assert field_words("TaskTemplate.RestartPolicy.Condition") == "restart.Condition"
    assert field_words("Mode.Replicated.Replicas") == "replicas"
    assert field_words("EndpointSpec.Ports") == "ports"
    assert field_words("Labels.team") == "service labels.team"
    # a prefix is a whole part: ModeX is not Mode
    assert field_words("ModeX") == "ModeX"


def test_swarm_timestamps_with_nanoseconds_are_read():
    want = datetime(2026, 11, 29, 20, 17, 18, 743700, tzinfo=UTC).timestamp()
    assert timestamp("2026-11-29T20:17:18.74370022Z") == want
    assert timestamp("2026-11-29T20:17:18Z") == pytest.approx(want - 0.7437)
    assert timestamp("0001-01-01T00:00:00Z") < 0
    assert timestamp("") == 0.0


def test_a_node_host_that_is_not_node_equals_host_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from gitdeploy.cli import cli

    out = CliRunner().invoke(cli, ["--repo", str(tmp_path), "--data-dir", str(tmp_path / "data"), "check",
                                   "--node-host", "node2"])
    assert out.exit_code == 2 and "'node2' is not NODE=HOST" in out.output
