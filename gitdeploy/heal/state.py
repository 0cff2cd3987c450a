"""The healer's memory, one small JSON file per environment in the data directory.

It holds the last drift seen (with when each item was first seen), and per service the repair
attempts in the current window and whether the healer gave up on it - so a restarted watcher
neither forgets a flapping service nor repeats a notification.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gitdeploy.fsutil import atomic_write, move_aside
from gitdeploy.heal.model import KINDS, Drift

log = logging.getLogger(__name__)


@dataclass
class ServiceState:
    attempts: list[float] = field(default_factory=list)  # repair attempts (unix times) in the window: backoff
    failures: list[float] = field(default_factory=list)  # failed repairs (unix times) in the window: give-up
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
    def from_json(cls, data: Any) -> HealState:
        """Parse a saved state; raises ValueError when anything has the wrong shape or type."""
        data = _obj(data, "the state")
        services = {_str(p, "a service path"): _service(s) for p, s in _obj(data.get("services") or {}, "services").items()}
        return cls(
            env=_str(data.get("env", ""), "env"), system=_str(data.get("system", ""), "system"),
            commit=_str(data.get("commit", ""), "commit"), checked_at=_num(data.get("checked_at") or 0, "checked_at"),
            drift=[_drift(d) for d in _list(data.get("drift") or [], "drift")],
            first_seen={_str(k, "first_seen"): _num(v, "first_seen") for k, v in
                        _obj(data.get("first_seen") or {}, "first_seen").items()},
            services=services, notified=_str(data.get("notified", ""), "notified"),
            error=_str(data.get("error", ""), "error"),
        )


def _obj(v: Any, what: str) -> dict:
    if not isinstance(v, dict):
        raise ValueError(f"{what} is not an object")
    return v


def _list(v: Any, what: str) -> list:
    if not isinstance(v, list):
        raise ValueError(f"{what} is not a list")
    return v


def _str(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{what} is not a string")
    return v


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{what} is not a number")
    return float(v)


def _service(v: Any) -> ServiceState:
    s = _obj(v, "a service")
    return ServiceState(
        attempts=[_num(t, "attempts") for t in _list(s.get("attempts") or [], "attempts")],
        failures=[_num(t, "failures") for t in _list(s.get("failures") or [], "failures")],
        next_attempt=_num(s.get("next_attempt") or 0, "next_attempt"), given_up=_num(s.get("given_up") or 0, "given_up"),
        last_error=_str(s.get("last_error", ""), "last_error"), repaired=int(_num(s.get("repaired") or 0, "repaired")),
    )


def _drift(v: Any) -> Drift:
    d = _obj(v, "a drift item")
    kind = _str(d.get("kind", ""), "kind")
    if kind not in KINDS:
        raise ValueError(f"unknown drift kind {kind!r}")
    return Drift.from_dict(d)


def state_path(data_dir: Path, env: str) -> Path:
    return data_dir / "heal" / f"{env}.json"


class StateStore:
    """Loads and atomically saves one environment's HealState.

    A state file that cannot be parsed (bad JSON, or valid JSON with wrong types) is moved aside
    to `<name>.corrupt-<n>` with a warning (`warning`), and the healer starts afresh: it forgets
    backoffs and given-up services, never crashes on them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.warning = ""  # what load() had to do about a corrupt file ("" when nothing)
        self._lock = threading.Lock()

    def load(self) -> HealState:
        """The saved state; an empty one when there is none or it cannot be read (see the class)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return HealState()
        except OSError as exc:
            self._warn(f"cannot read the heal state {self.path} ({exc.strerror or exc}); starting afresh")
            return HealState()
        try:
            return HealState.from_json(json.loads(raw))
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            aside = move_aside(self.path)
            kept = f"moved aside to {aside}" if aside else "left in place"
            self._warn(f"the heal state {self.path} is corrupt ({exc}); {kept}; starting afresh")
            return HealState()

    def _warn(self, message: str) -> None:
        self.warning = message
        log.warning("%s", message)

    def save(self, state: HealState) -> None:
        """Write the state atomically; raises GitdeployError naming the file when the disk refuses."""
        with self._lock:
            atomic_write(self.path, json.dumps(state.to_json(), indent=1, sort_keys=True).encode(), 0o644)
