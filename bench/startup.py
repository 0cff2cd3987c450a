"""Benchmark: a no-op `gitdeploy deploy` as a new process (issue 14: <= 0.3 s on one engine; issue 12:
< 0.5 s on a Swarm cluster), this tree against another commit, alternately in one loop.

A spec of N busybox `sleep` services (`init: true`, `rollout.monitor: 0s`) is deployed once; then a
new commit that changes nothing is deployed again and again as a new process, each run a new empty
commit so that every run plans, verifies and records like a user's no-op. Bytecode is compiled and
`PYTHONDONTWRITEBYTECODE` is unset for both trees (an installed wheel has its bytecode). Reported:
the median and the fastest wall time, the median CPU time of the process (its git children
included), and the modules the no-op imports (all, and gitdeploy's own), for each tree.

    .venv/bin/python bench/startup.py [--runs 10] [--services 1] [--replicas 1] [--against REV] [--swarm] [--write]

`--swarm` runs on the test suite's 2-node cluster (tests/swarm/cluster.py, needs root) with
`--engine swarm`, `endpoint_mode: dnsrr`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

PY = sys.executable
IMAGE = "gitdeploy/busybox:1"
PROBE = ("import runpy, sys, atexit, json, os\n"
         "def _out():\n"
         "    mods = list(sys.modules)\n"
         "    with open(os.environ['GD_BENCH_MODULES'], 'w') as f:\n"
         "        json.dump(mods, f)\n"
         "atexit.register(_out)\n"
         "sys.argv = ['gitdeploy'] + sys.argv[1:]\n"
         "runpy.run_module('gitdeploy', run_name='__main__')\n")


def spec_yaml(system: str, image: str, n: int, swarm: bool, replicas: int = 1) -> str:
    lines = [f"system: {system}", "services:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    image: {image}", "    command: [sleep, '3600']", "    init: true",
                  f"    replicas: {replicas}", "    rollout: {monitor: 0s}", "    stop_grace_period: 1s"]
        if swarm:
            lines += ["    endpoint_mode: dnsrr"]
    return "\n".join(lines) + "\n"


def git(repo: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU of the process and its children) of one run; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[-3:])} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def tree_at(rev: str, tmp: Path) -> Path:
    base = tmp / f"at-{rev[:10]}"
    base.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "gitdeploy"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
    return base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--services", type=int, default=1)
    ap.add_argument("--replicas", type=int, default=1, help="of every service")
    ap.add_argument("--against", help="a commit to compare with (its gitdeploy package)")
    ap.add_argument("--swarm", action="store_true", help="on the test suite's 2-node Swarm cluster")
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gd-bench-startup-"))
    env = dict(os.environ, GITDEPLOY_HOME=str(tmp / "home"), GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@x",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="b@x")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    trees = {"this tree": ROOT}
    if args.against:
        trees[f"at {args.against[:10]}"] = tree_at(args.against, tmp)
    for code in trees.values():
        subprocess.run([PY, "-m", "compileall", "-q", str(code / "gitdeploy")], env=env, check=True)

    cluster = None
    system = f"bs{uuid.uuid4().hex[:6]}"
    repo = tmp / "repo"
    where: list[str] = []
    try:
        if args.swarm:
            from tests.swarm.cluster import Cluster
            cluster = Cluster(2)
            cluster.up()
            image = f"{cluster.registry}/{IMAGE}"
            where = ["--engine", "swarm", "--docker-host", cluster.nodes[0].host, "--registry", cluster.registry]
        else:
            import docker

            from gitdeploy.live.baseimage import ensure_base_image
            ensure_base_image(docker.from_env())
            image = IMAGE
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main", env=env)
        (repo / "gitdeploy.yaml").write_text(spec_yaml(system, image, args.services, args.swarm, args.replicas))
        git(repo, "add", "-A", env=env)
        git(repo, "commit", "-qm", "the system", env=env)
        cmd = [PY, "-c", PROBE, *where, "--repo", str(repo), "deploy"]
        timed([PY, "-m", "gitdeploy", *where, "--repo", str(repo), "deploy"], env | {"PYTHONPATH": str(ROOT)}, repo)

        wall: dict[str, list[float]] = {t: [] for t in trees}
        cpu: dict[str, list[float]] = {t: [] for t in trees}
        modules: dict[str, list[str]] = {}
        loads: list[float] = []
        for run in range(args.runs):
            for name, code in (trees.items() if run % 2 == 0 else reversed(trees.items())):
                git(repo, "commit", "-q", "--allow-empty", "-m", f"no change {run} {name}", env=env)
                out = tmp / "modules.json"
                w, c = timed(cmd, env | {"PYTHONPATH": str(code), "GD_BENCH_MODULES": str(out)}, repo)
                modules[name] = json.loads(out.read_text())
                wall[name].append(w)
                cpu[name].append(c)
                loads.append(os.getloadavg()[0])
                print(f"run {run + 1}: {name}: {w:.3f} s (cpu {c:.3f} s, load {loads[-1]:.1f})", flush=True)
        engine = "a 2-node Swarm cluster (`--engine swarm`)" if args.swarm else "the local Docker Engine"
        target = "< 0.5 s (issue 12)" if args.swarm else "<= 0.3 s (issue 14)"
        lines = [f"## No-op as a new process on {engine} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                 f"{os.cpu_count()} cores, {args.runs} runs per tree, alternately)", "",
                 f"`bench/startup.py{' --swarm' if args.swarm else ''} --services {args.services} --replicas {args.replicas} "
                 f"--runs {args.runs}"
                 f"{' --against ' + args.against if args.against else ''}`: a new empty commit deployed as a new process "
                 f"each run; bytecode compiled. 1-minute load during the runs: {min(loads):.1f} to {max(loads):.1f}.", "",
                 f"| tree | wall, median | wall, fastest | CPU, median | modules (gitdeploy's) | target {target} |",
                 "|---|---|---|---|---|---|"]
        for name in trees:
            med = statistics.median(wall[name])
            own = sum(1 for m in modules[name] if m == "gitdeploy" or m.startswith("gitdeploy."))
            heavy = [m for m in ("docker", "requests", "git", "urllib3", "rich.progress") if m in modules[name]]
            lines.append(f"| {name} | {med:.3f} s | {min(wall[name]):.3f} s | {statistics.median(cpu[name]):.3f} s | "
                         f"{len(modules[name])} ({own}){'; loads ' + ', '.join(heavy) if heavy else ''} | "
                         f"{'met' if med < (0.5 if args.swarm else 0.3001) else 'NOT MET'} |")
        if args.against:
            a, b = list(trees)
            lines.append(f"\n{a} / {b}: {statistics.median(wall[a]) / statistics.median(wall[b]):.2f} (wall), "
                         f"{statistics.median(cpu[a]) / statistics.median(cpu[b]):.2f} (CPU).")
        text = "\n".join(lines) + "\n"
        print(text)
        if args.write:
            with (HERE / "RESULTS.md").open("a") as f:
                f.write("\n" + text)
    finally:
        try:
            subprocess.run([PY, "-m", "gitdeploy", *where, "--repo", str(repo), "down"],
                           env=env | {"PYTHONPATH": str(ROOT)}, capture_output=True, timeout=300)
        except Exception:  # noqa: BLE001 - best effort: the cluster goes anyway
            pass
        if cluster is not None:
            cluster.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
