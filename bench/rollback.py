"""Benchmark: rollback from kept containers vs a fresh deploy of the same revision.

20 services (busybox `sleep`, `init: true`). Per run: deploy revision A, deploy revision B
(every service changed), then time `rollback` to A (a rollback commit + deploy: the kept
stopped containers of A are started, B's are stopped) against a fresh deploy of A on a clean
system. Both go through the one pipeline in-process (lock, plan, gates, verify, record in git).

    .venv/bin/python bench/rollback.py [--runs 3] [--services 20] [--monitor 1s] [--build] [--write]

`--build`: every service is built from its own context in the repo (a Dockerfile with a COPY and
a RUN), as most real systems are; a fresh deploy on a clean engine then builds, a rollback starts
what it kept. Without it, services run a ready image and a fresh deploy is only create + start.

Target: rollback <= 25% of the fresh deploy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
import docker.errors
import git
from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from gitdeploy import pipeline  # noqa: E402
from gitdeploy.history import make_rollback_commit  # noqa: E402
from gitdeploy.live import labels  # noqa: E402
from gitdeploy.live.baseimage import ensure_base_image  # noqa: E402

DOCKERFILE = """FROM gitdeploy/busybox:1
COPY version.txt /version.txt
RUN cp /version.txt /built.txt && sleep 1
CMD ["sleep", "3600"]
"""


def spec(system: str, n: int, version: str, monitor: str, build: bool = False) -> dict:
    def service(i: int) -> dict:
        source = {"build": f"s{i}"} if build else {"image": "gitdeploy/busybox:1", "command": ["sleep", "3600"]}
        return {**source, "init": True, "stop_grace_period": "1s", "environment": {"VERSION": version},
                "rollout": {"monitor": monitor}}

    return {"system": system, "services": {f"s{i}": service(i) for i in range(n)}}


def commit(root: Path, data: dict, message: str) -> str:
    with (root / "gitdeploy.yaml").open("w") as f:
        YAML().dump(data, f)
    for name, svc in data["services"].items():
        if "build" in svc:
            (root / name).mkdir(exist_ok=True)
            (root / name / "Dockerfile").write_text(DOCKERFILE)
            (root / name / "version.txt").write_text(svc["environment"]["VERSION"] + "\n")
    repo = git.Repo(root)
    repo.git.add(A=True)
    return repo.index.commit(message).hexsha


def new_repo(tmp: Path) -> Path:
    root = tmp / uuid.uuid4().hex[:8]
    root.mkdir()
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as cw:
        cw.set_value("user", "email", "bench@localhost")
        cw.set_value("user", "name", "bench")
    return root


def cleanup(client: docker.DockerClient, system: str) -> None:
    flt = {"label": f"{labels.SYSTEM}={system}"}
    for c in client.containers.list(all=True, filters=flt):
        c.remove(force=True)
    for net in client.networks.list(filters=flt):
        for _ in range(50):  # endpoints of force-removed containers are released asynchronously
            try:
                net.remove()
                break
            except docker.errors.APIError:
                time.sleep(0.1)
    for image in client.images.list(filters=flt):  # built images: a fresh deploy builds again
        client.images.remove(image.id, force=True)


def one_run(client: docker.DockerClient, tmp: Path, n: int, monitor: str,
            build: bool = False) -> tuple[float, float, int, int]:
    """(rollback seconds, fresh seconds, containers created by the rollback, started by it)."""
    system = f"bench{uuid.uuid4().hex[:6]}"
    root = new_repo(tmp)
    ctx = pipeline.Context(repo=root, data_dir=tmp / "data", client=client)
    try:
        commit(root, spec(system, n, "A", monitor, build), "revision A")
        assert pipeline.deploy(ctx).ok
        commit(root, spec(system, n, "B", monitor, build), "revision B")
        assert pipeline.deploy(ctx).ok
        t0 = time.perf_counter()
        rc = make_rollback_commit(git.Repo(root), ctx.env)
        result = pipeline.deploy(ctx, rc.commit, trigger="rollback")
        rollback = time.perf_counter() - t0
        assert result.ok, result.failure
        created = sum(1 for e in result.events if e.kind == "created")
        started = sum(1 for e in result.events if e.kind == "started")
    finally:
        cleanup(client, system)
    fresh_system = f"bench{uuid.uuid4().hex[:6]}"
    root2 = new_repo(tmp)
    ctx2 = pipeline.Context(repo=root2, data_dir=tmp / "data2", client=client)
    try:
        commit(root2, spec(fresh_system, n, "A", monitor, build), "revision A")
        t0 = time.perf_counter()
        assert pipeline.deploy(ctx2).ok
        fresh = time.perf_counter() - t0
    finally:
        cleanup(client, fresh_system)
    return rollback, fresh, created, started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--services", type=int, default=20)
    ap.add_argument("--monitor", default="1s", help="rollout.monitor of every service (the gate)")
    ap.add_argument("--build", action="store_true", help="services built from contexts in the repo")
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = ap.parse_args()
    client = docker.from_env(timeout=300)
    ensure_base_image(client)
    tmp = Path(tempfile.mkdtemp(prefix="gd-bench-rollback-"))
    try:
        runs = []
        for i in range(args.runs):
            runs.append(one_run(client, tmp, args.services, args.monitor, args.build))
            r, f, c, s = runs[-1]
            print(f"run {i + 1}: rollback {r:.2f}s ({c} created, {s} started), fresh {f:.2f}s ({r / f:.0%})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rb = statistics.median(r[0] for r in runs)
    fr = statistics.median(r[1] for r in runs)
    ok = "meets" if rb <= 0.25 * fr else "MISSES"
    text = "\n".join([
        f"## Rollback, {'built' if args.build else 'ready-image'} services ({time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores, median of {args.runs})",
        "",
        f"{args.services} services ({'each built from its own context: COPY + RUN' if args.build else 'busybox `sleep`'},"
        f" `init: true`, `rollout.monitor: {args.monitor}`), in-process",
        "through `pipeline.deploy` (lock, plan, gates, verify, git notes). Rollback = rollback commit +",
        "deploy after A then B (all changed); fresh = deploy of A on a clean system.",
        "",
        "| scenario | seconds |",
        "|---|---|",
        f"| rollback to A (kept containers started, {runs[0][2]} created) | {rb:.2f} |",
        f"| fresh deploy of A | {fr:.2f} |",
        f"| rollback / fresh | **{rb / fr:.0%}** (target <= 25%: {ok}) |",
        "",
    ])
    print(text)
    if args.write:
        out = HERE / "RESULTS.md"
        if not out.exists():
            out.write_text("# Benchmark results\n\n")
        with out.open("a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
