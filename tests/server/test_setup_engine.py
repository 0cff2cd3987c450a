"""scripts/engine.sh (the Docker Engine step of setup.sh): the engine runs in its own session,
and running the step again never restarts or doubles a running engine.

Two tests look at the real engine without touching it; two run the script against fakes of
`docker`, `dockerd` and `systemctl` on PATH (with their own pid and log files), so nothing real
is started or stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "scripts" / "engine.sh"


def live_dockerd(pidfile: Path = Path("/var/run/docker.pid")) -> int:
    try:
        pid = int(pidfile.read_text())
        if Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd":
            return pid
    except (OSError, ValueError):
        pass
    pytest.skip("no dockerd with a pid file on this machine")


@pytest.mark.docker
def test_the_engine_does_not_share_the_test_run_s_session_or_process_group():
    pid = live_dockerd()
    try:
        started_here = int(Path("/var/run/gitdeploy-dockerd.pid").read_text()) == pid
    except (OSError, ValueError):
        started_here = False
    if not started_here:  # an engine of the machine's own (systemd, by hand): not setup.sh's doing
        pytest.skip("the running dockerd was not started by scripts/engine.sh")
    assert os.getsid(pid) != os.getsid(0), "dockerd runs in the caller's session: a timeout around it would kill it"
    assert os.getpgid(pid) != os.getpgid(0)


@pytest.mark.docker
def test_running_the_step_again_leaves_the_running_engine_alone():
    pid = live_dockerd()
    out = subprocess.run(["bash", str(ENGINE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "starting" not in out.stderr
    assert live_dockerd() == pid


@pytest.fixture
def fakes(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the script calls sudo when not root")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    scripts = {
        # answers `docker info` once the fake dockerd has come up
        "docker": f'#!/bin/sh\n[ "$1" = info ] && [ -f {state}/up ] && exit 0\nexit 1\n',
        "systemctl": "#!/bin/sh\nexit 1\n",
        # records the session, process group and stdin it was started with
        "dockerd": f"""#!/usr/bin/env python3
import json, os
json.dump({{"pid": os.getpid(), "sid": os.getsid(0), "pgid": os.getpgid(0),
           "stdin": os.readlink("/proc/self/fd/0")}}, open("{state}/dockerd.json", "w"))
open("{state}/up", "w").close()
""",
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "GITDEPLOY_DOCKERD_LOG": str(tmp_path / "d.log"),
           "GITDEPLOY_DOCKERD_PIDFILE": str(tmp_path / "docker.pid"), "GITDEPLOY_ENGINE_WAIT": "5",
           "GITDEPLOY_DOCKERD_MARK": str(tmp_path / "started.pid")}
    return env, state


def test_a_missing_engine_is_started_in_its_own_session_with_stdin_from_dev_null(fakes):
    env, state = fakes
    out = subprocess.run(["bash", str(ENGINE)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "starting dockerd in its own session" in out.stderr
    started = json.loads((state / "dockerd.json").read_text())
    assert started["sid"] == started["pid"] != os.getsid(0)  # a session leader, not in ours
    assert started["pgid"] != os.getpgid(0)
    assert started["stdin"] == "/dev/null"


def test_a_running_but_busy_engine_is_waited_for_never_started_again(fakes, tmp_path):
    env, state = fakes
    sleeper = tmp_path / "busy" / "dockerd"  # a live process whose name is dockerd
    sleeper.parent.mkdir()
    shutil.copy(shutil.which("sleep"), sleeper)
    busy = subprocess.Popen([str(sleeper), "60"])
    try:
        Path(env["GITDEPLOY_DOCKERD_PIDFILE"]).write_text(f"{busy.pid}\n")
        env["GITDEPLOY_ENGINE_WAIT"] = "2"
        out = subprocess.run(["bash", str(ENGINE)], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1
        assert f"dockerd (pid {busy.pid}) is running but not answering yet" in out.stderr
        assert not (state / "dockerd.json").exists()  # no second engine
        assert busy.poll() is None  # and the running one untouched
    finally:
        busy.kill()
        busy.wait(10)
