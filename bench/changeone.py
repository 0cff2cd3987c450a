"""Benchmark: change-one with requests counted, gitdeploy against Docker Compose v1 (issue 14's target
"change-one (1 replica, `monitor: 0s`): <= 1.2x Compose v1's time, with 0 failed requests against
Compose's dropped ones").

    .venv/bin/python bench/changeone.py [--runs 5] [--services 5] [--clients 1] [--write]

A small system per tool and run: `web`, a busybox `httpd -f -p 80` (`init: true`, 1 replica, no health
check) serving a file holding its VERSION, and `--services - 1` busybox `sleep` services. gitdeploy
gets `rollout: {monitor: 0s}` and its defaults otherwise (the drain included). A client container on
the system's network (Compose: the project's default network; gitdeploy: the system network) loops
`timeout 2 wget -qO- http://web/` by the service's name as fast as it can (`--clients` loops at once),
one line per request. Then web's VERSION changes and the tool runs as its own process (timed, as in
bench/core.py); the client keeps going 2 s after the tool exited. Counted: the requests that failed
between the tool's start and 2 s after its exit, and the time until the first answer at the new
version. Tools alternate (the first one swaps every run). Everything is removed by label/project at
the end, also on Ctrl-C.

Clock: the client stamps each request with /proc/uptime, which containers share with the host (no
time namespace); the host reads the same file around the tool's process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from core import GITDEPLOY, IMAGE, Bench, sh  # noqa: E402

SERVICE = "web"
TAIL = 2.0  # seconds after the tool's exit that still count
TOOLS = ("compose", "gitdeploy")
TARGET_RATIO = 1.2
CLIENT_LABEL = "bench.changeone"
# No `$` (Compose interpolates it) and no printenv (not in this busybox).
HTTPD = "mkdir -p /www && env | sed -n s/^VERSION=//p > /www/index.html && exec httpd -f -p 80 -h /www"

# One loop per client: start stamp, request, end stamp, one line "<ok|FAIL> <loop> <start> <end> <body|exitN>".
CLIENT = r"""loop() {
  while [ ! -e /tmp/stop ]; do
    read a x < /proc/uptime
    if out=$(timeout 2 wget -qO- http://SERVICE/ 2>/dev/null); then s=ok; else r=$?; s=FAIL; out="exit$r"; fi
    read e x < /proc/uptime
    echo "$s $1 $a $e $out"
  done
}
i=0; while [ $i -lt $1 ]; do i=$((i+1)); loop $i & done; wait; echo end
""".replace("SERVICE", SERVICE)


# -- pure helpers ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    ok: bool
    loop: int
    start: float  # /proc/uptime seconds
    end: float
    body: str  # the version answered, or "exitN" for a failure


@dataclass(frozen=True)
class RunFigures:
    seconds: float  # the tool's process
    failed: int  # failed requests in [tool start, tool exit + TAIL]
    requests: int  # all requests in that window
    first_new: float | None  # seconds from the tool's start to the end of the first answer at the new version
    failures: tuple[Request, ...]
    slowest: float = 0.0  # the longest request in the window (a lost SYN is sent again after 1 s)


def parse_lines(text: str) -> list[Request]:
    """The client's stdout as requests (other lines - "end", a half-written last line - are skipped)."""
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 4)
        if len(parts) < 4 or parts[0] not in ("ok", "FAIL"):
            continue
        try:
            out.append(Request(parts[0] == "ok", int(parts[1]), float(parts[2]), float(parts[3]),
                               parts[4].strip() if len(parts) > 4 else ""))
        except ValueError:
            continue
    return out


def count(requests: list[Request], t_start: float, t_end: float, new: str, tail: float = TAIL) -> RunFigures:
    """Figures of one change: requests overlapping [t_start, t_end + tail] (a request in flight when
    the tool started counts too), and the first answer at `new` after t_start."""
    window = [r for r in requests if r.end >= t_start and r.start <= t_end + tail]
    failures = tuple(r for r in window if not r.ok)
    first = min((r.end for r in requests if r.ok and r.body == new and r.end >= t_start), default=None)
    return RunFigures(t_end - t_start, len(failures), len(window),
                      None if first is None else first - t_start, failures,
                      max((r.end - r.start for r in window), default=0.0))


def verdict(gitdeploy: list[RunFigures], compose: list[RunFigures]) -> tuple[float, bool]:
    ratio = statistics.median(r.seconds for r in gitdeploy) / statistics.median(r.seconds for r in compose)
    return ratio, ratio <= TARGET_RATIO and all(r.failed == 0 for r in gitdeploy)


def spec_yaml(system: str, n: int, version: str) -> str:
    lines = [f"system: {system}", "services:",
             f"  {SERVICE}:", f"    image: {IMAGE}", f"    command: [sh, -c, '{HTTPD}']", "    init: true",
             f"    environment: {{VERSION: {version}}}", "    rollout: {monitor: 0s}"]
    for i in range(1, n):
        lines += [f"  s{i}:", f"    image: {IMAGE}", "    command: [sleep, '3600']", "    init: true",
                  "    rollout: {monitor: 0s}"]
    return "\n".join(lines) + "\n"


def compose_yaml(n: int, version: str) -> str:
    lines = ["version: '3.7'", "services:",
             f"  {SERVICE}:", f"    image: {IMAGE}", f"    command: [sh, -c, '{HTTPD}']", "    init: true",
             f"    environment: {{VERSION: {version}}}", "    restart: unless-stopped"]
    for i in range(1, n):
        lines += [f"  s{i}:", f"    image: {IMAGE}", "    command: [sleep, '3600']", "    init: true",
                  "    restart: unless-stopped"]
    return "\n".join(lines) + "\n"


def render(results: dict[str, list[RunFigures]], loads: list[float], n: int, clients: int, day: str) -> str:
    med = lambda xs: statistics.median(xs) if xs else None  # noqa: E731
    lines = [
        f"## Change-one with requests counted ({day})",
        "",
        f"`bench/changeone.py --runs {len(results['gitdeploy'])} --services {n} --clients {clients}`: {n} services,",
        f"`{SERVICE}` a busybox httpd (1 replica, `init: true`, no health check) whose VERSION changes, the rest",
        "`sleep`. gitdeploy with `rollout: {monitor: 0s}` and its defaults otherwise (drain included).",
        f"A client on the system's network loops `timeout 2 wget -qO- http://{SERVICE}/` by name ({clients} loop(s)).",
        f"Counted: requests that failed between the tool's start and {TAIL:g} s after its exit. Each tool runs",
        "as its own process; they alternate. The machine is shared (2 cores, other sessions running tests):",
        f"1-minute load average {min(loads):.1f} to {max(loads):.1f} (median {statistics.median(loads):.1f}).",
        "",
        "| tool | median time | times (s) | failed requests per run | requests per run"
        " | first answer at new version (median) | slowest request per run (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for tool in TOOLS:
        rs = results[tool]
        first = med([r.first_new for r in rs if r.first_new is not None])
        lines.append(
            f"| {'Compose v1' if tool == 'compose' else 'gitdeploy'} | {med([r.seconds for r in rs]):.2f} s"
            f" | {', '.join(f'{r.seconds:.2f}' for r in rs)} | {', '.join(str(r.failed) for r in rs)}"
            f" (total {sum(r.failed for r in rs)}) | {', '.join(str(r.requests) for r in rs)}"
            f" | {'-' if first is None else f'{first:.2f} s'} | {', '.join(f'{r.slowest:.2f}' for r in rs)} |")
    ratio, ok = verdict(results["gitdeploy"], results["compose"])
    dropped = sum(r.failed for r in results["gitdeploy"])
    lines += ["", f"gitdeploy / Compose v1 (median times): **{ratio:.2f}x**. Target \"<= {TARGET_RATIO:g}x Compose v1's"
              f" time with 0 failed requests\": **{'met' if ok else 'NOT MET'}** (time {'within' if ratio <= TARGET_RATIO else 'over'}"
              f" {TARGET_RATIO:g}x; gitdeploy failed {dropped} request(s), Compose {sum(r.failed for r in results['compose'])}).", ""]
    return "\n".join(lines)


# -- the engine side -------------------------------------------------------------------------------

class ChangeOne(Bench):
    def __init__(self, n: int, runs: int, clients: int) -> None:
        super().__init__(n, runs)
        self.clients = clients
        self.systems: set[str] = set()

    def cleanup(self, system: str) -> None:
        """Everything of `system` by label/project: the tools' containers, the client, a lock left by
        an interrupted gitdeploy, then the networks (core's cleanup). A container that goes away
        meanwhile (a tool still removing it after Ctrl-C) is fine."""
        import docker.errors

        for label in (CLIENT_LABEL, "io.gitdeploy.system", "io.gitdeploy.lock.system", "com.docker.compose.project"):
            for c in self.client.api.containers(all=True, filters={"label": f"{label}={system}"}):
                try:
                    self.client.api.remove_container(c["Id"], force=True, v=True)
                except docker.errors.NotFound:
                    pass
        super().cleanup(system)

    def deploy(self, tool: str, system: str, version: str) -> float:
        self.systems.add(system)
        if tool == "compose":
            d = self.tmp / f"{system}-compose"
            d.mkdir(exist_ok=True)
            (d / "docker-compose.yml").write_text(compose_yaml(self.n, version))
            return sh(["docker-compose", "-p", system, "up", "-d"], cwd=d)
        repo = self.tmp / system
        repo.mkdir(exist_ok=True)
        (repo / "gitdeploy.yaml").write_text(spec_yaml(system, self.n, version))
        ident = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "--allow-empty", "-m", version]):
            subprocess.run(cmd, cwd=repo, env=dict(os.environ, **ident), check=True, capture_output=True)
        return sh([*GITDEPLOY, "--repo", str(repo), "deploy"], env=self.env)

    def start_client(self, tool: str, system: str):
        network = f"{system}_default" if tool == "compose" else f"{system}.production"
        c = self.client.containers.run(IMAGE, ["sh", "-c", CLIENT, "sh", str(self.clients)], detach=True,
                                       network=network, labels={CLIENT_LABEL: system})
        deadline = time.monotonic() + 60
        while not any(r.ok for r in parse_lines(c.logs(stderr=False).decode())):
            if time.monotonic() > deadline:
                raise SystemExit(f"the client on {network} got no answer in 60 s:\n{c.logs().decode()[-600:]}")
            time.sleep(0.2)
        time.sleep(1.0)  # a steady request rate before the change
        return c

    def one(self, tool: str, system: str) -> RunFigures:
        self.cleanup(system)
        try:
            self.deploy(tool, system, "v1")
            client = self.start_client(tool, system)
            t_start = uptime()
            self.deploy(tool, system, "v2")
            t_end = uptime()
            while uptime() < t_end + TAIL + 0.3:
                time.sleep(0.1)
            client.exec_run(["touch", "/tmp/stop"])
            client.wait(timeout=30)
            figures = count(parse_lines(client.logs(stderr=False).decode()), t_start, t_end, "v2")
        finally:
            self.cleanup(system)
        self.loads.append(os.getloadavg()[0])
        first = "-" if figures.first_new is None else f"{figures.first_new:.2f}s"
        print(f"  {tool:<10} {figures.seconds:6.2f}s  failed {figures.failed:3d} of {figures.requests:4d}"
              f"  first v2 after {first}  slowest {figures.slowest:.2f}s  (load {self.loads[-1]:.1f})", flush=True)
        for r in figures.failures[:10]:
            print(f"      FAIL loop {r.loop} {r.start - t_start:+.2f}s..{r.end - t_start:+.2f}s {r.body}", flush=True)
        return figures

    def run_all(self) -> dict[str, list[RunFigures]]:
        results: dict[str, list[RunFigures]] = {t: [] for t in TOOLS}
        tag = f"chg{os.getpid()}"
        for run in range(self.runs):
            for tool in (TOOLS if run % 2 == 0 else TOOLS[::-1]):
                results[tool].append(self.one(tool, f"{tag}r{run}{tool[0]}"))
        return results


def uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--services", type=int, default=5)
    ap.add_argument("--clients", type=int, default=1, help="concurrent request loops in the client")
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = ap.parse_args()
    import docker
    import docker.errors

    from gitdeploy.live.baseimage import ensure_base_image

    ensure_base_image(docker.from_env())
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "gitdeploy")], env=env, check=True)
    bench = ChangeOne(args.services, args.runs, args.clients)
    print(f"change-one, {args.services} services, {args.clients} client loop(s), {args.runs} run(s) per tool")
    try:
        results = bench.run_all()
    except KeyboardInterrupt:
        print("interrupted: cleaning up", flush=True)
        raise SystemExit(130) from None
    finally:  # also on Ctrl-C
        for system in bench.systems:
            for _attempt in range(3):  # after Ctrl-C a tool may still be removing what it had
                try:
                    bench.cleanup(system)
                    break
                except docker.errors.NotFound:
                    time.sleep(1)
        import shutil

        shutil.rmtree(bench.tmp, ignore_errors=True)
    text = render(results, bench.loads, args.services, args.clients, time.strftime("%Y-%m-%d"))
    print(text)
    if args.write:
        with (HERE / "RESULTS.md").open("a") as f:
            f.write("\n" + text + "\n")


if __name__ == "__main__":
    main()
