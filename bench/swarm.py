"""Benchmark: gitdeploy on a 2-node Swarm cluster against `docker stack deploy`, to convergence.

The cluster is the test suite's own (tests/swarm/cluster.py): two dockerds, each in its own
network namespace, and a registry every node pulls from; it is built at the start and removed at
the end. 20 services x 2 replicas (busybox `sleep`, `init: true`, `endpoint_mode: dnsrr`, start-first,
one replica at a time), written once as a gitdeploy spec and once as a compose v3 stack file
naming the same image tag in the cluster's registry (each tool resolves it to a digest itself).

Both tools run as processes. `docker stack deploy` returns before its tasks run, so every figure
is the time until the bench sees the cluster converged: every task of every service running at
the spec that scenario asks for (its own check, one `service ls` + `task ls` every 0.1 s, the same
for both tools); for gitdeploy the process exit is also awaited (it exits once it has verified).

Scenarios, on a fresh system per tool and repetition (the tools alternate: stack first in odd
repetitions, gitdeploy first in even ones):
- fresh: 20 services created;
- no-op: the same services again (gitdeploy: a new commit that changes nothing);
- change-one: one service's environment changed;
- fail+rollback: one service changed (good) and another given a command that exits at once
  (bad, `monitor: 3s`). The stack has `update_config.failure_action: rollback`: measured until the
  bad service's update is `rollback_completed` and every task runs again - the good service
  stays new (Swarm rolls back per service). gitdeploy returns every service of the deploy to its
  previous spec and exits 1: measured until exit and every task at the old spec.
- fail-alone: the same failing change without rollback (the stack: `failure_action: pause`;
  gitdeploy: `rollout.on_failure: pause`, which exits 1 at the first failure), measured for both
  to convergence like every other figure: until the good service runs its new tasks and Swarm has
  paused the bad one's update. The denominator of the rollback target; gitdeploy's exit alone is
  reported beside it.

    .venv/bin/python bench/swarm.py [--runs 3] [--warmup 1] [--services 20] [--replicas 2] [--write]

`--warmup N`: N unmeasured sequences per tool before the counted runs (the first deploys on a new
cluster pull the image on every node).

Needs root, the docker CLI (for `docker stack deploy`) and what tests/swarm/cluster.py needs.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

PY = sys.executable
GITDEPLOY = [PY, "-m", "gitdeploy"]
ENV_NAME = "production"
GOOD_COMMAND = ("sleep", "3600")
BAD_COMMAND = ("sh", "-c", "exit 3")  # runs for an instant, then fails: Swarm's monitor sees it
BAD_MONITOR = "3s"
CHANGED = 7  # the service change-one changes
GOOD, BAD = 3, 13  # the services the failing deploys change
SYSTEM_LABEL = "io.gitdeploy.system"
STACK_LABEL = "com.docker.stack.namespace"
TOOLS = ("stack", "gitdeploy")
SCENARIOS = ("fresh", "no-op", "change-one", "fail+rollback", "fail-alone")


# -- what each scenario deploys (pure) ------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One revision of the services: their VERSION, which one runs the failing command, and what
    the failing service's update does when it fails ("rollback" or "pause")."""

    n: int
    replicas: int
    versions: tuple[tuple[int, str], ...] = ()  # services whose VERSION is not v0
    bad: int | None = None
    on_failure: str = "rollback"

    def version(self, i: int) -> str:
        return dict(self.versions).get(i, "v0")

    def command(self, i: int) -> tuple[str, ...]:
        return BAD_COMMAND if i == self.bad else GOOD_COMMAND

    def monitor(self, i: int) -> str:
        return BAD_MONITOR if i == self.bad else "0s"

    def but(self, versions: dict[int, str] | None = None, bad: int | None = None, on_failure: str = "rollback") -> Variant:
        merged = dict(self.versions) | (versions or {})
        return Variant(self.n, self.replicas, tuple(sorted(merged.items())), bad, on_failure)


def _flow(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{x}'" for x in items) + "]"


def spec_yaml(system: str, image: str, v: Variant) -> str:
    """gitdeploy.yaml for the swarm engine."""
    lines = [f"system: {system}", "services:"]
    for i in range(v.n):
        rollout = f"monitor: {v.monitor(i)}" + (f", on_failure: {v.on_failure}" if i == v.bad else "")
        lines += [
            f"  s{i}:",
            f"    image: {image}",
            f"    command: {_flow(v.command(i))}",
            "    init: true",
            f"    replicas: {v.replicas}",
            "    endpoint_mode: dnsrr",
            f"    environment: {{VERSION: {v.version(i)}}}",
            "    stop_grace_period: 1s",
            f"    rollout: {{{rollout}, order: start-first, parallelism: 1}}",
        ]
    return "\n".join(lines) + "\n"


def stack_yaml(image: str, v: Variant) -> str:
    """The same services as a compose v3 stack file for `docker stack deploy`."""
    lines = ["version: '3.7'", "services:"]
    for i in range(v.n):
        action = v.on_failure if i == v.bad else "pause"
        lines += [
            f"  s{i}:",
            f"    image: {image}",
            f"    command: {_flow(v.command(i))}",
            "    init: true",
            f"    environment: {{VERSION: {v.version(i)}}}",
            "    stop_grace_period: 1s",
            "    deploy:",
            f"      replicas: {v.replicas}",
            "      endpoint_mode: dnsrr",
            f"      update_config: {{parallelism: 1, delay: 0s, order: start-first, monitor: {v.monitor(i)},"
            f" failure_action: {action}}}",
            "      rollback_config: {parallelism: 1, delay: 0s, order: start-first, monitor: 0s,"
            " failure_action: pause}",
        ]
    return "\n".join(lines) + "\n"


# -- convergence, judged the same way for both tools (pure) ---------------------------------


@dataclass(frozen=True)
class Want:
    """What one service must show: its tasks running at `version` with the good or the bad
    command (`tasks`), and/or Swarm's UpdateStatus.State (`update`, "" = no requirement)."""

    version: str = "v0"
    bad: bool = False
    tasks: bool = True
    update: str = ""


def wants(v: Variant) -> dict[str, Want]:
    """Every service converged at `v`."""
    return {f"s{i}": Want(v.version(i), i == v.bad) for i in range(v.n)}


def _env(task: dict[str, Any]) -> list[str]:
    return ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Env") or []


def _args(task: dict[str, Any]) -> list[str]:
    return ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Args") or []


def not_converged(services: dict[str, dict[str, Any]], tasks: list[dict[str, Any]],
                  want: dict[str, Want], replicas: int) -> str | None:
    """Why the cluster is not yet as `want` says (None when it is). `services`: bench service name
    ("s7") -> the service as `service inspect` shows it; `tasks`: every task of the cluster."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for t in tasks:
        by_service.setdefault(t.get("ServiceID", ""), []).append(t)
    for name, w in sorted(want.items()):
        svc = services.get(name)
        if svc is None:
            return f"{name}: no such service yet"
        if w.update:
            state = (svc.get("UpdateStatus") or {}).get("State", "")
            if state != w.update:
                return f"{name}: update {state or 'none'}, waiting for {w.update}"
        if not w.tasks:
            continue
        command = list(BAD_COMMAND if w.bad else GOOD_COMMAND)

        def at(t: dict[str, Any], w: Want = w, command: list[str] = command) -> bool:
            return f"VERSION={w.version}" in _env(t) and _args(t) == command

        mine = by_service.get(svc["ID"], [])
        desired = [t for t in mine if t.get("DesiredState") == "running"]
        running_at = [t for t in desired if at(t) and t["Status"]["State"] == "running"]
        stale = [t for t in mine if t["Status"]["State"] == "running" and not at(t)]
        # more than `replicas` is converged too (every task runs the spec): see `surplus`
        if len(running_at) < replicas or len(running_at) != len(desired):
            return f"{name}: {len(running_at)}/{replicas} tasks running at {w.version}"
        if stale:
            return f"{name}: {len(stale)} task(s) still running another spec"
    return None


def surplus(services: dict[str, dict[str, Any]], tasks: list[dict[str, Any]], replicas: int) -> list[str]:
    """Services with more tasks meant to run than replicas ("s13: 3 tasks for 2 replicas")."""
    out = []
    for name, svc in sorted(services.items()):
        n = sum(1 for t in tasks if t.get("ServiceID") == svc["ID"] and t.get("DesiredState") == "running")
        if n > replicas:
            out.append(f"{name}: {n} tasks for {replicas} replicas")
    return out


# -- the cluster side -----------------------------------------------------------------------


@dataclass
class Timing:
    process: float  # until the tool's process exited
    converged: float  # until the process exited and the cluster was as wanted
    rc: int
    output: str = ""
    waited_for: str = ""  # what the first look after the exit found not yet converged


def retried(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """`fn(*args, **kw)`, again after a dropped connection (a loaded engine closes idle ones)."""
    import requests.exceptions

    for attempt in range(5):
        try:
            return fn(*args, **kw)
        except requests.exceptions.ConnectionError:
            if attempt == 4:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


@dataclass
class Results:
    times: dict[str, dict[str, list[Timing]]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)
    tool_loads: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, scenario: str, tool: str, t: Timing) -> None:
        self.times.setdefault(scenario, {}).setdefault(tool, []).append(t)
        self.loads.append(os.getloadavg()[0])
        self.tool_loads.setdefault(tool, []).append(self.loads[-1])
        print(f"  {scenario:<14} {tool:<10} exit {t.process:6.2f}s  converged {t.converged:6.2f}s  rc {t.rc}"
              f"  (load {self.loads[-1]:.1f})" + (f"  after the exit: {t.waited_for}" if t.waited_for else ""),
              flush=True)

    def median(self, scenario: str, tool: str, what: str = "converged") -> float | None:
        runs = self.times.get(scenario, {}).get(tool)
        return statistics.median(getattr(t, what) for t in runs) if runs else None


class Bench:
    def __init__(self, cluster: Any, n: int, replicas: int, tmp: Path) -> None:
        self.cluster = cluster
        self.n, self.replicas = n, replicas
        self.api = cluster.manager.api
        self.host = cluster.nodes[0].host
        self.image = f"{cluster.registry}/gitdeploy/busybox:1"
        self.tmp = tmp
        base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        self.env = base | {"GITDEPLOY_HOME": str(tmp / "home"), "DOCKER_CONFIG": str(tmp / "docker-config"),
                           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
                           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
        for k in ("DOCKER_HOST", "GITDEPLOY_ENGINE", "GITDEPLOY_REGISTRY"):
            self.env.pop(k, None)
        self.reruns: list[str] = []  # stack deploys refused "update out of sequence" and run again
        self.surplus: list[str] = []  # converged with more tasks than replicas (tool: service: ...)

    # -- observing --------------------------------------------------------------------------

    def services(self, tool: str, system: str) -> dict[str, dict[str, Any]]:
        label = f"{SYSTEM_LABEL}={system}" if tool == "gitdeploy" else f"{STACK_LABEL}={system}"
        out = {}
        for s in retried(self.api.services, filters={"label": label}):
            labels = s["Spec"].get("Labels") or {}
            name = labels.get("io.gitdeploy.service") if tool == "gitdeploy" else s["Spec"]["Name"][len(system) + 1:]
            out[name] = s
        return out

    def check(self, tool: str, system: str, want: dict[str, Want]) -> Callable[[], str | None]:
        def look() -> str | None:
            services, tasks = self.services(tool, system), retried(self.api.tasks)
            why = not_converged(services, tasks, want, self.replicas)
            if why is None:
                for line in surplus(services, tasks, self.replicas):
                    self.surplus.append(f"{tool}: {line}")
            return why

        return look

    def settle(self, tool: str, system: str, timeout: float = 120.0) -> None:
        """Before a scenario: wait until Swarm has finished the previous one's updates (it moves a
        service's version once more when an update completes; a deploy racing that is refused
        "update out of sequence")."""
        deadline = time.monotonic() + timeout
        while any((s.get("UpdateStatus") or {}).get("State") in ("updating", "rollback_started")
                  for s in self.services(tool, system).values()) and time.monotonic() < deadline:
            time.sleep(0.2)

    def run(self, cmd: list[str], cwd: Path | None, check: Callable[[], str | None] | None,
            expect_rc: int | None = 0, timeout: float = 300.0, retry_out_of_sequence: bool = False) -> Timing:
        t0 = time.perf_counter()
        for attempt in range(3):
            proc = subprocess.run(cmd, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout)
            output = (proc.stdout + proc.stderr).strip()
            if not (retry_out_of_sequence and proc.returncode != 0 and "out of sequence" in output and attempt < 2):
                break
            self.reruns.append(cmd[-1])  # a user would run it again; the time counts
        process = time.perf_counter() - t0
        if expect_rc is not None and proc.returncode != expect_rc:
            raise SystemExit(f"{' '.join(cmd[-3:])}: exit {proc.returncode}, expected {expect_rc}:\n{output[-3000:]}")
        why = check() if check else None
        first = why or ""
        while why is not None:
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"not converged after {timeout:.0f}s: {why}\n{output[-2000:]}")
            time.sleep(0.1)
            why = check()
        return Timing(process, time.perf_counter() - t0, proc.returncode, output, first)

    # -- the two tools ----------------------------------------------------------------------

    def gitdeploy(self, system: str, v: Variant, want: dict[str, Want] | None, expect_rc: int = 0) -> Timing:
        repo = self.tmp / system
        if not repo.exists():
            repo.mkdir()
            subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=self.env)
        self.settle("gitdeploy", system)
        (repo / "gitdeploy.yaml").write_text(spec_yaml(system, self.image, v))
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=self.env)
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "bench"], check=True, env=self.env)
        cmd = [*GITDEPLOY, "--engine", "swarm", "--docker-host", self.host, "--registry", self.cluster.registry,
               "--repo", str(repo), "deploy"]
        check = self.check("gitdeploy", system, want) if want is not None else None
        return self.run(cmd, None, check, expect_rc)

    def stack(self, system: str, v: Variant, want: dict[str, Want], detach: bool = True,
              expect_rc: int | None = 0) -> Timing:
        folder = self.tmp / system
        folder.mkdir(exist_ok=True)
        self.settle("stack", system)
        (folder / "stack.yml").write_text(stack_yaml(self.image, v))
        cmd = ["docker", "-H", self.host, "stack", "deploy", f"--detach={str(detach).lower()}", "-c", "stack.yml",
               system]
        return self.run(cmd, folder, self.check("stack", system, want), expect_rc, retry_out_of_sequence=True)

    def stack_waiting(self, res: Results) -> None:
        """Once, outside the figures: what `docker stack deploy --detach=false` (it waits for the
        services itself) says after a rollback, and whether its services run pinned images."""
        system = f"b{uuid.uuid4().hex[:6]}w"
        base = Variant(self.n, self.replicas)
        try:
            fresh = self.stack(system, base, wants(base), detach=False)
            images = {s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for s in self.services("stack", system).values()}
            pinned = all("@sha256:" in i for i in images)
            failing = base.but({GOOD: "v3"}, bad=BAD, on_failure="rollback")
            t = self.stack(system, failing, {}, detach=False, expect_rc=None)  # the CLI waited itself
            states = {n: (s.get("UpdateStatus") or {}).get("State", "none")
                      for n, s in self.services("stack", system).items()}
            res.notes.append(
                f"- `docker stack deploy --detach=false` (the CLI waits for each service itself), once: a fresh deploy"
                f" returned after {fresh.process:.2f} s; the failing deploy after {t.process:.2f} s, with exit code"
                f" **{t.rc}**; Swarm's update of s{BAD} was then `{states.get(f's{BAD}')}`, of s{GOOD}"
                f" `{states.get(f's{GOOD}')}`"
                + ("" if states.get(f"s{BAD}") == "rollback_completed" else
                   f" (Swarm's monitor did not catch s{BAD}'s failing task this time: nothing was rolled back)")
                + ". The stack's services ran"
                f" {'images pinned by digest (the CLI resolved the tag: the registry could be asked)' if pinned else 'unpinned tags: ' + ', '.join(sorted(images))}.")
        finally:
            self.cleanup("stack", system)

    # -- one tool's scenarios on a fresh system -----------------------------------------------

    def sequence(self, tool: str, res: Results) -> None:
        system = f"b{uuid.uuid4().hex[:6]}{tool[0]}"
        base = Variant(self.n, self.replicas)
        changed = base.but({CHANGED: "v1"})
        try:
            if tool == "stack":
                res.add("fresh", tool, self.stack(system, base, wants(base)))
                res.add("no-op", tool, self.stack(system, base, wants(base)))
                res.add("change-one", tool, self.stack(system, changed, wants(changed)))
                # Swarm rolls back the failing service alone: the good one stays new
                failing = changed.but({GOOD: "v3"}, bad=BAD, on_failure="rollback")
                want = wants(changed.but({GOOD: "v3"}))
                want[f"s{BAD}"] = Want(changed.version(BAD), update="rollback_completed")
                t = self.stack(system, failing, want)
                res.add("fail+rollback", tool, t)
                after = changed.but({GOOD: "v3"})
                paused = after.but({GOOD: "v4"}, bad=BAD, on_failure="pause")
                # the failed update to its end: the good service's update done, the bad one's paused
                want = {f"s{GOOD}": Want("v4"), f"s{BAD}": Want(tasks=False, update="paused")}
                res.add("fail-alone", tool, self.stack(system, paused, want))
            else:
                res.add("fresh", tool, self.gitdeploy(system, base, wants(base)))
                res.add("no-op", tool, self.gitdeploy(system, base, wants(base)))
                res.add("change-one", tool, self.gitdeploy(system, changed, wants(changed)))
                failing = changed.but({GOOD: "v3"}, bad=BAD, on_failure="rollback")
                res.add("fail+rollback", tool, self.gitdeploy(system, failing, wants(changed), expect_rc=1))
                paused = changed.but({GOOD: "v4"}, bad=BAD, on_failure="pause")
                # to convergence, as the stack's: gitdeploy exits 1 at the first failure, while Swarm
                # still finishes the good service's update and pauses the bad one's
                want = {f"s{GOOD}": Want("v4"), f"s{BAD}": Want(tasks=False, update="paused")}
                res.add("fail-alone", tool, self.gitdeploy(system, paused, want, expect_rc=1))
        finally:
            self.cleanup(tool, system)

    def cleanup(self, tool: str, system: str) -> None:
        """Remove the system's services, wait until no task container is left on any node, then
        remove its networks, configs and secrets (and gitdeploy's lock config)."""
        label = f"{SYSTEM_LABEL}={system}" if tool == "gitdeploy" else f"{STACK_LABEL}={system}"
        for s in retried(self.api.services, filters={"label": label}):
            retried(self.api.remove_service, s["ID"])
        deadline = time.monotonic() + 120
        while any(retried(self.cluster.client(n.index).api.containers, all=True) for n in self.cluster.nodes):
            if time.monotonic() > deadline:
                print(f"  (containers of {system} still on the nodes after 120 s)")
                break
            time.sleep(0.2)
        for kind in ("configs", "secrets", "networks"):
            for obj in retried(getattr(self.api, kind)):
                name = obj.get("Name") or obj.get("Spec", {}).get("Name", "")
                if system in name:
                    remove = {"configs": self.api.remove_config, "secrets": self.api.remove_secret,
                              "networks": self.api.remove_network}[kind]
                    for _ in range(100):
                        try:
                            remove(obj["ID"] if "ID" in obj else obj["Id"])
                            break
                        except Exception:  # noqa: BLE001 - still in use for a moment
                            time.sleep(0.2)


# -- the report -----------------------------------------------------------------------------


def report(res: Results, args: argparse.Namespace, load_text: str) -> str:
    f = lambda x: f"{x:.2f} s" if x is not None else "-"  # noqa: E731
    ratio = lambda a, b: f"{a / b:.2f}x" if a is not None and b else "-"  # noqa: E731
    verdict = lambda ok: "met" if ok else "NOT MET"  # noqa: E731
    m = lambda s, t, w="converged": res.median(s, t, w)  # noqa: E731
    lines = [
        f"## Swarm: gitdeploy against `docker stack deploy` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores, median of {args.runs})",
        "",
        f"`bench/swarm.py --runs {args.runs} --warmup {args.warmup}`: the test suite's 2-node cluster (tests/swarm/cluster.py: two dockerds",
        f"in their own network namespaces, one registry), {args.services} services x {args.replicas} replicas (busybox",
        "`sleep`, `init: true`, `endpoint_mode: dnsrr`, start-first, one replica at a time), the same services as",
        "a gitdeploy spec and as a compose v3.7 stack file, both naming the image by tag in the cluster's",
        "registry. Both tools run as processes, alternating (a fresh system per tool and run). Every figure",
        "is the time until the process exited AND the bench saw every task of every service running at the",
        "scenario's spec (the same check for both); `docker stack deploy` returns earlier (its exit in brackets).",
        f"Load average (1 / 5 / 15 min) at the end: {load_text}; 1-minute load after each figure "
        f"{min(res.loads):.1f} to {max(res.loads):.1f} (median {statistics.median(res.loads):.1f}; "
        + ", ".join(f"after {t}'s figures {statistics.median(v):.1f}" for t, v in sorted(res.tool_loads.items()))
        + "). The machine was shared with other work: the ratios, measured in one alternating run, are what counts.",
        "",
        "| scenario | docker stack deploy (exit) | gitdeploy | gitdeploy / stack |",
        "|---|---|---|---|",
    ]
    for s in SCENARIOS:
        st, gd = m(s, "stack"), m(s, "gitdeploy")
        lines.append(f"| {s} | {f(st)} ({f(m(s, 'stack', 'process'))}) | {f(gd)} | {ratio(gd, st)} |")
    fresh = (m("fresh", "gitdeploy"), m("fresh", "stack"))
    noop = m("no-op", "gitdeploy", "process")
    gd_fail = (m("fail+rollback", "gitdeploy"), m("fail-alone", "gitdeploy"))
    st_fail = (m("fail+rollback", "stack"), m("fail-alone", "stack"))
    rcs = sorted({t.rc for t in res.times.get("fail+rollback", {}).get("stack", [])})
    lines += [
        "",
        "fail+rollback: one service changed fine and one failed (`sh -c 'exit 3'`, monitor 3 s). The stack",
        f"rolled back the failed service only and left the other at the new revision; `docker stack deploy`"
        f" had exited {', '.join(map(str, rcs))} before. gitdeploy returned both services (every service of the deploy) to the",
        "previous spec, verified, and exited 1. fail-alone: the same failing change, no rollback (stack:",
        "`failure_action: pause`; gitdeploy: `rollout.on_failure: pause`), for both until the good service ran",
        "its new tasks and Swarm paused the bad one's update (gitdeploy exits 1 at the first failure, before",
        f"that: its exit alone took {f(m('fail-alone', 'gitdeploy', 'process'))}).",
        "",
        "Issue 12's targets:",
    ]
    if None not in fresh:
        x = fresh[0] / fresh[1]
        lines.append(f"- fresh <= 1.0x the stack deploy's time to convergence: {x:.3f}x ({fresh[0]:.2f} s /"
                     f" {fresh[1]:.2f} s), {verdict(x <= 1.0)}")
    if noop is not None:
        lines.append(f"- no-op < 0.5 s as a process: {noop:.2f} s, {verdict(noop < 0.5)}")
    if None not in gd_fail:
        x = gd_fail[0] / gd_fail[1]
        lines.append(f"- failed update + whole-system rollback <= 1.5x the failed update alone: {x:.2f}x"
                     f" ({gd_fail[0]:.2f} s / {gd_fail[1]:.2f} s), {verdict(x <= 1.5)}")
        exit_alone = m("fail-alone", "gitdeploy", "process")
        if exit_alone:
            lines.append(f"  (against gitdeploy's exit alone, which does not wait for the failed update to end: "
                         f"{gd_fail[0] / exit_alone:.2f}x)")
    if None not in st_fail:
        lines.append(f"  (the stack's per-service rollback against its own failed update: "
                     f"{st_fail[0] / st_fail[1]:.2f}x)")
    if res.notes:
        lines += ["", "Observed on the way:", *res.notes]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="repetitions of every scenario per tool")
    ap.add_argument("--services", type=int, default=20)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated: stack,gitdeploy")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured sequences per tool before the runs")
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    ap.add_argument("--skip-waiting", action="store_true",
                    help="leave out the one `docker stack deploy --detach=false` observation (minutes)")
    args = ap.parse_args()
    if args.services <= max(CHANGED, GOOD, BAD):
        ap.error(f"--services must be more than {max(CHANGED, GOOD, BAD)}")
    tools = [t for t in args.tools.split(",") if t]
    if shutil.which("docker") is None and "stack" in tools:
        raise SystemExit("`docker stack deploy` needs the docker CLI (apt-get install docker.io)")
    from tests.swarm.cluster import Cluster, unavailable

    reason = unavailable()
    if reason:
        raise SystemExit(reason)
    tmp = Path(tempfile.mkdtemp(prefix="gd-bench-swarm-"))
    cluster = Cluster(2)
    res = Results()
    try:
        cluster.up()
        print(f"cluster up in {cluster.timings['up']:.1f}s; {args.services} services x {args.replicas} replicas, "
              f"{args.runs} run(s) per tool", flush=True)
        bench = Bench(cluster, args.services, args.replicas, tmp)
        for _ in range(args.warmup):  # not counted: the nodes pull the image, the engines warm up
            print("warm-up (not counted):", flush=True)
            for tool in tools:
                bench.sequence(tool, Results())
        if args.warmup:
            res.notes.append(f"- Before the counted runs, {args.warmup} unmeasured sequence(s) per tool ran (`--warmup`): "
                             "the first deploys on a new cluster pull the image on every node and are slower.")
        for run in range(args.runs):
            for tool in (tools if run % 2 == 0 else tools[::-1]):
                bench.sequence(tool, res)
        if "stack" in tools and not args.skip_waiting:
            bench.stack_waiting(res)
        if bench.surplus:
            res.notes.append("- Converged with more tasks running than replicas (every one at the spec, so counted as"
                             f" converged): {'; '.join(sorted(set(bench.surplus)))}.")
        if bench.reruns:
            res.notes.append(f"- `docker stack deploy` was refused \"update out of sequence\" {len(bench.reruns)} time(s)"
                             " (Swarm was still moving a service's version) and run again; the time counts.")
    finally:
        cluster.down()
        shutil.rmtree(tmp, ignore_errors=True)
    load = Path("/proc/loadavg").read_text().split()
    text = report(res, args, " / ".join(load[:3]))
    print(text)
    if args.write:
        with (HERE / "RESULTS.md").open("a") as f:
            f.write("\n" + text + "\n")


if __name__ == "__main__":
    main()
