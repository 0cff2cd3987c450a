"""Benchmark: one environment change of a multi-replica service on default settings (issue 14).

One service (busybox `sleep`, `init: true`, no health check, default `rollout`: `monitor: 5s`,
canary then the rest), 2 or 8 replicas. Deploy revision A, then time `gitdeploy deploy` of B (one
environment variable changed) as its own process. The old defaults (`canary: 0, parallelism: 1`:
one replica at a time, each gated for the full monitor) run alternately in the same run, for the
ratio.

    .venv/bin/python bench/replicas.py [--runs 3] [--write] [--against REV] [--replicas 2 8]

`--against REV` runs gitdeploy as it was at commit REV (new defaults) alternately with this tree,
from a copy extracted to a temporary folder (same interpreter and packages): before and after in
one run. The old-defaults rows are then left out.

Target: <= 2 x the default monitor + 1 s (11 s), for 2 and for 8 replicas.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
import git

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from gitdeploy.live.baseimage import ensure_base_image  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
MODES = {"new defaults": "", "old defaults": "    rollout: {canary: 0, parallelism: 1}\n"}


def spec(system: str, replicas: int, version: str, rollout: str) -> str:
    return (f"system: {system}\nservices:\n  web:\n    image: gitdeploy/busybox:1\n    command: [sleep, '3600']\n"
            f"    init: true\n    stop_grace_period: 1s\n    replicas: {replicas}\n"
            f"    environment: {{VERSION: {version}}}\n{rollout}")


def deploy(repo: Path, home: Path, code: Path = ROOT) -> float:
    env = dict(os.environ, GITDEPLOY_HOME=str(home), PYTHONPATH=str(code))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode compiled
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gitdeploy", "--repo", str(repo), "deploy"], capture_output=True,
                          text=True, env=env, cwd=code)  # `-m` puts the working folder first on the path
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"deploy failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return took


def one(client: docker.DockerClient, tmp: Path, replicas: int, rollout: str, code: Path = ROOT) -> float:
    system = f"benchr{uuid.uuid4().hex[:6]}"
    repo_dir = tmp / system
    repo_dir.mkdir()
    repo = git.Repo.init(repo_dir)
    try:
        for version in ("A", "B"):
            (repo_dir / "gitdeploy.yaml").write_text(spec(system, replicas, version, rollout))
            repo.git.add(A=True)
            repo.git.commit("-q", "-m", version, env=GIT_ENV)
            took = deploy(repo_dir, tmp / "home", code)
        return took
    finally:
        for c in client.containers.list(all=True, filters={"label": f"io.gitdeploy.system={system}"}):
            c.remove(force=True)
        for n in client.networks.list(filters={"label": f"io.gitdeploy.system={system}"}):
            for _ in range(50):
                try:
                    n.remove()
                    break
                except docker.errors.APIError:
                    time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    ap.add_argument("--against", help="a commit to compare with (its gitdeploy, new defaults)")
    ap.add_argument("--replicas", type=int, nargs="+", default=[2, 8])
    args = ap.parse_args()
    client = docker.from_env(timeout=300)
    ensure_base_image(client)
    tmp = Path(tempfile.mkdtemp(prefix="gd-bench-replicas-"))
    modes: dict[str, tuple[str, Path]] = {m: (r, ROOT) for m, r in MODES.items()}
    if args.against:
        base = tmp / "base"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against, "gitdeploy"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        modes = {"this tree": ("", ROOT), f"at {args.against[:10]}": ("", base)}
    res: dict[tuple[int, str], list[float]] = {}
    loads: list[float] = []
    try:
        for run in range(args.runs):
            for replicas in args.replicas:
                for mode, (rollout, code) in modes.items():  # alternately, in one run
                    t = one(client, tmp, replicas, rollout, code)
                    res.setdefault((replicas, mode), []).append(t)
                    loads.append(os.getloadavg()[0])
                    print(f"run {run + 1}: {replicas} replicas, {mode}: {t:.2f}s (load {loads[-1]:.1f})", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    first, second = list(modes)
    lines = [
        f"## One env change of a multi-replica service, default settings ({time.strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} cores, median of {args.runs})",
        "",
        "`bench/replicas.py`: one service (busybox `sleep`, `init: true`, no health check, `monitor: 5s` by default),",
        f"`gitdeploy deploy` of one changed environment variable as its own process; {first} and {second}",
        "alternately in the same run. 1-minute load average during the run: "
        f"{min(loads):.1f} to {max(loads):.1f}.",
        "",
        f"| replicas | {first} | {second} | ratio | target <= 11 s |",
        "|---|---|---|---|---|",
    ]
    for replicas in args.replicas:
        new, old = med[(replicas, first)], med[(replicas, second)]
        runs = " / ".join(f"{t:.2f}" for t in res[(replicas, first)])
        lines.append(f"| {replicas} | {new:.2f} s ({runs}) | {old:.2f} s | {new / old:.2f} | "
                     f"{'met' if new <= 11 else 'NOT MET'} |")
    text = "\n".join(lines + [""])
    print(text)
    if args.write:
        with (HERE / "RESULTS.md").open("a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
