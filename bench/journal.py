"""Benchmark: what the deploy journal costs a 50-service deploy.

The journal writes the intent (fsync + rename) before the engine is touched and one fsync'd
line per engine action (group commit: parallel steps share an fsync). Deploys with the real
journal alternate with deploys whose journal calls are replaced by no-ops (in this benchmark
only: gitdeploy itself has no switch to turn it off), in one run, so the ratio compares like
with like:

    .venv/bin/python bench/journal.py [--runs 3] [--services 50]

Scenarios: a fresh deploy (every service created), a change of every service (a replace: the
most ops), and a no-op (nothing changes: no journal is written). Also the cost of the no-op's
verification, which now reads every running container's health and aliases (inspections,
cached by endpoint ID).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gitdeploy import pipeline  # noqa: E402
from gitdeploy.deploy import journal  # noqa: E402
from gitdeploy.live.baseimage import ensure_base_image  # noqa: E402
from tests.conftest import _cleanup  # noqa: E402
from tests.specrepo import SpecRepo  # noqa: E402

REAL = {name: getattr(journal.Journal, name) for name in ("begin", "note", "finish")}


def journal_on(on: bool) -> None:
    for name, fn in REAL.items():
        setattr(journal.Journal, name, fn if on else (lambda self, *a, **kw: None))


def spec(system: str, n: int, version: str) -> dict:
    return {"system": system, "services": {
        f"s{i}": {"image": "gitdeploy/busybox:1", "command": ["sleep", "3600"], "init": True,
                  "environment": {"VERSION": version}, "stop_grace_period": "1s",
                  "rollout": {"monitor": "0s", "drain": "0s"}} for i in range(n)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--services", type=int, default=50)
    args = ap.parse_args()
    client = docker.from_env(timeout=300)
    ensure_base_image(client)
    rows: dict[tuple[str, bool], list[float]] = {}
    for run in range(args.runs):
        for on in ((True, False) if run % 2 == 0 else (False, True)):
            journal_on(on)
            system = f"bj{uuid.uuid4().hex[:6]}"
            with tempfile.TemporaryDirectory() as tmp:
                repo = SpecRepo.create(Path(tmp), client)
                ctx = repo.ctx()
                try:
                    for scenario, version in (("fresh", "v1"), ("change-all", "v2"), ("no-op", "v2")):
                        if scenario != "no-op":
                            repo.commit({"gitdeploy.yaml": spec(system, args.services, version)})
                        t = time.perf_counter()
                        result = pipeline.deploy(ctx)
                        rows.setdefault((scenario, on), []).append(time.perf_counter() - t)
                        assert result.ok, result.failure
                finally:
                    _cleanup(client, system)
            print(f"run {run + 1} journal {'on' if on else 'off'}: " + ", ".join(
                f"{k} {v[-1]:.2f}s" for (k, o), v in rows.items() if o == on), flush=True)
    journal_on(True)
    print(f"\n{args.services} services, median of {args.runs} runs each")
    print("| scenario | journal off | journal on | on / off |")
    print("|---|---|---|---|")
    for scenario in ("fresh", "change-all", "no-op"):
        off, on_ = statistics.median(rows[(scenario, False)]), statistics.median(rows[(scenario, True)])
        print(f"| {scenario} | {off:.2f} s | {on_:.2f} s | {on_ / off:.3f} |")
    # the no-op's verification: one list plus one inspect per running container
    with tempfile.TemporaryDirectory() as tmp:
        system = f"bj{uuid.uuid4().hex[:6]}"
        repo = SpecRepo.create(Path(tmp), client)
        repo.commit({"gitdeploy.yaml": spec(system, args.services, "v1")})
        ctx = repo.ctx()
        try:
            assert pipeline.deploy(ctx).ok
            engine = ctx.engine()
            lists, inspected = [], []
            for _ in range(10):
                t = time.perf_counter()
                engine.analyze(system, "production", inspect=False)
                lists.append(time.perf_counter() - t)
                t = time.perf_counter()
                engine.analyze(system, "production", inspect=True)
                inspected.append(time.perf_counter() - t)
            print(f"\nanalyze of {args.services} running containers: list only "
                  f"{statistics.median(lists) * 1000:.1f} ms, with inspections "
                  f"{statistics.median(inspected) * 1000:.1f} ms (median of 10)")
        finally:
            _cleanup(client, system)


if __name__ == "__main__":
    main()
