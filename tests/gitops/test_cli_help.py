"""Every command's --help ends with an example."""

from __future__ import annotations

import click
from click.testing import CliRunner

from gitdeploy.cli import cli


def commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in sorted(group.commands.items()):
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, prefix + (name,))


def test_every_command_has_an_example_in_its_help():
    runner = CliRunner()
    missing = []
    for path, _cmd in commands(cli):
        out = runner.invoke(cli, [*path, "--help"])
        assert out.exit_code == 0, (path, out.output)
        if "Example" not in out.output:
            missing.append(" ".join(path))
    assert missing == []
