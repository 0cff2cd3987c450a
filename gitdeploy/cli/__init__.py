"""The command line: `gitdeploy --help`. Commands live in small modules, imported on first use
(see COMMAND_MODULES in app.py)."""

from gitdeploy.cli.app import cli


def main() -> None:
    cli(prog_name="gitdeploy")
