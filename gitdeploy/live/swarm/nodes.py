"""The cluster's nodes as plain values, and which of them cannot run tasks (down or drained).

A node that is down or drained is named, with where Swarm moved the tasks it ran: the eight-server
question ("which machine is not running the code?") answered by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr
from gitdeploy.live.api import LightAPI, adopt_api

_ERRORS = apierr.EngineError


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    addr: str
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    manager: bool

    @property
    def usable(self) -> bool:
        """Whether Swarm may place new tasks here."""
        return self.state == "ready" and self.availability == "active"

    def trouble(self) -> str | None:
        """Why this node runs no new tasks ("node2 (10.0.0.2) is down"); None when it does."""
        if self.usable:
            return None
        why = self.state if self.state != "ready" else {"drain": "drained", "pause": "paused"}.get(
            self.availability, self.availability)
        return f"{self.hostname} ({self.addr}) is {why}"


def of(raw: dict[str, Any]) -> Node:
    return Node(
        id=raw["ID"],
        hostname=(raw.get("Description") or {}).get("Hostname", raw["ID"][:12]),
        addr=(raw.get("Status") or {}).get("Addr", ""),
        state=(raw.get("Status") or {}).get("State", "unknown"),
        availability=(raw.get("Spec") or {}).get("Availability", "active"),
        manager="ManagerStatus" in raw,
    )


def nodes(api: LightAPI) -> list[Node]:
    """Every node of the cluster (ask a manager). Raises GitdeployError."""
    api = adopt_api(api)
    try:
        return sorted((of(n) for n in api.nodes()), key=lambda n: n.hostname)
    except apierr.APIError as exc:
        raise GitdeployError(f"listing the cluster's nodes: {exc.explanation or exc}",
                             "--docker-host must name a manager of the swarm") from None
    except _ERRORS as exc:
        raise GitdeployError(f"listing the cluster's nodes: the engine did not answer ({exc})") from None


def moved(service_tasks: list[dict[str, Any]], by_id: dict[str, Node]) -> list[str]:
    """For each node in trouble that ran tasks of the service, where those slots run now.

    `service_tasks` is one service's task list (current and recent, as `docker service ps`).
    Returns lines like "node2 (10.0.0.2) is drained: slot 2 now runs on node1".
    """
    now: dict[int, str] = {}
    for t in service_tasks:
        if t.get("DesiredState") == "running" and t["Status"]["State"] == "running" and t.get("NodeID") in by_id:
            now[int(t.get("Slot") or 0)] = by_id[t["NodeID"]].hostname
    out: dict[str, set[int]] = {}
    for t in service_tasks:
        node = by_id.get(t.get("NodeID", ""))
        if node is not None and node.trouble() and t.get("DesiredState") == "shutdown":
            out.setdefault(node.id, set()).add(int(t.get("Slot") or 0))
    lines = []
    for node_id, slots in sorted(out.items(), key=lambda kv: by_id[kv[0]].hostname):
        where = ", ".join("its task is not replaced (global: one per node)" if s == 0 else
                          f"slot {s} now runs on {now[s]}" if s in now else f"slot {s} runs nowhere"
                          for s in sorted(slots))
        lines.append(f"{by_id[node_id].trouble()}: {where}")
    return lines
