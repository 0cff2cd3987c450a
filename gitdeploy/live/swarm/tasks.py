"""Following a service's tasks until every desired task runs at the target spec.

`judge` is pure: one `service inspect` and its task list in, a `Progress` out. A task is at the
target when it runs the service's current task template (compared whole, so a change of
resources counts as well as one of the definition hash in the container's labels). `follow` asks the
engine again until the service has converged, Swarm has paused its update (a new task failed),
or the deadline passed. A task with a health check is `running` only once it is healthy (before,
Swarm shows it `starting`), so running at the target spec means healthy at the target spec.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr, labels
from gitdeploy.live.api import LightAPI, adopt_api

FAILED_UPDATE = ("paused", "rollback_started", "rollback_paused", "rollback_completed")
_ERRORS = apierr.EngineError


@dataclass(frozen=True)
class Progress:
    name: str  # the Swarm service
    commit: str  # the spec commit the service is at (its label)
    want: int  # tasks that should run
    ready: int  # tasks running at the target spec
    nodes: tuple[str, ...]  # node IDs those tasks run on (sorted, distinct)
    old: int  # tasks still running at another spec
    update: str  # Swarm's UpdateStatus.State ("" when the service was never updated)
    update_message: str
    errors: tuple[str, ...]  # why tasks at the target spec failed or wait (latest first, distinct)
    crashed: int = 0  # tasks at the target spec that ended (failed, rejected, exited), not counting `ignore`d ones
    update_started: str = ""  # when the update Swarm reports on began (UpdateStatus.StartedAt): which update it is

    @property
    def done(self) -> bool:
        """Every task runs at the service's spec, and Swarm has not paused on its way there (a spec
        given back by Swarm's own rollback is done once its tasks run, while Swarm still watches them)."""
        return self.ready == self.want and self.old == 0 and self.update not in ("paused", "rollback_paused")

    @property
    def failed(self) -> str | None:
        """Why the rollout failed for good (Swarm paused or rolled back the update); None if not."""
        if self.update in FAILED_UPDATE:
            return f"the update {self.update.replace('_', ' ')}: {self.update_message or 'no reason given'}"
        return None

    def summary(self) -> str:
        """`N/N tasks at <commit> on K nodes`: the eight-server check, in one line."""
        k = len(self.nodes)
        return f"{self.ready}/{self.want} tasks at {self.commit[:12] or '(worktree)'} on {k} node{'s' if k != 1 else ''}"

    def explain(self) -> str:
        """The summary, plus why it is not done yet (for a failure or a timeout)."""
        parts = [self.summary()]
        if self.old:
            parts.append(f"{self.old} still at an older spec")
        if self.failed:
            parts.append(self.failed)
        elif self.crashed:
            parts.append(f"{self.crashed} new task{'s' if self.crashed != 1 else ''} ended")
        if self.errors:
            parts.append("tasks: " + "; ".join(self.errors[:3]))
        return ", ".join(parts)


def _runs(task_spec: dict[str, Any]) -> dict[str, Any]:
    """What a task runs. Placement is left out: Swarm keeps a task whose node still satisfies a
    changed placement, so such a task is at the target (its own copy keeps the old placement).
    So is Runtime, which only the service's copy shows. Everything else counts: a change there
    replaces the task."""
    return {k: v for k, v in task_spec.items() if k not in ("Placement", "Runtime")}


ENDED = ("complete", "shutdown", "failed", "rejected", "remove", "orphaned")


def believable(tasks: list[dict[str, Any]], down: frozenset[str]) -> list[dict[str, Any]]:
    """The tasks whose state can be believed: a task on a node that is down keeps the state its
    node last reported (Swarm lists it `running` until the node is back), so unless it had ended
    it is left out. `down`: IDs of the nodes the manager does not see ready."""
    if not down:
        return tasks
    return [t for t in tasks if t.get("NodeID") not in down or (t.get("Status") or {}).get("State") in ENDED]


def down_nodes(api: LightAPI, tasks: list[dict[str, Any]], nodes: list[dict[str, Any]] | None = None
               ) -> frozenset[str]:
    """IDs of the nodes that are not ready, asked only when `tasks` hold one that may be stale (told
    to stop, still said to run: a task in its grace period, or one on a node that is gone); from
    `nodes` when the caller has read them already."""
    if not any(t.get("DesiredState") != "running" and (t.get("Status") or {}).get("State") not in ENDED
               for t in tasks):
        return frozenset()
    if nodes is None:
        nodes = adopt_api(api).nodes()
    return frozenset(n["ID"] for n in nodes if (n.get("Status") or {}).get("State") != "ready")


def _node_value(node: dict[str, Any], attr: str) -> str | None:
    """The value of a placement constraint's attribute on `node` (as `node ls` returns it); None for
    one it does not know (`node.ip` is matched as an address, not as a network)."""
    desc, spec = node.get("Description") or {}, node.get("Spec") or {}
    simple = {"node.id": node.get("ID"), "node.hostname": desc.get("Hostname"), "node.role": spec.get("Role"),
              "node.ip": (node.get("Status") or {}).get("Addr"),
              "node.platform.os": (desc.get("Platform") or {}).get("OS"),
              "node.platform.arch": (desc.get("Platform") or {}).get("Architecture")}
    if attr in simple:
        return simple[attr]
    for prefix, found in (("node.labels.", spec.get("Labels")), ("engine.labels.", (desc.get("Engine") or {}).get("Labels"))):
        if attr.startswith(prefix):
            return (found or {}).get(attr[len(prefix):])
    return None


def meets(node: dict[str, Any], constraints: list[str]) -> bool:
    """Whether `node` meets every placement constraint (`attr==value` / `attr!=value`), as Swarm
    decides it: values compared without regard to case; a label the node lacks equals nothing."""
    for c in constraints:
        eq = "==" in c
        attr, _, value = c.partition("==" if eq else "!=")
        have = _node_value(node, attr.strip())
        same = have is not None and have.lower() == value.strip().lower()
        if same != eq:
            return False
    return True


def eligible(service: dict[str, Any], nodes: list[dict[str, Any]]) -> frozenset[str]:
    """IDs of the nodes Swarm places new tasks of `service` on: ready, active and meeting its
    placement constraints (a global service runs one task on each of them)."""
    constraints = ((service["Spec"].get("TaskTemplate") or {}).get("Placement") or {}).get("Constraints") or []
    return frozenset(n["ID"] for n in nodes if (n.get("Status") or {}).get("State") == "ready"
                     and (n.get("Spec") or {}).get("Availability", "active") == "active" and meets(n, constraints))


def is_global(service: dict[str, Any]) -> bool:
    return "Global" in (service.get("Spec") or {}).get("Mode", {})


def judge(service: dict[str, Any], tasks: list[dict[str, Any]], ignore: frozenset[str] = frozenset(),
          down: frozenset[str] = frozenset(), nodes: list[dict[str, Any]] | None = None) -> Progress:
    """The progress of `service` (as `service inspect` returns it) given its `tasks`; tasks whose
    IDs are in `ignore` (there before a change) never count as `crashed`; tasks on the nodes in
    `down` count only if they ended (see `believable`). `nodes` (the cluster's, as `node ls` returns
    them): a global service then wants a task on every node that takes it, even before Swarm has
    created them (without them it wants one per node its current tasks are on)."""
    tasks = believable(tasks, down)
    spec = service["Spec"]
    target = _runs(spec["TaskTemplate"])

    def at(t: dict[str, Any]) -> bool:
        return _runs(t.get("Spec") or {}) == target

    current = [t for t in tasks if t.get("DesiredState") == "running"]
    at_target = [t for t in current if at(t)]
    running = [t for t in at_target if t["Status"]["State"] == "running"]
    if is_global(service):
        on = {t.get("NodeID") for t in current if t.get("NodeID")}
        want = len(on | eligible(service, nodes)) if nodes is not None else len(on) or len(current)
    else:
        want = int(spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 1))
    old = sum(1 for t in tasks if t["Status"]["State"] == "running" and not at(t))
    errors: list[str] = []
    for t in sorted((t for t in tasks if at(t)),
                    key=lambda t: t["Status"].get("Timestamp", ""), reverse=True):
        st = t["Status"]
        if st["State"] in ("failed", "rejected") or (st["State"] == "pending" and st.get("Err")):
            text = f"{st['State']}: {st.get('Err') or st.get('Message') or '?'}"
            if text not in errors:
                errors.append(text)
    crashed = sum(1 for t in tasks if at(t) and t.get("ID") not in ignore
                  and t["Status"]["State"] in ("failed", "rejected", "complete"))
    status = service.get("UpdateStatus") or {}
    return Progress(
        name=spec.get("Name", ""),
        commit=(spec.get("Labels") or {}).get(labels.COMMIT, ""),
        want=want,
        ready=len(running),
        nodes=tuple(sorted({t["NodeID"] for t in running if t.get("NodeID")})),
        old=old,
        update=status.get("State", ""),
        update_message=status.get("Message", ""),
        errors=tuple(errors),
        crashed=crashed,
        update_started=status.get("StartedAt", ""),
    )


def progress(api: LightAPI, service_id: str, ignore: frozenset[str] = frozenset()) -> Progress:
    """The service's progress now (`ignore`: as in `judge`), read by itself rather than in a watch's
    round. Raises GitdeployError when the manager cannot tell."""
    api = adopt_api(api)
    try:
        found = api.tasks(filters={"service": service_id})
        service = api.inspect_service(service_id)
        nodes = api.nodes() if is_global(service) else None
        return judge(service, found, ignore=ignore, down=down_nodes(api, found, nodes), nodes=nodes)
    except apierr.APIError as exc:
        raise GitdeployError(f"reading service {service_id[:12]}: {exc.explanation or exc}") from None
    except _ERRORS as exc:
        raise GitdeployError(f"reading service {service_id[:12]}: the cluster's manager did not answer ({exc})") \
            from None


def follow(
    api: LightAPI,
    service_id: str,
    deadline: float,
    *,
    poll: float = 0.5,
    on_progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """Follow the service for at most `deadline` seconds; returns the last progress seen: `done`,
    `failed` (Swarm paused the update), or neither (the deadline passed - `explain()` says why)."""
    api = adopt_api(api)
    end = clock() + deadline
    last: Progress | None = None
    while True:
        now = progress(api, service_id)
        if on_progress is not None and now != last:
            on_progress(now)
        last = now
        if now.done or now.failed or clock() >= end:
            return now
        sleep(poll)
