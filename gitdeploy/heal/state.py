"""The healer's memory, one small JSON file per environment in the data directory.

It holds the last drift seen (with when each item was first seen), and per service the repair
attempts in the current window and whether the healer gave up on it - so a restarted watcher
neither forgets a flapping service nor repeats a notification.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gitdeploy.heal.model import KINDS, Drift


@dataclass
class ServiceState:
    attempts: list[float] = field(default_factory=list)  # repair attempts (unix times) in the window
    next_attempt: float = 0.0  # no repair before this (backoff)
    given_up: float = 0.0  # when the healer stopped repairing it (0: it did not)
    last_error: str = ""
    repaired: int = 0  # successful repairs, ever


@dataclass
class HealState:
    env: str = ""
    system: str = ""
    commit: str = ""  # the deployed commit the drift was measured against
    checked_at: float = 0.0
    drift: list[Drift] = field(default_factory=list)
    first_seen: dict[str, float] = field(default_factory=dict)  # "|".join(drift.key) -> unix time
    services: dict[str, ServiceState] = field(default_factory=dict)
    notified: str = ""  # signature of the last notification sent
    error: str = ""  # the last check's error ("" when it worked)

    def service(self, path: str) -> ServiceState:
        return self.services.setdefault(path, ServiceState())

    def given_up(self) -> list[str]:
        return sorted(p for p, s in self.services.items() if s.given_up)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for d in self.drift:
            out[d.kind] = out.get(d.kind, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["drift"] = [d.to_dict() for d in self.drift]
        data["version"] = 1
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HealState:
        services = {p: ServiceState(**{k: v for k, v in s.items() if k in ServiceState.__dataclass_fields__})
                    for p, s in (data.get("services") or {}).items()}
        return cls(
            env=data.get("env", ""), system=data.get("system", ""), commit=data.get("commit", ""),
            checked_at=float(data.get("checked_at") or 0), drift=[Drift.from_dict(d) for d in data.get("drift") or []],
            first_seen={str(k): float(v) for k, v in (data.get("first_seen") or {}).items()},
            services=services, notified=data.get("notified", ""), error=data.get("error", ""),
        )


def state_path(data_dir: Path, env: str) -> Path:
    return data_dir / "heal" / f"{env}.json"


class StateStore:
    """Loads and atomically saves one environment's HealState."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> HealState:
        """The saved state; an empty one when there is none or it cannot be read."""
        try:
            return HealState.from_json(json.loads(self.path.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return HealState()

    def save(self, state: HealState) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps(state.to_json(), indent=1, sort_keys=True))
            os.replace(tmp, self.path)
