"""The command line: `gitdeploy --help`. Commands live in small modules, imported on first use
(see COMMAND_MODULES in app.py)."""

import atexit
import os
import sys
import threading

from gitdeploy.cli.app import cli


def main() -> None:
    try:
        cli(prog_name="gitdeploy")
    except SystemExit as exc:
        if isinstance(exc.code, int | None):
            finish(exc.code or 0)
        raise


def finish(code: int) -> None:
    """End the process without tearing the interpreter down module by module (a tenth of a second
    or more for the ~600 modules a deploy loads), once a command is done: only when no other
    thread runs; the exit handlers (lock removals, logging) run and the streams are flushed first,
    as at a normal exit."""
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return  # a thread still works: the normal exit waits for it
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1  # output lost (a closed pipe): say so in the status, as Python would
    os._exit(code)
