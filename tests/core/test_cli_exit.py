"""The CLI ends its process without the interpreter's slow teardown (gitdeploy.cli.finish), but
only as a normal exit would: exit handlers run, output is flushed, the status is the command's,
and a thread still at work is waited for."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_finish_runs_the_exit_handlers_flushes_and_keeps_the_status():
    proc = run("import atexit, sys\nfrom gitdeploy.cli import finish\n"
               "atexit.register(lambda: print('handler ran'))\n"
               "sys.stdout.write('out\\n'); sys.stderr.write('err\\n')\nfinish(3)\nprint('not reached')")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out\nhandler ran\n", "err\n")


def test_finish_leaves_the_exit_to_python_while_a_thread_works():
    proc = run("import threading, time\nfrom gitdeploy.cli import finish\n"
               "t = threading.Thread(target=lambda: (time.sleep(0.5), print('thread done')))\nt.start()\n"
               "finish(0)\nprint('normal exit')")
    assert (proc.returncode, proc.stdout) == (0, "normal exit\nthread done\n")


def test_a_command_exits_with_its_status_through_finish(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gitdeploy", "--repo", str(tmp_path), "plan"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "is not a git repository" in proc.stderr
