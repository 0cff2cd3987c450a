"""Benchmark: gitdeploy vs Docker Compose v1 vs raw parallel docker SDK calls, N=50 services.

Scenarios: fresh deploy, no-op, change every service, change one service. Each tool runs as a
separate process (python start-up included for all three); the no-op is also timed in-process
(plan + verify, the work gitdeploy itself does). Also: planning a 5,000-service spec.

    .venv/bin/python bench/core.py [--runs 3] [--services 50] [--write]

Services are busybox `sleep` with `init: true` (as the issue asks) and `rollout.monitor: 0s`,
so gitdeploy's gate is "running after start" - the same promise `docker-compose up -d` and the
raw calls make. (With the default monitor every gate waits; that figure is reported too.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import docker.errors
import git

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
GITDEPLOY = [PY, "-m", "gitdeploy"]
IMAGE = "gitdeploy/busybox:1"

RAW_SCRIPT = r"""
import sys, json, docker
from concurrent.futures import ThreadPoolExecutor
mode, project, n, version = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
changed = json.loads(sys.argv[5])
c = docker.from_env(timeout=300)
api = c.api
net = f"{project}_raw"
if not api.networks(names=[net]):
    api.create_network(net)
def name(i): return f"{project}_s{i}"
def up(i):
    cid = api.create_container("gitdeploy/busybox:1", ["sleep", "3600"], name=name(i),
        environment={"VERSION": version if i in changed else "v0"}, labels={"bench.raw": project},
        host_config=api.create_host_config(init=True, restart_policy={"Name": "unless-stopped"}),
        networking_config=api.create_networking_config({net: api.create_endpoint_config(aliases=[f"s{i}"])}))
    api.start(cid)
def replace(i):
    api.remove_container(name(i), force=True)
    up(i)
with ThreadPoolExecutor(64) as pool:
    targets = list(range(n)) if mode == "fresh" else sorted(changed)
    list(pool.map(up if mode == "fresh" else replace, targets))
"""


def sh(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return took


def spec_yaml(system: str, n: int, versions: dict[int, str], monitor: str = "0s") -> str:
    lines = [f"system: {system}", "services:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    image: {IMAGE}", "    command: [sleep, '3600']", "    init: true",
                  f"    environment: {{VERSION: {versions.get(i, 'v0')}}}", f"    rollout: {{monitor: {monitor}}}",
                  "    stop_grace_period: 1s"]
    return "\n".join(lines) + "\n"


def compose_yaml(n: int, versions: dict[int, str]) -> str:
    lines = ["version: '3.7'", "services:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    image: {IMAGE}", "    command: [sleep, '3600']", "    init: true",
                  f"    environment: {{VERSION: {versions.get(i, 'v0')}}}", "    stop_grace_period: 1s",
                  "    restart: unless-stopped"]
    return "\n".join(lines) + "\n"


class Bench:
    def __init__(self, n: int, runs: int) -> None:
        self.n, self.runs = n, runs
        self.client = docker.from_env(timeout=300)
        self.tmp = Path(tempfile.mkdtemp(prefix="gd-bench-"))
        self.env = dict(os.environ, GITDEPLOY_HOME=str(self.tmp / "home"))
        # Each tool with its bytecode compiled, as installed packages have it (this machine's
        # environment sets PYTHONDONTWRITEBYTECODE: gitdeploy's modules were compiled at every start).
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.loads: list[float] = []  # the 1-minute load average after each figure

    def cleanup(self, system: str) -> None:
        for flt in ({"label": f"io.gitdeploy.system={system}"}, {"label": f"bench.raw={system}"},
                    {"label": f"com.docker.compose.project={system}"}):
            for c in self.client.containers.list(all=True, filters=flt):
                c.remove(force=True)
        for n in self.client.networks.list():
            if n.name.startswith(system):
                for _ in range(50):  # endpoints detach asynchronously after a forced removal
                    try:
                        n.remove()
                        break
                    except docker.errors.APIError:
                        time.sleep(0.2)

    # -- the three tools -------------------------------------------------------------------

    def gitdeploy(self, system: str, versions: dict[int, str], monitor: str = "0s") -> float:
        repo_dir = self.tmp / system
        if not repo_dir.exists():
            repo_dir.mkdir()
            git.Repo.init(repo_dir)
        (repo_dir / "gitdeploy.yaml").write_text(spec_yaml(system, self.n, versions, monitor))
        r = git.Repo(repo_dir)
        r.git.add(A=True)
        r.git.commit("-q", "--allow-empty", "-m", "bench", env={"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
                                                              "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"})
        return sh([*GITDEPLOY, "--repo", str(repo_dir), "deploy"], env=self.env)

    def compose(self, system: str, versions: dict[int, str]) -> float:
        d = self.tmp / f"{system}-compose"
        d.mkdir(exist_ok=True)
        (d / "docker-compose.yml").write_text(compose_yaml(self.n, versions))
        return sh(["docker-compose", "-p", system, "up", "-d"], cwd=d)

    def raw(self, system: str, mode: str, version: str, changed: list[int]) -> float:
        return sh([PY, "-c", RAW_SCRIPT, mode, system, str(self.n), version, json.dumps(changed)])

    # -- scenarios -------------------------------------------------------------------------

    def run(self) -> dict[str, dict[str, list[float]]]:
        res: dict[str, dict[str, list[float]]] = {}

        def add(scenario: str, tool: str, t: float) -> None:
            res.setdefault(scenario, {}).setdefault(tool, []).append(t)
            self.loads.append(os.getloadavg()[0])
            print(f"  {scenario:<14} {tool:<10} {t:7.2f}s  (load {self.loads[-1]:.1f})", flush=True)

        all_ = list(range(self.n))
        for run in range(self.runs):
            for tool in ("raw", "compose", "gitdeploy"):
                system = f"bench{run}{tool[:3]}"
                self.cleanup(system)
                try:
                    if tool == "raw":
                        add("fresh", tool, self.raw(system, "fresh", "v0", []))
                        add("change-all", tool, self.raw(system, "replace", "v1", all_))
                        add("change-one", tool, self.raw(system, "replace", "v2", [7]))
                    elif tool == "compose":
                        add("fresh", tool, self.compose(system, {}))
                        add("no-op", tool, self.compose(system, {}))
                        add("change-all", tool, self.compose(system, {i: "v1" for i in all_}))
                        add("change-one", tool, self.compose(system, {i: "v1" for i in all_} | {7: "v2"}))
                    else:
                        add("fresh", tool, self.gitdeploy(system, {}))
                        add("no-op", tool, self.gitdeploy(system, {}))
                        add("no-op-inproc", tool, self.noop_inprocess(system))
                        add("change-all", tool, self.gitdeploy(system, {i: "v1" for i in all_}))
                        add("change-one", tool, self.gitdeploy(system, {i: "v1" for i in all_} | {7: "v2"}))
                finally:
                    self.cleanup(system)
        system = "benchgated"
        self.cleanup(system)
        try:
            add("fresh-gated", "gitdeploy", self.gitdeploy(system, {}, monitor="5s"))
        finally:
            self.cleanup(system)
        return res

    def noop_inprocess(self, system: str) -> float:
        """plan + verify of an unchanged system, in-process (no interpreter start-up)."""
        sys.path.insert(0, str(ROOT))
        os.environ["GITDEPLOY_HOME"] = self.env["GITDEPLOY_HOME"]
        from gitdeploy import pipeline

        ctx = pipeline.Context(repo=self.tmp / system, data_dir=Path(self.env["GITDEPLOY_HOME"]), client=self.client)
        pipeline.prepare(ctx)  # warm imports and caches once, as a long-running server would be
        times = []
        for _ in range(5):
            start = time.perf_counter()
            prepared = pipeline.prepare(ctx)
            verification = pipeline.check_verified(ctx, prepared)
            times.append(time.perf_counter() - start)
            assert not prepared.plan.has_changes and verification.ok, verification.problems
        return statistics.median(times)


def plan_5000() -> float:
    tmp = Path(tempfile.mkdtemp(prefix="gd-bench-5k-"))
    try:
        (tmp / "gitdeploy.yaml").write_text(
            spec_yaml("big", 5000, {}).replace("    stop_grace_period: 1s\n", "")
        )
        repo = git.Repo.init(tmp)
        repo.git.add(A=True)
        repo.git.commit("-q", "-m", "big", env={"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
                                                "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"})
        code = (
            "import time,sys;t=time.perf_counter();from gitdeploy import pipeline;from pathlib import Path;"
            f"ctx=pipeline.Context(repo=Path({str(tmp)!r}),data_dir=Path({str(tmp / 'home')!r}));"
            "p=pipeline.prepare(ctx);assert len(p.plan.steps)==5000;print(time.perf_counter()-t)"
        )
        runs = [float(subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout)
                for _ in range(3)]
        return statistics.median(runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from gitdeploy.live.baseimage import ensure_base_image

    ensure_base_image(docker.from_env())
    bench = Bench(args.services, args.runs)
    print(f"N={args.services} services, {args.runs} run(s) each")
    res = bench.run()
    p5k = plan_5000()
    print(f"  plan 5000 services (process incl. imports): {p5k:.2f}s")
    med = {s: {t: statistics.median(v) for t, v in tools.items()} for s, tools in res.items()}
    lines = [
        f"## Core engine: N={args.services} services ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"median of {args.runs})",
        "",
        "Each tool runs as its own process (interpreter start-up included). Services: busybox `sleep`,",
        "`init: true`; gitdeploy with `rollout.monitor: 0s` (gate = running after start, as `up -d`).",
        f"1-minute load average after each figure: {min(bench.loads):.1f} to {max(bench.loads):.1f}"
        f" (median {statistics.median(bench.loads):.1f}).",
        "",
        "| scenario | raw SDK (parallel) | Compose v1 | gitdeploy | gitdeploy / raw | gitdeploy / Compose |",
        "|---|---|---|---|---|---|",
    ]
    for s in ("fresh", "no-op", "change-all", "change-one"):
        r, c, g = (med.get(s, {}).get(t) for t in ("raw", "compose", "gitdeploy"))
        f = lambda x: f"{x:.2f} s" if x is not None else "-"  # noqa: E731
        ratio = lambda a, b: f"{a / b:.2f}x" if a is not None and b else "-"  # noqa: E731
        lines.append(f"| {s} | {f(r)} | {f(c)} | {f(g)} | {ratio(g, r)} | {ratio(g, c)} |")
    verdict = lambda ok: "met" if ok else "NOT MET"  # noqa: E731
    m = {s: med.get(s, {}) for s in ("no-op", "change-all", "change-one")}
    lines += ["", "Issue 14's targets (a quiet machine was assumed; see the load above):"]
    if "gitdeploy" in m["change-one"] and "compose" in m["change-one"]:
        x = m["change-one"]["gitdeploy"] / m["change-one"]["compose"]
        lines.append(f"- change-one <= 1.2x Compose v1: {x:.2f}x, {verdict(x <= 1.2)}")
    if "gitdeploy" in m["change-all"] and "raw" in m["change-all"]:
        x = m["change-all"]["gitdeploy"] / m["change-all"]["raw"]
        lines.append(f"- change-all <= 1.2x raw SDK remove+create: {x:.2f}x, {verdict(x <= 1.2)}")
    if "gitdeploy" in m["no-op"]:
        lines.append(f"- no-op as a new process <= 0.3 s: {m['no-op']['gitdeploy']:.2f} s,"
                     f" {verdict(m['no-op']['gitdeploy'] <= 0.3)}")
    lines += [
        "",
        f"- no-op in-process (plan + verify, warm, median of 5): **{med['no-op-inproc']['gitdeploy'] * 1000:.0f} ms**"
        " (target < 300 ms)",
        f"- fresh deploy with the default-style gate (`monitor: 5s`, every container watched 5 s): "
        f"{med['fresh-gated']['gitdeploy']:.2f} s",
        f"- planning a 5,000-service spec (load + validate + resolve + analyze + diff + plan, one process incl."
        f" imports, median of 3): **{p5k:.2f} s** (target < 2 s)",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        out = HERE / "RESULTS.md"
        if not out.exists():
            out.write_text("# Benchmark results\n\nMachine: 2 cores, 24 GiB, Debian 12, Docker Engine 20.10 (API 1.41).\n"
                           "Timings are noisy; compare ratios measured in one run.\n\n")
        with out.open("a") as f:
            f.write(text + "\n")
    shutil.rmtree(bench.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
