"""One deploy per system and environment on an engine, whatever the data dir or the host.

The flock of gitdeploy.deploy.lock excludes deploys that share a data dir. Deploys from two
data dirs (two users, two hosts with one DOCKER_HOST, a server and a shell) meet only in the
engine, so the lock lives there: a never-started container named `gitdeploy-lock.<system>.<env>`.
Creating a container is atomic by name (409 on conflict): exactly one creator holds the lock.

The container carries its holder in labels (user@host, pid, boot id, pid namespace, purpose,
data dir, start) and a lease: the file `/lease` inside it holds the expiry on the engine's clock,
rewritten every `lease / 4` seconds while the lock is held.

A lock is stale, and taken over by the next deploy, when
- its holder ran on this kernel in this pid namespace (same boot id and namespace), and that
  process is gone (or its pid belongs to a younger process now): recovered at once;
- or its lease ran out: the holder stopped renewing (killed on another host, a host lost).

Renewal is safe: a holder renews only while its container still carries the lock's name, and
counts the lock as lost once its last renewal is older than 3/4 of the lease by its own clock,
before anyone may see the lease expired. A taker renames the stale container first (only one
rename of a name succeeds), then removes it by ID and creates its own: it never removes a lock
it has not seen stale, and a holder that was only slow learns at its next renewal.

The lock container has no io.gitdeploy.system label: nothing that lists a system's containers
(analysis, drift detection, clean-up by system) ever sees it.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from gitdeploy.errors import GitdeployError, Locked
from gitdeploy.host import whoami
from gitdeploy.live import apierr, labels
from gitdeploy.live.api import LightAPI, LightClient, adopt, adopt_api

IMAGE = "gitdeploy/lock:1"  # an empty image: the container is never started
LOCK_SYSTEM = labels.PREFIX + "lock.system"
LOCK_ENV = labels.PREFIX + "lock.env"
LOCK_HOLDER = labels.PREFIX + "lock.holder"  # JSON of Holder
LOCK_EXPIRES = labels.PREFIX + "lock.expires"  # the first lease's expiry (before /lease is written)
LEASE = 60.0  # seconds a holder may go without renewing before others take the lock over

_ENGINE_ERRORS = apierr.EngineError


def lock_name(system: str, env: str) -> str:
    """The lock container's name (never one of a system's container names: those end in .<n>.<hash>)."""
    return f"gitdeploy-lock.{system}.{env}"


# -- who holds it ---------------------------------------------------------------------------

def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _pid_start(pid: int) -> int:
    """When process `pid` started (clock ticks after boot), 0 when there is no such process."""
    stat = _read(f"/proc/{pid}/stat")
    try:
        return int(stat.rpartition(")")[2].split()[19])  # field 22; the name in () may hold spaces
    except (IndexError, ValueError):
        return 0


def _pid_ns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock, enough to tell whether it still lives."""

    who: str  # user@host
    purpose: str  # "deploy HEAD (cli)"
    pid: int
    host: str
    boot_id: str  # /proc/sys/kernel/random/boot_id: this kernel's run
    pid_ns: str  # the pid namespace: a pid means the same process only within one
    pid_start: int  # guards against a reused pid
    data_dir: str = ""
    started: float = 0.0  # unix time, engine clock

    @classmethod
    def here(cls, purpose: str, who: str | None = None, data_dir: str = "") -> Holder:
        """This process."""
        pid = os.getpid()
        return cls(who or whoami(), purpose, pid, socket.gethostname(), _read("/proc/sys/kernel/random/boot_id"),
                   _pid_ns(), _pid_start(pid), str(data_dir))

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started)) if self.started else "?"
        where = f", data dir {self.data_dir}" if self.data_dir else ""
        return f"{self.who} (pid {self.pid} on {self.host}, {self.purpose}{where}) since {since}"

    def alive_here(self) -> bool | None:
        """Whether the holder process still runs; None when it did not run on this kernel and
        in this pid namespace (only its lease can tell then)."""
        if not self.boot_id or self.boot_id != _read("/proc/sys/kernel/random/boot_id") or self.pid_ns != _pid_ns():
            return None
        start = _pid_start(self.pid)
        return start != 0 and (self.pid_start == 0 or start == self.pid_start)

    @classmethod
    def parse(cls, raw: str) -> Holder | None:
        try:
            d = json.loads(raw)
            return cls(str(d["who"]), str(d["purpose"]), int(d["pid"]), str(d["host"]), str(d["boot_id"]),
                       str(d["pid_ns"]), int(d["pid_start"]), str(d.get("data_dir", "")), float(d["started"]))
        except (ValueError, KeyError, TypeError):
            return None


def stale_reason(holder: Holder | None, expires: float, now: float, alive: bool | None) -> str | None:
    """Why a lock may be taken over (None: it is held). `alive`: see Holder.alive_here."""
    if alive is False and holder is not None:
        return f"its holder, pid {holder.pid} on this host, is gone"
    if expires <= now:
        return f"its lease ran out {now - expires:.0f}s ago (the holder stopped renewing it)"
    return None


@dataclass(frozen=True)
class LockState:
    """A lock as found on the engine."""

    id: str
    holder: Holder | None
    expires: float  # engine clock

    def describe(self) -> str:
        return self.holder.describe() if self.holder else "a holder that left no record"


# -- the engine's clock and the lock's files ---------------------------------------------------

def engine_time(api: LightAPI) -> float:
    """The engine's clock (unix time, to the second): every lease is measured on this one clock.

    Read from the Date header of a ping (cheap); the engine's `info` when there is none.
    """
    api = adopt_api(api)
    date = api.ping_answer().headers.get("Date")
    stamp = http_date(date)
    if stamp is not None:
        return stamp
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$",
                 str(api.info().get("SystemTime") or ""))
    if not m:
        return time.time()
    base, frac, tz = m.groups()
    return datetime.fromisoformat(f"{base}.{(frac or '0')[:6].ljust(6, '0')}{'+00:00' if tz == 'Z' else tz}").timestamp()


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                         "Dec"), 1)}


def http_date(text: str | None) -> float | None:
    """Unix time of an HTTP date as the engine writes it ("Mon, 30 Nov 2026 02:40:11 GMT", Go's
    http.TimeFormat); None for anything else (email.utils would cost every process its import)."""
    try:
        _, day, month, year, hms, zone = str(text).split()
        hour, minute, second = hms.split(":")
        if zone != "GMT":
            return None
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                        tzinfo=UTC).timestamp()
    except (ValueError, KeyError):
        return None


def _tar(files: dict[str, bytes]) -> bytes:
    import tarfile  # only where a lease is written or read (not at every start)

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _ensure_image(api: LightAPI) -> None:
    api.import_image_from_data(_tar({"lease": b"{}"}), repository=IMAGE.split(":")[0], tag=IMAGE.split(":")[1])


def _read_lease(api: LightAPI, cid: str) -> float | None:
    import tarfile

    try:
        stream, _ = api.get_archive(cid, "/lease")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile("lease")
            return float(json.loads(member.read())["expires"]) if member else None
    except (apierr.APIError, tarfile.TarError, ValueError, KeyError, TypeError):
        return None


def current(client: LightClient, system: str, env: str) -> LockState | None:
    """The engine lock of `system` in `env` as it stands (None: free).

    Raises GitdeployError when a container that gitdeploy does not own holds the lock's name.
    """
    client = adopt(client)
    api = client.api
    name = lock_name(system, env)
    try:
        info = api.inspect_container(name)
    except apierr.NotFound:
        return None
    lab = info["Config"].get("Labels") or {}
    if lab.get(LOCK_SYSTEM) != system or lab.get(LOCK_ENV) != env:
        raise GitdeployError(f"the container name {name} is taken by a container gitdeploy does not own",
                             "remove or rename it: gitdeploy keeps its engine lock under that name")
    try:
        first = float(lab.get(LOCK_EXPIRES, "0"))
    except ValueError:
        first = 0.0
    lease = _read_lease(api, info["Id"])
    return LockState(info["Id"], Holder.parse(lab.get(LOCK_HOLDER, "")), max(first, lease or 0.0))


def held(client: LightClient, system: str, env: str) -> LockState | None:
    """The engine lock of `system` in `env` while a live holder has it (None: free, or stale).

    Raises GitdeployError as `current` does, and when the engine does not answer.
    """
    client = adopt(client)
    try:
        state = current(client, system, env)
        if state is None:
            return None
        now = engine_time(client.api)
    except _ENGINE_ERRORS as exc:
        raise GitdeployError(f"reading the engine lock {lock_name(system, env)}: {exc}") from None
    alive = state.holder.alive_here() if state.holder else None
    return None if stale_reason(state.holder, state.expires, now, alive) else state


# -- holding ----------------------------------------------------------------------------------

class EngineLock:
    """A held engine lock: renewed in the background until released (a context manager)."""

    def __init__(self, api: LightAPI, name: str, cid: str, holder: Holder, lease: float, offset: float,
                 renewed: float, recovered: tuple[Holder | None, str] | None = None) -> None:
        api = adopt_api(api)
        self.api, self.name, self.id, self.holder, self.lease = api, name, cid, holder, lease
        self.recovered = recovered  # (the stale holder, why it was stale), when one was taken over
        self.lost: str | None = None  # why the lock is no longer ours
        self._offset = offset  # engine clock - local clock
        self._renewed = renewed  # monotonic time of the last lease written (the first: at creation)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name=f"gd-lease-{name}", daemon=True)
        with _held_lock:
            _HELD_HERE.add(cid)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease / 4):
            if not self.renew():
                return

    def renew(self) -> bool:
        """Extend the lease once; False (and `lost` says why) when the lock is no longer ours."""
        # Past 3/4 of the lease since the last renewal, never renew: a taker may be at work.
        self._expired("it was not renewed in time")
        if self.lost:
            return False
        try:
            info = self.api.inspect_container(self.id)
            if info["Name"].lstrip("/") != self.name:
                self.lost = "another deploy took the lock over (its lease had run out)"
                return False
            start = time.monotonic()  # the new expiry counts from here, so the holder's own
            expires = time.time() + self._offset + self.lease  # deadline comes first
            self.api.put_archive(self.id, "/", _tar({"lease": json.dumps({"expires": expires}).encode()}))
            self._renewed = start
        except apierr.NotFound:
            self.lost = "the lock was removed from the engine"
        except _ENGINE_ERRORS as exc:
            self._expired(f"it could not be renewed ({exc})")
        return self.lost is None

    def _expired(self, why: str) -> None:
        if time.monotonic() - self._renewed > self.lease * 3 / 4:
            self.lost = f"the lease ran out: {why}"

    def check(self) -> None:
        """Raise GitdeployError when the lock was lost (call between steps of a long operation)."""
        if not self.lost:
            self._expired("it was not renewed in time")
        if self.lost:
            raise GitdeployError(f"lost the engine lock {self.name}: {self.lost}",
                                 "another deploy may run now; check `gitdeploy status` before going on")

    def release(self) -> None:
        with _held_lock:
            _HELD_HERE.discard(self.id)
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)  # a renewal stuck on a hung engine must not hang us
        try:
            # Renaming frees the lock at once; removing the container (its layer: the slow part)
            # happens in the background.
            self.api.rename(self.id, f"{RELEASED}{self.id[:12]}")
        except apierr.NotFound:
            return
        except _ENGINE_ERRORS:
            pass  # the engine is gone: the lease (or the dead pid) frees the lock later
        _in_background(_sweep, self.api, self.name.split(".", 1)[1])

    def __enter__(self) -> EngineLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# Lock containers this process holds now: one of this process's own that is not here was left
# behind when the engine could not be reached to release it (a long-running server goes on).
_HELD_HERE: set[str] = set()
_held_lock = threading.Lock()

RELEASED = "gitdeploy-lock-released."  # a lock container on its way out
_STALE = "gitdeploy-stale-lock."
_background: list[threading.Thread] = []


def _in_background(fn: Any, *args: Any) -> None:
    t = threading.Thread(target=fn, args=args, name="gd-lock-sweep", daemon=True)
    t.start()
    _background[:] = [x for x in _background if x.is_alive()] + [t]


@atexit.register
def _finish_background() -> None:
    """Let removals finish before the process ends (bounded: a hung engine must not hang us)."""
    end = time.monotonic() + 5
    for t in _background:
        t.join(timeout=max(0.0, end - time.monotonic()))


def _sweep(api: LightAPI, key: str) -> None:
    """Remove released and taken-over lock containers of `<system>.<env>` (never the lock)."""
    system, _, env = key.rpartition(".")
    try:
        found = api.containers(all=True, filters={"label": [f"{LOCK_SYSTEM}={system}", f"{LOCK_ENV}={env}"]})
    except _ENGINE_ERRORS:
        return  # the next release sweeps again
    for raw in found:
        if (raw.get("Names") or ["/"])[0].lstrip("/").startswith((RELEASED, _STALE)):
            try:
                api.remove_container(raw["Id"], force=True)
            except _ENGINE_ERRORS:
                pass  # gone, or being removed by another sweep


def hold(client: LightClient, system: str, env: str, holder: Holder | None = None, *,
         lease: float = LEASE) -> EngineLock:
    """Take the engine lock of `system` in `env` at once (use as a context manager).

    A stale lock is taken over (see the module docstring; `EngineLock.recovered` says whose).
    Raises Locked naming the holder when the lock is held.
    """
    client = adopt(client)
    api = client.api
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
            try:
                cid = _create(api, name, lab)
            except apierr.APIError as exc:
                if exc.status_code != 409:
                    raise
                state = current(client, system, env)
                if state is None:
                    continue  # released meanwhile
                why = stale_reason(state.holder, state.expires, time.time() + offset,
                                   state.holder.alive_here() if state.holder else None)
                if why is None and _left_by_me(state):
                    why = "this process held it and could not release it (the engine was unreachable)"
                if why is None:
                    raise _held(system, env, name, state) from None
                if _take_over(api, state):
                    recovered = (state.holder, why)
                continue
            return EngineLock(api, name, cid, mine, lease, offset, renewed, recovered)
    except _ENGINE_ERRORS as exc:
        raise GitdeployError(f"taking the engine lock {name}: {getattr(exc, 'explanation', None) or exc}") from None
    raise GitdeployError(f"could not take the engine lock {name}: it changed hands five times in a row",
                         "several deploys of this system are starting at once; try again")


def _left_by_me(state: LockState) -> bool:
    h = state.holder
    if h is None or h.pid != os.getpid() or h.alive_here() is not True:
        return False
    with _held_lock:
        return state.id not in _HELD_HERE


def _create(api: LightAPI, name: str, lab: dict[str, str]) -> str:
    kwargs: dict[str, Any] = dict(image=IMAGE, command=["lock"], name=name, labels=lab, network_disabled=True)
    try:
        return api.create_container(**kwargs)["Id"]
    except apierr.ImageNotFound:
        _ensure_image(api)
        return api.create_container(**kwargs)["Id"]


def _take_over(api: LightAPI, state: LockState) -> bool:
    """Free the lock's name from a stale lock: rename it (atomic: one taker wins), remove it."""
    try:
        api.rename(state.id, f"{_STALE}{state.id[:12]}.{os.urandom(3).hex()}")
        api.remove_container(state.id, force=True)
        return True
    except apierr.NotFound:
        return False  # another taker was first
    except apierr.APIError as exc:
        if exc.status_code == 409:
            return False
        raise


def _held(system: str, env: str, name: str, state: LockState) -> Locked:
    until = time.strftime("%H:%M:%S", time.localtime(state.expires))
    return Locked(
        f"system '{system}' ({env}) is being deployed on this engine by {state.describe()} "
        f"(engine lock {name}, lease until {until})",
        "wait for it to finish; a lock whose holder died is recovered by itself (at once on the "
        "holder's host, elsewhere when its lease runs out)",
    )
