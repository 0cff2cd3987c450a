"""The deploy lock of a system and environment, kept in the cluster so it holds across hosts.

Two gitdeploy servers on different machines that drive one cluster meet only in the cluster, so
the lock is a Swarm config `gitdeploy-lock.<system>.<env>`: Swarm creates a config atomically by
name (409 for the second creator), and every manager sees the same one. Its labels hold the
holder and the lease's expiry on the manager's clock. Labels are the one part of a config Swarm
lets change, and only as a compare-and-swap on the config's version: that is how a holder
renews, and how a taker claims a stale lock before removing it.

Staleness is the engine lock's rule (gitdeploy.live.enginelock): a holder on this host whose
process is gone is stale at once; any other only when its lease ran out. A holder never renews
past 3/4 of the lease since its last renewal, so when others may see the lease expired it has
already stopped; a taker's claim moves the version, so a slow holder's next renewal fails and it
learns the lock is lost.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, replace

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr
from gitdeploy.live.api import LightAPI, adopt_api
from gitdeploy.live.enginelock import (
    LOCK_ENV,
    LOCK_EXPIRES,
    LOCK_HOLDER,
    LOCK_SYSTEM,
    Holder,
    engine_time,
    stale_reason,
)
from gitdeploy.live.labels import PREFIX
from gitdeploy.live.swarm.names import lock_name

LEASE = 60.0
TAKEN = PREFIX + "lock.taken"  # set by the one taker whose claim succeeded
_ERRORS = apierr.EngineError


@dataclass(frozen=True)
class LockState:
    """The lock as found in the cluster."""

    id: str
    version: int
    holder: Holder | None
    expires: float  # manager's clock
    labels: dict[str, str]
    name: str

    def describe(self) -> str:
        return self.holder.describe() if self.holder else "a holder that left no record"


def current(api: LightAPI, system: str, env: str) -> LockState | None:
    """The lock of `system` in `env` as it stands (None: free). Raises GitdeployError when a
    config gitdeploy does not own has the lock's name."""
    api = adopt_api(api)
    name = lock_name(system, env)
    found = next((c for c in api.configs(filters={"name": name}) if c["Spec"]["Name"] == name), None)
    if found is None:
        return None
    lab = found["Spec"].get("Labels") or {}
    if lab.get(LOCK_SYSTEM) != system or lab.get(LOCK_ENV) != env:
        raise GitdeployError(f"the config name {name} is taken by a config gitdeploy does not own",
                             "remove it (docker config rm): gitdeploy keeps its cluster lock under that name")
    try:
        expires = float(lab.get(LOCK_EXPIRES, "0"))
    except ValueError:
        expires = 0.0
    return LockState(found["ID"], int(found["Version"]["Index"]), Holder.parse(lab.get(LOCK_HOLDER, "")),
                     expires, dict(lab), name)


def held(api: LightAPI, system: str, env: str) -> LockState | None:
    """The lock while a live holder has it (None: free or stale). Raises GitdeployError."""
    api = adopt_api(api)
    try:
        state = current(api, system, env)
        if state is None:
            return None
        now = engine_time(api)
    except _ERRORS as exc:
        raise GitdeployError(f"reading the cluster lock {lock_name(system, env)}: {exc}") from None
    alive = state.holder.alive_here() if state.holder else None
    return None if stale_reason(state.holder, state.expires, now, alive) else state


def _update_labels(api: LightAPI, config_id: str, version: int, name: str, data: str,
                   lab: dict[str, str]) -> None:
    """Compare-and-swap the config's labels: fails (APIError) if its version moved."""
    api.update_config(config_id, version, {"Name": name, "Labels": lab, "Data": data})


class SwarmLock:
    """A held cluster lock, renewed in the background until released (a context manager)."""

    def __init__(self, api: LightAPI, state: LockState, data: str, holder: Holder, lease: float,
                 offset: float, renewed: float, recovered: tuple[Holder | None, str] | None = None) -> None:
        api = adopt_api(api)
        self.api, self.name, self.id, self.holder, self.lease = api, state.name, state.id, holder, lease
        self.recovered = recovered  # (the stale holder, why it was stale), when one was taken over
        self.lost: str | None = None
        self._version, self._labels, self._data = state.version, dict(state.labels), data
        self._offset = offset  # manager clock - local clock
        self._renewed = renewed  # monotonic time the current lease was computed
        self._stop = threading.Event()
        self._mutex = threading.Lock()
        self._thread = threading.Thread(target=self._renew_loop, name=f"gd-swarm-lease-{self.name}", daemon=True)
        self._thread.start()

    @property
    def expires(self) -> float:
        return float(self._labels[LOCK_EXPIRES])

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease / 4):
            if not self.renew():
                return

    def renew(self) -> bool:
        """Extend the lease once; False (and `lost` says why) when the lock is no longer ours."""
        with self._mutex:
            self._expired("it was not renewed in time")
            if self.lost:
                return False
            start = time.monotonic()  # the new expiry counts from here: the holder's deadline comes first
            lab = self._labels | {LOCK_EXPIRES: f"{time.time() + self._offset + self.lease:.3f}"}
            try:
                _update_labels(self.api, self.id, self._version, self.name, self._data, lab)
                info = self.api.inspect_config(self.id)
            except apierr.NotFound:
                self.lost = "the lock was removed from the cluster (taken over: its lease had run out)"
                return False
            except apierr.APIError as exc:
                if "out of sequence" in str(exc.explanation or exc):
                    self.lost = "another deploy claimed the lock (its lease had run out)"
                    return False
                self._expired(f"it could not be renewed ({exc.explanation or exc})")
                return self.lost is None
            except _ERRORS as exc:
                self._expired(f"it could not be renewed ({exc})")
                return self.lost is None
            if (info["Spec"].get("Labels") or {}).get(LOCK_EXPIRES) != lab[LOCK_EXPIRES]:
                self.lost = "another deploy claimed the lock (its lease had run out)"
                return False
            self._version, self._labels, self._renewed = int(info["Version"]["Index"]), lab, start
            return True

    def _expired(self, why: str) -> None:
        if time.monotonic() - self._renewed > self.lease * 3 / 4:
            self.lost = f"the lease ran out: {why}"

    def check(self) -> None:
        """Raise GitdeployError when the lock was lost (call between steps of a long operation)."""
        if not self.lost:
            self._expired("it was not renewed in time")
        if self.lost:
            raise GitdeployError(f"lost the cluster lock {self.name}: {self.lost}",
                                 "another deploy may run now; check `gitdeploy status` before going on")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        if self.lost:
            return  # not ours any more: never remove another's lock
        try:
            self.api.remove_config(self.id)  # by ID: a taker's new lock has another
        except apierr.NotFound:
            pass
        except _ERRORS:
            pass  # the cluster is unreachable: the lease frees the lock later

    def __enter__(self) -> SwarmLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def hold(api: LightAPI, system: str, env: str, holder: Holder | None = None, *,
         lease: float = LEASE) -> SwarmLock:
    """Take the cluster lock of `system` in `env` at once (use as a context manager).

    A stale lock is taken over (`SwarmLock.recovered` says whose and why). Raises GitdeployError
    naming the holder when the lock is held.
    """
    api = adopt_api(api)
    name = lock_name(system, env)
    holder = holder or Holder.here(f"deploy {system}")
    recovered: tuple[Holder | None, str] | None = None
    try:
        offset = engine_time(api) - time.time()
        for _ in range(5):
            now = time.time() + offset
            mine = replace(holder, started=now)
            lab = {LOCK_SYSTEM: system, LOCK_ENV: env, LOCK_HOLDER: json.dumps(asdict(mine)),
                   LOCK_EXPIRES: f"{now + lease:.3f}"}
            renewed = time.monotonic()
            payload = json.dumps({"holder": asdict(mine), "nonce": os.urandom(8).hex()}).encode()
            try:
                created = api.create_config(name, payload, labels=lab)
            except apierr.APIError as exc:
                if exc.status_code != 409:
                    raise
                state = current(api, system, env)
                if state is None:
                    continue  # released meanwhile
                why = stale_reason(state.holder, state.expires, time.time() + offset,
                                   state.holder.alive_here() if state.holder else None)
                if why is None:
                    raise _held(system, env, name, state) from None
                if _take_over(api, state):
                    recovered = (state.holder, why)
                continue
            info = api.inspect_config(created["ID"])
            state = LockState(info["ID"], int(info["Version"]["Index"]), mine, now + lease, lab, name)
            return SwarmLock(api, state, info["Spec"]["Data"], mine, lease, offset, renewed, recovered)
    except _ERRORS as exc:
        raise GitdeployError(f"taking the cluster lock {name}: {getattr(exc, 'explanation', None) or exc}") from None
    raise GitdeployError(f"could not take the cluster lock {name}: it changed hands five times in a row",
                         "several deploys of this system are starting at once; try again")


def _take_over(api: LightAPI, state: LockState) -> bool:
    """Claim a stale lock (compare-and-swap on the version seen stale: one taker wins, and a
    holder that renewed meanwhile wins over all), then remove it. False: someone else moved first."""
    api = adopt_api(api)
    try:
        info = api.inspect_config(state.id)
        if int(info["Version"]["Index"]) != state.version:
            return False
        lab = state.labels | {TAKEN: os.urandom(8).hex()}
        _update_labels(api, state.id, state.version, state.name, info["Spec"]["Data"], lab)
        api.remove_config(state.id)
        return True
    except apierr.NotFound:
        return False
    except apierr.APIError as exc:
        if "out of sequence" in str(exc.explanation or exc):
            return False
        raise


def _held(system: str, env: str, name: str, state: LockState) -> GitdeployError:
    until = time.strftime("%H:%M:%S", time.localtime(state.expires))
    return GitdeployError(
        f"system '{system}' ({env}) is being deployed on this cluster by {state.describe()} "
        f"(cluster lock {name}, lease until {until})",
        "wait for it to finish; a lock whose holder died is recovered by itself (at once on the "
        "holder's host, elsewhere when its lease runs out)",
    )
