"""A service's `resources` as the Docker Engine's HostConfig settings (the docker engine).

From the definition (`resources_definition`: CPUs as exact decimal text, memory in bytes), so
nothing reaches the engine that the service's hash does not cover. `reservations.cpus` has no
HostConfig equivalent and never gets here: the spec refuses it on the docker engine
(gitdeploy.spec.scheduling) rather than pretend with `CpuShares`, a relative weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NANO = 10**9


def host_resources(definition: Mapping[str, Any]) -> dict[str, int]:
    """{"NanoCpus": ..., "Memory": ..., "MemoryReservation": ...}: only what the definition sets."""
    res = definition.get("resources") or {}
    out: dict[str, int] = {}
    if "limits.cpus" in res:
        from decimal import Decimal  # not imported at every start (a no-op never creates a container)

        out["NanoCpus"] = int(Decimal(res["limits.cpus"]) * NANO)
    if "limits.memory" in res:
        out["Memory"] = int(res["limits.memory"])
    if "reservations.memory" in res:
        out["MemoryReservation"] = int(res["reservations.memory"])
    return out


def swap_as_created(memory: int | None, swap: Any) -> bool:
    """True when `swap` (HostConfig.MemorySwap) is what the engine sets by itself at create: none
    without a memory limit; with one, twice the limit, or -1 (unlimited) on a kernel without
    swap accounting."""
    if not memory:
        return swap in (None, 0)
    return swap in (2 * memory, -1)
