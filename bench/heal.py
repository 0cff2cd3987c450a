"""Benchmark: homeostasis. Two figures, on the real engine:

1. kill -> healthy replacement: `docker kill` one container of a deployed system while a
   Watcher runs in heal mode; time until that replica runs again at the deployed revision and
   the watcher reports it repaired (median of --kills, one kill at a time).
2. the cost of one full `check` of a --services service system (list + inspect + diff of every
   container, spec load and resolve included; median of --checks), and of the loop's check
   with the resolved spec cached.

    .venv/bin/python bench/heal.py [--kills 20] [--services 50] [--checks 7] [--write]

Services are busybox `sleep` with `init: true`, `rollout.monitor: 0.2s` (the health gate of
the replacement), `stop_grace_period: 1s`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import docker

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gitdeploy import pipeline  # noqa: E402
from gitdeploy.heal import Policy, Watcher, check  # noqa: E402
from gitdeploy.heal.check import load_target  # noqa: E402
from gitdeploy.live import labels  # noqa: E402
from gitdeploy.live.baseimage import ensure_base_image  # noqa: E402
from tests.specrepo import SpecRepo  # noqa: E402

SERVICE = {"image": "gitdeploy/busybox:1", "command": ["sleep", "3600"], "init": True,
           "stop_grace_period": "1s", "rollout": {"monitor": "0.2s"}}


def deploy(client: docker.DockerClient, tmp: Path, services: int) -> tuple[pipeline.Context, str]:
    system = f"bh{uuid.uuid4().hex[:6]}"
    repo = SpecRepo.create(tmp, client)
    repo.commit({"gitdeploy.yaml": {"system": system, "services": {f"s{i}": dict(SERVICE) for i in range(services)}}})
    ctx = repo.ctx()
    result = pipeline.deploy(ctx)
    if not result.ok:
        raise SystemExit(f"deploy failed: {result.failure}")
    return ctx, system


def cleanup(client: docker.DockerClient, system: str) -> None:
    for c in client.containers.list(all=True, filters={"label": f"{labels.SYSTEM}={system}"}):
        c.remove(force=True)
    for n in client.networks.list(filters={"label": f"{labels.SYSTEM}={system}"}):
        n.remove()


def bench_kills(client: docker.DockerClient, kills: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        ctx, system = deploy(client, Path(tmp), 3)
        repaired = threading.Event()
        policy = Policy(backoff=0.0, max_attempts=10_000)  # the benchmark kills on purpose, again and again
        w = Watcher(ctx, mode="heal", interval=60, policy=policy,
                    on_event=lambda e: repaired.set() if e.kind == "repaired" else None)
        w.start()
        times = []
        try:
            if not w.listening.wait(10):
                raise SystemExit("the watcher did not connect to the event stream")
            time.sleep(0.5)
            for i in range(kills):
                victim = client.containers.list(
                    filters={"label": [f"{labels.SYSTEM}={system}", f"{labels.SERVICE}=s{i % 3}"]})[0]
                repaired.clear()
                t0 = time.monotonic()
                victim.kill()
                if not repaired.wait(30):
                    raise SystemExit(f"kill {i}: not repaired within 30s")
                flt = {"label": [f"{labels.SYSTEM}={system}", f"{labels.SERVICE}=s{i % 3}"]}
                while not client.containers.list(filters=flt):
                    time.sleep(0.01)
                times.append(time.monotonic() - t0)
                time.sleep(0.3)
        finally:
            w.stop()
            cleanup(client, system)
        return times


def bench_check(client: docker.DockerClient, services: int, checks: int) -> tuple[list[float], list[float], int]:
    with tempfile.TemporaryDirectory() as tmp:
        ctx, system = deploy(client, Path(tmp), services)
        try:
            full, cached = [], []
            target = load_target(ctx)
            for _ in range(checks):
                t0 = time.monotonic()
                report = check(ctx)
                full.append(time.monotonic() - t0)
                if not report.clean:
                    raise SystemExit(f"a fresh system drifted: {report.drifts[:3]}")
                t0 = time.monotonic()
                check(ctx, target)
                cached.append(time.monotonic() - t0)
            return full, cached, report.containers
        finally:
            cleanup(client, system)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--checks", type=int, default=7)
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = ap.parse_args()
    client = docker.from_env(timeout=300)
    ensure_base_image(client)
    kills = bench_kills(client, args.kills)
    full, cached, n = bench_check(client, args.services, args.checks)
    med = statistics.median
    lines = [
        f"- kill -> healthy replacement (heal mode, events): median {med(kills):.2f}s, "
        f"min {min(kills):.2f}s, max {max(kills):.2f}s over {len(kills)} kills",
        f"- one full `check` of {args.services} services ({n} containers: list + inspect + diff each, "
        f"spec load and resolve included): median {med(full) * 1000:.0f} ms over {len(full)}",
        f"- the loop's check (resolved spec cached): median {med(cached) * 1000:.0f} ms",
    ]
    print("\n".join(lines))
    if args.write:
        import os

        path = HERE / "RESULTS.md"
        head = "" if path.exists() else "# Benchmark results\n"
        with path.open("a") as f:
            f.write(f"{head}\n## Homeostasis\n\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()}-core machine, "
                    f"Docker {client.version()['Version']}, `bench/heal.py --kills {args.kills} "
                    f"--services {args.services} --checks {args.checks}`\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
