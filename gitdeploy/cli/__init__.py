"""The command line: `gitdeploy --help`. Each module adds its commands to the one group."""

from gitdeploy.cli import (
    core,  # noqa: F401 - registers commands
    gitops,  # noqa: F401 - registers commands
    heal,  # noqa: F401 - registers commands
    safety,  # noqa: F401 - registers commands
    serve,  # noqa: F401 - registers commands
)
from gitdeploy.cli.app import cli


def main() -> None:
    cli(prog_name="gitdeploy")
