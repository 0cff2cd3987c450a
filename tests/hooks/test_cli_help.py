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
    cli.load_all()
    runner = CliRunner()
    missing = []
    for path, _cmd in commands(cli):
        out = runner.invoke(cli, [*path, "--help"])
        assert out.exit_code == 0, (path, out.output)
        if "Example" not in out.output:
            missing.append(" ".join(path))
    assert missing == []


def test_lazy_command_table_matches_the_modules():
    """Every command a module defines is in COMMAND_MODULES under that module, and vice versa."""
    from gitdeploy.cli.app import COMMAND_MODULES

    cli.load_all()
    defined = {name: cmd.callback.__module__.rsplit(".", 1)[-1] for name, cmd in cli.commands.items()}
    assert defined == COMMAND_MODULES
