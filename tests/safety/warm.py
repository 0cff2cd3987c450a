"""`gitdeploy` commands as forks of a warm interpreter: a real separate process each, without
paying Python's start-up and gitdeploy's imports every time (about 0.7 s on a quiet machine,
several seconds under load - most of a kill point's own cost in the crash matrix).

A zygote process (started with a developer's environment, see tests.hooks.helpers.clean_env)
imports gitdeploy's command line once and does nothing else: no thread, no engine connection.
For each command it forks; the child takes the command's environment, working directory,
arguments and output files, then runs exactly what the `gitdeploy` console script runs
(`sys.exit(main())`) and ends as any process does (atexit, threads, exit code). The zygote
reaps it - a killed child's pid is gone before its status is reported - and says how it ended
(a negative signal number, as subprocess does).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.hooks.helpers import clean_env

GITDEPLOY = str(Path(sys.executable).parent / "gitdeploy")

_ZYGOTE = r"""
import json, os, sys, threading
import gitdeploy.cli, gitdeploy.cli.core, gitdeploy.cli.heal  # the commands the tests run, warm

def serve():
    reply = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        if threading.active_count() != 1:  # forking a threaded process is not a clean process
            raise SystemExit(f"zygote: {threading.active_count()} threads, refusing to fork")
        reply.flush(); sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            return req
        reply.write(f"{pid}\n"); reply.flush()
        _, status = os.waitpid(pid, 0)
        reply.write(f"{os.waitstatus_to_exitcode(status)}\n"); reply.flush()
    raise SystemExit(0)

req = serve()
# the child: a fresh process's file descriptors, environment, directory and arguments
null = os.open(os.devnull, os.O_RDONLY)
out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
for fd, to in ((null, 0), (out, 1), (err, 2)):
    os.dup2(fd, to)
    os.close(fd)
sys.stdin = open(0, closefd=False)
os.environ.clear()
os.environ.update(req["env"])
os.chdir(req["cwd"])
sys.argv = [req["argv0"], *req["args"]]
sys.exit(gitdeploy.cli.main())
"""


class Warm:
    """Run `gitdeploy ARGS` as a fork of the zygote; `run` answers like subprocess.run."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="gitdeploy-warm-")
        self._log = open(Path(self._tmp.name) / "zygote.log", "w+b")  # noqa: SIM115 - lives as long as self
        self._proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._log, env=clean_env(), bufsize=0)
        self._n = 0
        self._buf = b""

    def run(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess:
        self._n += 1
        out, err = (Path(self._tmp.name) / f"{self._n}.{k}" for k in ("out", "err"))
        req = {"args": list(args), "env": env if env is not None else clean_env(), "cwd": str(cwd or os.getcwd()),
               "argv0": GITDEPLOY, "stdout": str(out), "stderr": str(err)}
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write((json.dumps(req) + "\n").encode())
        pid = int(self._line(60))
        try:
            code = int(self._line(timeout))
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            self._line(60)
            raise subprocess.TimeoutExpired([GITDEPLOY, *args], timeout, out.read_text(), err.read_text()) from None
        stdout, stderr = out.read_text(), err.read_text()
        out.unlink()
        err.unlink()
        return subprocess.CompletedProcess([GITDEPLOY, *args], code, stdout, stderr)

    def _line(self, timeout: float) -> str:
        """The zygote's next reply line (unbuffered reads: select sees what is not read yet)."""
        assert self._proc.stdout
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buf:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, 4096)
            if not chunk:
                self._log.seek(0)
                raise AssertionError(f"the warm gitdeploy zygote ended: {self._log.read().decode(errors='replace')}")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode().strip()

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        self._log.close()
        self._tmp.cleanup()
