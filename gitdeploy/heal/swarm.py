"""detect(Desired, SwarmObservation) -> findings: the drift of a system on a Swarm cluster. Pure.

The same Drift model as on one engine (gitdeploy.heal.model), decided from what
gitdeploy.live.swarm.observe saw:
- a hand edit of a service (`docker service update --env-add ...`) is config drift field by
  field, between the ServiceSpec gitdeploy would send (servicespec.service_spec) and the live
  one; the commit label is left out (an unchanged service keeps the commit that last changed it);
- a slot (a node, for a global service) with no running task is `missing`, or `exited` when its
  task died, with how and on which node; one whose tasks keep failing is `restarting`;
- a node that is down or drained is named, with where Swarm moved its tasks (`node`);
- a service with the system's labels the spec does not have is `extra`; one gitdeploy does not
  own holding a declared name or published port is `unmanaged`, and so is a plain container (no
  Swarm task) holding a published port on a node whose engine can be looked into;
- files changed inside a task's container are `tampered`, where its node's engine could be
  looked into; the others are listed as not checked, never skipped silently.
A task that failed once and was replaced is no drift (Swarm did its job): it is a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitdeploy.heal.compare import tampered_paths
from gitdeploy.heal.model import Drift
from gitdeploy.live import labels
from gitdeploy.live.engine import service_aliases
from gitdeploy.live.swarm import compare
from gitdeploy.live.swarm.names import service_name
from gitdeploy.live.swarm.nodes import Node, moved
from gitdeploy.live.swarm.observe import SwarmObservation, ours
from gitdeploy.live.swarm.servicespec import planned
from gitdeploy.spec.identity import Desired

REPEAT_WINDOW = 600.0  # seconds of task history in which repeated failures count
REPEATED = 3  # failures of one slot's tasks within the window that make it `restarting`
FAILED = ("failed", "rejected")
STARTING = ("new", "pending", "assigned", "accepted", "ready", "preparing", "starting")


@dataclass(frozen=True)
class Findings:
    drifts: tuple[Drift, ...]
    notes: tuple[str, ...]  # what happened but is no drift (a task replaced after it died once)
    unchecked: tuple[tuple[str, str], ...]  # (node, why) whose task containers' files could not be checked
    tasks: int  # running tasks examined


def detect(desired: Sequence[Desired], system: str, env: str, obs: SwarmObservation,
           aliases: Mapping[str, tuple[str, ...]] | None = None) -> Findings:
    """Everything that differs from `desired` in what `obs` saw: services in spec order, then
    extra and unmanaged services, then nodes in trouble."""
    if aliases is None:
        aliases = service_aliases([d.service for d in desired])
    mine = [s for s in obs.services if ours(s, system, env)]
    by_path: dict[str, list[dict[str, Any]]] = {}
    for s in mine:
        by_path.setdefault(s["Spec"]["Labels"].get(labels.SERVICE, ""), []).append(s)
    by_node = {n.id: n for n in obs.nodes}
    drifts: list[Drift] = []
    notes: list[str] = []
    running = 0
    for d in desired:
        name = service_name(system, env, d.path)
        found = by_path.get(d.path, [])
        svc = next((s for s in found if s["Spec"]["Name"] == name), found[0] if found else None)
        if svc is None:
            drifts.append(Drift(d.path, name, "", "missing", "service", f"Swarm service {name}", "(none)",
                                f"{d.path} has no Swarm service: its tasks run nowhere"))
            continue
        for other in found:
            if other is not svc:
                drifts.append(Drift(d.path, other["Spec"]["Name"], other["ID"], "extra", "duplicate",
                                    f"one service {name}", other["Spec"]["Name"],
                                    f"{other['Spec']['Name']} is a second service labeled as {d.path}; "
                                    "remove it (docker service rm)"))
        sent = planned(d, system, env, "", aliases.get(d.path, ()))
        drifts += spec_drift(d.path, svc, sent, obs.networks)
        task_drifts, task_notes, n = task_findings(d, svc, obs.tasks.get(svc["ID"], ()), by_node, obs)
        drifts += task_drifts
        notes += task_notes
        running += n
    wanted = {d.path for d in desired}
    for path in sorted(set(by_path) - wanted):
        for s in by_path[path]:
            n = sum(1 for t in obs.tasks.get(s["ID"], ()) if _running(t))
            drifts.append(Drift(path, s["Spec"]["Name"], s["ID"], "extra", "service", "(not in the deployed spec)",
                                f"{n} task(s) running", f"the service {s['Spec']['Name']} carries the labels of "
                                f"{system} ({env}), but the deployed revision has no service {path!r}"))
    drifts += unmanaged(desired, system, env, obs.services)
    drifts += port_holders(desired, obs.publishing)
    for d in desired:
        svc = next((s for s in by_path.get(d.path, ()) if s["Spec"]["Name"] == service_name(system, env, d.path)),
                   None)
        if svc is not None:
            drifts += node_drift(d.path, obs.tasks.get(svc["ID"], ()), by_node)
    return Findings(tuple(drifts), tuple(notes), tuple(sorted(obs.unchecked.items())), running)


def by_deploy(d: Drift) -> bool:
    """Whether a deploy of the deployed commit repairs `d`: a service's spec (it is sent again), a
    missing or extra service, a tampered or failing task (its service's tasks are replaced: a
    forced update). A task that ended is Swarm's to replace (it does, by itself), and a node's
    state is the cluster's."""
    if d.kind in ("tampered", "restarting"):
        return True
    if d.kind in ("config", "image"):
        return d.field != "task"  # a task on an older template: Swarm's own update is under way
    return (d.kind, d.field) in (("missing", "service"), ("extra", "service"))


def left_alone(drifts: Sequence[Drift]) -> str:
    """Why a repair deploy leaves `drifts` (none of which it cures) as they are."""
    why = []
    if any(d.kind in ("exited", "missing") for d in drifts):
        why.append("Swarm replaces a task that ended by itself")
    if any(d.kind in ("unmanaged", "node") or d.field in ("duplicate", "task") for d in drifts):
        why.append("unmanaged or duplicate services, nodes and Swarm's own updates are a person's to settle")
    return "nothing a deploy repairs: " + "; ".join(why or ["see the drift"])


# -- the service's spec ---------------------------------------------------------------------------------


# Swarm's field paths in the spec's words (longest prefix first).
_WORDS: tuple[tuple[str, str], ...] = (
    ("TaskTemplate.ContainerSpec.Env.", "environment."),
    ("TaskTemplate.ContainerSpec.Labels.", "labels."),
    ("TaskTemplate.ContainerSpec.Image", "image"),
    ("TaskTemplate.ContainerSpec.Command", "entrypoint"),
    ("TaskTemplate.ContainerSpec.Args", "command"),
    ("TaskTemplate.ContainerSpec.User", "user"),
    ("TaskTemplate.ContainerSpec.Dir", "working_dir"),
    ("TaskTemplate.ContainerSpec.Healthcheck", "healthcheck"),
    ("TaskTemplate.ContainerSpec.StopGracePeriod", "stop_grace_period"),
    ("TaskTemplate.ContainerSpec.Init", "init"),
    ("TaskTemplate.ContainerSpec.Configs", "configs"),
    ("TaskTemplate.ContainerSpec.Secrets", "secrets"),
    ("TaskTemplate.ContainerSpec.Mounts", "volumes"),
    ("TaskTemplate.ContainerSpec.", "container."),
    ("TaskTemplate.RestartPolicy", "restart"),
    ("TaskTemplate.Placement", "placement"),
    ("TaskTemplate.Resources", "resources"),
    ("TaskTemplate.Networks", "networks"),
    ("TaskTemplate.", "task."),
    ("Mode.Replicated.Replicas", "replicas"),
    ("Mode", "mode"),
    ("EndpointSpec.Ports", "ports"),
    ("EndpointSpec.Mode", "endpoint_mode"),
    ("UpdateConfig", "rollout"),
    ("RollbackConfig", "rollout (rollback)"),
    ("Labels.", "service labels."),
)


def field_words(path: str) -> str:
    """A Swarm spec path in the spec's words: `TaskTemplate.ContainerSpec.Env.X` -> `environment.X`."""
    for prefix, words in _WORDS:
        if path.startswith(prefix) if prefix.endswith(".") else (path == prefix or path.startswith(prefix + ".")):
            return words + path[len(prefix):]
    return path


def spec_drift(path: str, live: Mapping[str, Any], sent: Mapping[str, Any], networks: Mapping[str, str]) -> list[Drift]:
    """The fields where the live service is not what a deploy sends (a hand edit)."""
    name = live["Spec"]["Name"]
    out = []
    for swarm_field, want, have in compare.drift(compare.comparable(sent), compare.comparable(live["Spec"]), networks):
        words = field_words(swarm_field)
        kind = "image" if words == "image" else "config"
        how = ("`docker service scale`" if words == "replicas" else "`docker service update`")
        out.append(Drift(path, name, live["ID"], kind, words, want, have,  # type: ignore[arg-type]
                         f"{name}: {words} is {have}, the deployed spec says {want} "
                         f"(Swarm's {swarm_field}; changed outside gitdeploy, e.g. {how})"))
    return out


# -- tasks ------------------------------------------------------------------------------------------------


def _runs(task_spec: Mapping[str, Any]) -> dict[str, Any]:
    """What a task runs (as gitdeploy.live.swarm.tasks compares it: placement and runtime aside)."""
    return {k: v for k, v in task_spec.items() if k not in ("Placement", "Runtime")}


def _running(t: Mapping[str, Any]) -> bool:
    return t.get("DesiredState") == "running" and (t.get("Status") or {}).get("State") == "running"


def timestamp(text: str) -> float:
    """A Swarm timestamp (RFC 3339 with nanoseconds) as unix time (0.0 when unreadable)."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text or "")
    if not m:
        return 0.0
    base, frac, tz = m.groups()
    return datetime.fromisoformat(f"{base}.{(frac or '0')[:6].ljust(6, '0')}{'+00:00' if tz == 'Z' else tz}").timestamp()


def _how(t: Mapping[str, Any], by_node: Mapping[str, Node], now: float) -> str:
    """How a task ended, where and when: `task: non-zero exit (137) (killed) on node2, 12s ago`."""
    st = t.get("Status") or {}
    why = st.get("Err") or st.get("Message") or st.get("State", "?")
    code = (st.get("ContainerStatus") or {}).get("ExitCode")
    if code == 137:
        why += " (killed)"
    node = by_node.get(t.get("NodeID", ""))
    where = f" on {node.hostname}" if node else ""
    ago = now - timestamp(st.get("Timestamp", ""))
    return f"{why}{where}, {ago:.0f}s ago" if 0 <= ago < 86400 else f"{why}{where}"


def task_findings(d: Desired, svc: Mapping[str, Any], service_tasks: Sequence[Mapping[str, Any]],
                  by_node: Mapping[str, Node], obs: SwarmObservation) -> tuple[list[Drift], list[str], int]:
    """(drift, notes, running tasks) of one service's tasks, slot by slot (node by node when global)."""
    spec = svc["Spec"]
    name = spec["Name"]
    target = _runs(spec.get("TaskTemplate") or {})
    glob = "Global" in (spec.get("Mode") or {})

    def slot_of(t: Mapping[str, Any]) -> str:
        return str(t.get("NodeID", "")) if glob else str(t.get("Slot") or 0)

    def label(key: str) -> str:
        return f"{name}.{by_node[key].hostname if glob and key in by_node else key}"

    current = [t for t in service_tasks if t.get("DesiredState") in ("running", "ready")]
    if glob:
        keys = sorted({slot_of(t) for t in current})
    else:
        replicas = int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1))
        keys = [str(i) for i in range(1, replicas + 1)]
    drifts: list[Drift] = []
    notes: list[str] = []
    running = 0
    for key in keys:
        slot_tasks = sorted((t for t in service_tasks if slot_of(t) == key),
                            key=lambda t: (t.get("Status") or {}).get("Timestamp", ""), reverse=True)
        at_target = [t for t in slot_tasks if _runs(t.get("Spec") or {}) == target]
        failures = [t for t in at_target if (t.get("Status") or {}).get("State") in FAILED
                    and obs.now - timestamp(t["Status"].get("Timestamp", "")) <= REPEAT_WINDOW]
        live = [t for t in slot_tasks if _running(t)]
        task = label(key)
        if not live:
            pending = next((t for t in slot_tasks if t.get("DesiredState") in ("running", "ready")), None)
            after = ""
            if pending is not None:
                st = pending.get("Status") or {}
                after = f"; Swarm's next task is {st.get('State', '?')}" + (f" ({st['Err']})" if st.get("Err") else "")
            if failures:
                times = f" (failed {len(failures)} times in {REPEAT_WINDOW / 60:.0f} min)" if len(failures) > 1 else ""
                drifts.append(Drift(d.path, task, _cid(failures[0]), "exited", "state", "running", "failed",
                                    f"{task}: its task ended: {_how(failures[0], by_node, obs.now)}{times}{after}"))
            else:
                drifts.append(Drift(d.path, task, _cid(pending) if pending else "", "missing", "state", "running",
                                    (pending or {}).get("Status", {}).get("State", "(no task)"),
                                    f"{task} has no running task{after}"))
            continue
        running += 1
        t = live[0]
        if _runs(t.get("Spec") or {}) != target:
            state = (svc.get("UpdateStatus") or {}).get("State") or "not started"
            drifts.append(Drift(d.path, task, _cid(t), "config", "task", "the service's current task template",
                                "an older one", f"{task} still runs the service's previous task template "
                                f"(Swarm's update of {name}: {state})"))
        if len(failures) >= REPEATED:
            drifts.append(Drift(d.path, task, _cid(t), "restarting", "state", "running steadily",
                                f"failed {len(failures)} times in {REPEAT_WINDOW / 60:.0f} min",
                                f"{task} keeps failing: {len(failures)} of its tasks failed in the last "
                                f"{REPEAT_WINDOW / 60:.0f} minutes (last: {_how(failures[0], by_node, obs.now)})"))
        elif failures:
            notes.append(f"{task} was replaced after its task ended: {_how(failures[0], by_node, obs.now)}")
        drifts += _tampered(d, task, t, by_node, obs)
    return drifts, notes, running


def _cid(t: Mapping[str, Any] | None) -> str:
    return (((t or {}).get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID") or ""


def _tampered(d: Desired, task: str, t: Mapping[str, Any], by_node: Mapping[str, Node],
              obs: SwarmObservation) -> list[Drift]:
    cid = _cid(t)
    info = obs.inspects.get(cid)
    if info is None:
        return []
    files = tampered_paths(d, info, obs.diffs.get(cid))
    if not files:
        return []
    node = by_node.get(t.get("NodeID", ""))
    shown = ", ".join(files[:20]) + (f" (+{len(files) - 20} more)" if len(files) > 20 else "")
    return [Drift(d.path, task, cid, "tampered", "files", "no changes outside volumes, configs, secrets and drift_ignore",
                  shown, f"files changed inside {task} on {node.hostname if node else '?'}: {shown}")]


# -- other services, nodes --------------------------------------------------------------------------------


def unmanaged(desired: Sequence[Desired], system: str, env: str, services: Sequence[Mapping[str, Any]]) -> list[Drift]:
    """Services gitdeploy does not own (here) that hold a declared service name or published port."""
    names = {service_name(system, env, d.path): d.path for d in desired}
    ports = [(d.path, p) for d in desired for p in d.service.ports if p.host is not None]
    out: list[Drift] = []
    for s in services:
        if ours(s, system, env):
            continue
        spec = s.get("Spec") or {}
        lab = spec.get("Labels") or {}
        name = spec.get("Name", "?")
        owner = (f"a service of system {lab[labels.SYSTEM]!r} ({lab.get(labels.ENV, '?')})"
                 if labels.SYSTEM in lab else "a service gitdeploy does not manage")
        if name in names:
            out.append(Drift(names[name], name, s["ID"], "unmanaged", "name", "(free for gitdeploy)", name,
                             f"{owner} holds the service name {name}; remove or rename it"))
        held = (s.get("Endpoint") or {}).get("Ports") or (spec.get("EndpointSpec") or {}).get("Ports") or []
        for path, p in ports:
            for h in held:
                if h.get("PublishedPort") == p.host and (h.get("Protocol") or "tcp") == p.protocol:
                    out.append(Drift(path, name, s["ID"], "unmanaged", "ports", f"{p} free for {path}",
                                     f"{p.host}/{p.protocol} held by {name}",
                                     f"{owner} ({name}) publishes port {p.host}/{p.protocol} that {path} publishes"))
                    break
    return out


def port_holders(desired: Sequence[Desired], publishing: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Drift]:
    """Plain containers (no Swarm task) that hold a host port a service publishes, node by node
    (`publishing`: what each reachable node's engine runs): a task of that service cannot run on
    that node."""
    ports = [(d.path, p) for d in desired for p in d.service.ports if p.host is not None]
    out: list[Drift] = []
    for node, containers in sorted(publishing.items()):
        for raw in containers:
            name = (raw.get("Names") or ["/?"])[0].lstrip("/")
            lab = raw.get("Labels") or {}
            owner = (f"a container of system {lab[labels.SYSTEM]!r} ({lab.get(labels.ENV, '?')})"
                     if labels.SYSTEM in lab else "a container gitdeploy does not manage")
            for path, p in ports:
                if any(h.get("PublicPort") == p.host and h.get("Type", "tcp") == p.protocol
                       for h in raw.get("Ports") or []):
                    out.append(Drift(path, name, raw.get("Id", ""), "unmanaged", "ports", f"{p} free for {path}",
                                     f"{p.host}/{p.protocol} held by {name} on {node}",
                                     f"{owner} ({name} on {node}) holds host port {p.host}/{p.protocol} that "
                                     f"{path} publishes: its task cannot run on {node}; remove or move it"))
    return out


def node_drift(path: str, service_tasks: Sequence[Mapping[str, Any]], by_node: Mapping[str, Node]) -> list[Drift]:
    """A node in trouble (down, drained, paused) that ran tasks of the service, with where they went."""
    out = []
    for line in moved([dict(t) for t in service_tasks], dict(by_node)):
        host = line.split(" ", 1)[0]
        node = next((n for n in by_node.values() if n.hostname == host), None)
        state = node.trouble().rsplit(" is ", 1)[-1] if node and node.trouble() else "?"
        out.append(Drift(path, host, node.id if node else "", "node", "node", "ready and active", state,
                         f"{path}: {line}"))
    return out
