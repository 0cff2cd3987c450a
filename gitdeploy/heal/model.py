"""Drift as a plain value: what differs from the deployed revision, and why it matters."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal[
    "missing",  # a replica has no container at the deployed revision
    "exited",  # its container is stopped (crashed, killed, OOM)
    "restarting",  # the engine keeps restarting it
    "paused",
    "unhealthy",  # its health check fails
    "unpublished",  # it runs, but is not reachable by its service's names (off the network, or no aliases)
    "extra",  # a container labeled as the system's runs but the deployed revision has no place for it
    "config",  # the container's actual settings differ from its definition (docker update, hand-made)
    "image",  # it runs another image than the resolved one
    "tampered",  # files changed inside the container outside its volumes, configs, secrets, drift_ignore
    "unmanaged",  # a container gitdeploy does not own holds a host port or a name the spec declares
    "node",  # a cluster node that ran the system's tasks is down or drained (Swarm)
]

KINDS: tuple[str, ...] = (
    "missing", "exited", "restarting", "paused", "unhealthy", "unpublished", "extra", "config", "image", "tampered",
    "unmanaged", "node",
)
# Drift fixed by replacing the container (its ID goes to pipeline.deploy as `tainted`).
REPLACE_KINDS = frozenset({"restarting", "paused", "unhealthy", "unpublished", "config", "image", "tampered"})
# Drift gitdeploy cannot repair: the container is not its own; the node is the cluster's.
MANUAL_KINDS = frozenset({"unmanaged", "node"})


@dataclass(frozen=True)
class Drift:
    service: str  # service path ("" when no service is concerned)
    container: str  # container name ("" for a missing replica)
    container_id: str
    kind: Kind
    field: str  # "state", "environment.LEVEL", "resources.memory", "files", "ports", ...
    expected: str
    actual: str
    explanation: str

    @property
    def repairable(self) -> bool:
        return self.kind not in MANUAL_KINDS

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity across checks (for first-seen times and notifications)."""
        return (self.service, self.container_id or self.container, self.kind, self.field)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Drift:
        return cls(**{k: str(data.get(k, "")) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]
