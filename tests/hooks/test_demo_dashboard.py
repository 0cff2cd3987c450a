"""`gitdeploy demo` end to end, and its dashboard in real headless Chromium.

One demo process serves (bounded: it is stopped with SIGINT at the end); a push goes through
the server's queue; Chromium renders the page before and after it. The screenshot lands in
tests/artifacts/dashboard.png.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from .helpers import GITDEPLOY, clean_env, free_port, git, gitdeploy

pytestmark = pytest.mark.docker

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900", "--virtual-time-budget=5000"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("Chromium is not installed: `bash scripts/setup.sh test` installs Debian's chromium package")


def browse(url: str, tmp: Path, *extra: str) -> str:
    profile = tmp / f"chromium-{time.monotonic_ns()}"
    proc = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def wait_for(what: str, check, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def state(url: str) -> dict | None:
    try:
        return requests.get(f"{url}/api/state", timeout=5).json()
    except (requests.RequestException, ValueError):
        return None


def deployed(url: str) -> str | None:
    s = state(url)
    if not s or not s["repositories"]:
        return None
    env = s["repositories"][0]["environments"][0]
    return env["deployed"]["sha"] if env["deployed"] and env["deployed_source"] == "ref" else None


def store_a_pr_plan(data_dir: Path, sha: str) -> bool:
    """Store a plan the way the GitHub bot does; False in a build without the bot."""
    try:
        from gitdeploy.github.planstore import PlanStore
    except ImportError:
        return False
    PlanStore(data_dir).save("local/shop", 12, "production", sha, ok=True, summary="1 to replace, 1 unchanged",
                             markdown="", title="Bump the web page")
    return True


def test_demo_serves_dashboard_that_follows_a_push(tmp_path, system_name, docker_client, base_image):
    data, port, web_port = tmp_path / "data", free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["--data-dir", str(data), "demo", "--dir", str(tmp_path), "--system", system_name,
            "--port", str(port), "--web-port", str(web_port)]
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen([GITDEPLOY, *args], cwd=tmp_path, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        first = wait_for("the demo to deploy and serve", lambda: demo.poll() is None and deployed(url)
                         or (demo.poll() is not None and pytest.fail((tmp_path / "demo.log").read_text())))
        assert requests.get(f"http://127.0.0.1:{web_port}/", timeout=5).status_code == 200
        out = (tmp_path / "demo.log").read_text()
        assert f"git clone {tmp_path / 'shop.git'}" in out and "git revert" in out and url in out
        s = state(url)
        env = s["repositories"][0]["environments"][0]
        assert env["system"] == system_name and {r["service"] for r in env["services"]} == {"shop/web", "shop/worker"}
        assert env["history"][0]["trigger"] == "demo"

        before = browse(url + "/", tmp_path, "--dump-dom")
        assert f'data-deployed="{first}"' in before, before[:3000]
        assert "gitdeploy demo: the example system" in before

        # a push while the server runs goes through its queue and streams back
        work = tmp_path / "shop"
        git("clone", "-q", str(tmp_path / "shop.git"), str(work), cwd=tmp_path)
        index = work / "web" / "index.html"
        index.write_text(index.read_text() + "<p id='v2'>version two</p>\n")
        git("commit", "-q", "-am", "web: version two", cwd=work)
        pushed = git("push", "-q", "origin", "main", cwd=work, check=False)
        assert pushed.returncode == 0, pushed.stderr
        second = git("rev-parse", "HEAD", cwd=work).stdout.strip()
        assert "remote: gitdeploy: queued as job" in pushed.stderr, pushed.stderr
        assert f"remote: deployed {second[:7]}" in pushed.stderr, pushed.stderr
        assert "version two" in requests.get(f"http://127.0.0.1:{web_port}/", timeout=5).text

        planned = store_a_pr_plan(data, second)
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        shot.unlink(missing_ok=True)
        after = browse(url + "/", tmp_path, "--dump-dom", f"--screenshot={shot}")  # one page load, both
        assert f'data-deployed="{second}"' in after and "web: version two" in after
        if planned:
            assert "#12" in after and "Bump the web page" in after
        else:
            assert "No open pull request has a plan yet" in after
        assert shot.stat().st_size > 10_000
        jobs = state(url)["queue"]["recent"]
        assert jobs[0]["kind"] == "git-deploy" and jobs[0]["state"] == "done" and jobs[0]["sha"] == second[:7]
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(10)
        log.close()

    # a second run reuses everything and deploys nothing
    again = gitdeploy(*args, "--no-serve", cwd=tmp_path)
    assert "(reused)" in again.stdout and f"already deployed and running: {second[:7]}" in again.stdout
    assert (data / "repositories.txt").read_text().splitlines() == [str(tmp_path / "shop.git")]
