"""Benchmark the bot: webhook acknowledgement latency, and "PR opened" -> plan comment posted.

(a) 2,000 signed deliveries (pushes to a branch no environment deploys from: the full path -
    HMAC check, JSON parse, event translation, the delivery recorded durably in SQLite - but no
    job) from 4 client threads with keep-alive, on loopback, to `gitdeploy serve` (waitress).
    Target: p99 < 50 ms.
(b) A 50-service system (busybox `sleep`, `init: true`) deployed to the real engine by a push;
    then PRs changing one service are opened one after another, and the time from sending the
    `pull_request opened` delivery to the plan comment appearing in the fake GitHub's recorded
    state is measured (median of --runs). Target: < 2 s. PyGithub pacing is OFF (pace: false)
    against the local fake; GitHub itself would add its latency and pacing.

    .venv/bin/python bench/webhook.py [--deliveries 2000] [--runs 5] [--services 50] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import docker
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitdeploy.live import labels  # noqa: E402
from gitdeploy.live.baseimage import ensure_base_image  # noqa: E402
from gitdeploy.render.comments import plan_marker  # noqa: E402
from tests.bot.conftest import REPO, Bot, Origin, pr_event, push_event, svc  # noqa: E402
from tests.fakegithub import FakeGitHub  # noqa: E402
from tests.server.conftest import sign  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ack_latency(bot: Bot, deliveries: int, threads: int) -> dict:
    body = json.dumps(push_event("docs", "0" * 39 + "1", "f" * 40)).encode()
    signature = sign(body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    per_thread = deliveries // threads

    def client() -> None:
        session = requests.Session()
        mine, codes = [], {}
        for _ in range(per_thread):
            headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
                       "Content-Type": "application/json", "X-Hub-Signature-256": signature}
            t0 = time.perf_counter()
            r = session.post(f"{bot.url}/webhooks/github", data=body, headers=headers, timeout=10)
            mine.append(time.perf_counter() - t0)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    wall = time.perf_counter() - started
    return {"deliveries": len(latencies), "threads": threads, "statuses": statuses,
            "p50_ms": pct(latencies, 50) * 1000, "p99_ms": pct(latencies, 99) * 1000,
            "max_ms": max(latencies) * 1000, "per_second": len(latencies) / wall}


def plan_latency(bot: Bot, fake: FakeGitHub, origin: Origin, system: str, services: int, runs: int) -> dict:
    spec = {"system": system, "services": {f"s{i:02d}": svc() for i in range(services)}}
    base = origin.commit("main", spec, "50 services")
    t0 = time.perf_counter()
    [job] = bot.run("push", push_event("main", "0" * 40, base), timeout=600)
    deploy_s = time.perf_counter() - t0
    assert job.state == "done", job.result
    seconds = []
    for n in range(1, runs + 1):
        changed = json.loads(json.dumps(spec))
        changed["services"]["s00"]["environment"] = {"RUN": str(n)}
        head = origin.commit(f"pr{n}", changed, f"change s00 ({n})")
        fake.state.add_pull(REPO, 100 + n, head_sha=head, head_ref=f"pr{n}", base_ref="main")
        want = f"Head: `{head}`"
        t0 = time.perf_counter()
        r = bot.deliver("pull_request", pr_event("opened", 100 + n, head, f"pr{n}"))
        assert r.status_code == 202, r.text
        while not any(c["body"].startswith(plan_marker("production")) and want in c["body"]
                      for c in fake.state.comments(REPO, 100 + n)):
            assert time.perf_counter() - t0 < 60, bot.output()
            time.sleep(0.002)
        seconds.append(time.perf_counter() - t0)
    body = [c["body"] for c in fake.state.comments(REPO, 100 + runs) if want in c["body"]][0]
    assert "1 to replace" in body and f"{services - 1} unchanged" in body, body[:400]
    return {"services": services, "runs": seconds, "median_s": statistics.median(seconds), "deploy_s": deploy_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deliveries", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = ap.parse_args()

    client = docker.from_env(timeout=300)
    ensure_base_image(client)
    system = f"bbot{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="gd-bench-bot-") as tmp, FakeGitHub() as fake:
        fake.state.add_repo(REPO, default_branch="main")
        origin = Origin(Path(tmp))
        bot = Bot(Path(tmp), fake, origin).start()
        try:
            ack = ack_latency(bot, args.deliveries, args.threads)
            print(f"(a) ack: {ack['deliveries']} deliveries, {ack['threads']} threads, statuses {ack['statuses']}: "
                  f"p50 {ack['p50_ms']:.1f} ms, p99 {ack['p99_ms']:.1f} ms, max {ack['max_ms']:.1f} ms, "
                  f"{ack['per_second']:.0f}/s")
            plan = plan_latency(bot, fake, origin, system, args.services, args.runs)
            print(f"(b) PR opened -> plan comment, {plan['services']} services: median {plan['median_s']:.2f} s "
                  f"(runs: {', '.join(f'{s:.2f}' for s in plan['runs'])}); the initial deploy took "
                  f"{plan['deploy_s']:.1f} s")
        finally:
            bot.stop()
            for c in client.containers.list(all=True, filters={"label": f"{labels.SYSTEM}={system}"}):
                c.remove(force=True)
            for n in client.networks.list(filters={"label": f"{labels.SYSTEM}={system}"}):
                n.remove()
    if args.write:
        write(ack, plan)
    return 0 if ack["p99_ms"] < 50 and plan["median_s"] < 2 else 1


def write(ack: dict, plan: dict) -> None:
    """Append the figures to the "## Bot" section of bench/RESULTS.md (created if missing)."""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if "\n## Bot\n" not in text:
        text = text.rstrip("\n") + ("\n\n## Bot\n\n`bench/webhook.py`; PyGithub pacing off (pace: false) against "
                                    "the local fake GitHub; loopback; real Docker Engine.\n")
    entry = (
        f"\n{time.strftime('%Y-%m-%d')}, 2 cores (1-minute load average {os.getloadavg()[0]:.1f} at the end, "
        f"the benchmark's own server and clients included):\n"
        f"- (a) webhook acknowledgement, {ack['deliveries']} signed deliveries (pushes to a non-environment "
        f"branch: HMAC + durable SQLite record, no job), {ack['threads']} client threads: "
        f"p50 **{ack['p50_ms']:.1f} ms**, p99 **{ack['p99_ms']:.1f} ms** (target < 50 ms), max {ack['max_ms']:.1f} ms, "
        f"{ack['per_second']:.0f} deliveries/s\n"
        f"- (b) `pull_request opened` delivery -> plan comment posted, {plan['services']}-service busybox system "
        f"deployed, the PR changes one service: median **{plan['median_s']:.2f} s** over {len(plan['runs'])} runs "
        f"(target < 2 s; runs {', '.join(f'{s:.2f}' for s in plan['runs'])})\n")
    at = text.index("\n## Bot\n") + len("\n## Bot\n")
    nxt = text.find("\n## ", at)  # others append their own sections: ours goes at the end of the Bot one
    end = len(text) if nxt < 0 else nxt
    text = text[:end].rstrip("\n") + "\n" + entry + text[end:]
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
