"""The brakes: freeze an environment (no deploy or repair runs) and halt a system (kill switch).

State lives per environment in the data directory as small JSON files, so every entry point
(CLI, bot, hooks, healer) sees the same brakes. A halted flag lets drift detection tell a
deliberate halt from a crash; the next successful deploy clears it.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitdeploy.deploy.lock import env_dir, holder, whoami
from gitdeploy.errors import Frozen, GitdeployError
from gitdeploy.fsutil import atomic_write

if TYPE_CHECKING:
    from gitdeploy.live.interface import EngineAPI


@dataclass(frozen=True)
class Brake:
    """Who froze (or halted), why and when."""

    who: str
    reason: str
    since: float  # unix time

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"{self.who} since {when}: {self.reason or '(no reason given)'}"


def _write(path: Path, brake: Brake) -> None:
    atomic_write(path, json.dumps(asdict(brake)).encode(), 0o644)


def _read(path: Path) -> Brake | None:
    try:
        data = json.loads(path.read_text())
        return Brake(str(data["who"]), str(data.get("reason", "")), float(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


# -- freeze -----------------------------------------------------------------------------------

def _freeze_file(data_dir: Path, env: str) -> Path:
    return env_dir(data_dir, env) / "freeze.json"


def freeze(data_dir: Path, env: str, reason: str, who: str | None = None) -> Brake:
    """Freeze the environment; returns the freeze (an existing one is replaced)."""
    brake = Brake(who or whoami(), reason, time.time())
    _write(_freeze_file(data_dir, env), brake)
    return brake


def unfreeze(data_dir: Path, env: str) -> Brake | None:
    """Lift the freeze; returns the freeze that was lifted (None if there was none)."""
    path = _freeze_file(data_dir, env)
    brake = _read(path)
    path.unlink(missing_ok=True)
    return brake


def frozen(data_dir: Path, env: str) -> Brake | None:
    """The environment's freeze, or None."""
    return _read(_freeze_file(data_dir, env))


def check_not_frozen(data_dir: Path, env: str) -> None:
    """Raise Frozen (exit 1) naming who froze the environment and why."""
    brake = frozen(data_dir, env)
    if brake:
        raise Frozen(
            f"environment '{env}' is frozen by {brake.describe()}",
            "nothing was deployed; `gitdeploy unfreeze` lifts the freeze once it is safe",
        )


# -- halt (kill switch) -----------------------------------------------------------------------

def _halt_file(data_dir: Path, env: str, system: str) -> Path:
    return env_dir(data_dir, env) / f"halted.{system}.json"


def halted(data_dir: Path, env: str, system: str) -> Brake | None:
    """The halt of `system` in `env` (who, why, when), or None."""
    return _read(_halt_file(data_dir, env, system))


def mark_halted(data_dir: Path, env: str, system: str, reason: str, who: str | None = None) -> Brake:
    """Mark `system` halted in `env` (stopped on purpose: not drift) without stopping anything."""
    brake = Brake(who or whoami(), reason, time.time())
    _write(_halt_file(data_dir, env, system), brake)
    return brake


def clear_halted(data_dir: Path, env: str, system: str) -> None:
    _halt_file(data_dir, env, system).unlink(missing_ok=True)


@dataclass(frozen=True)
class HaltResult:
    system: str
    stopped: int  # containers stopped now
    brake: Brake
    deploy_in_progress: str = ""  # the lock holder, when a deploy was running
    scaled: tuple[tuple[str, int], ...] = ()  # a cluster: (service, the replicas it ran) scaled to 0


def halt(engine: EngineAPI, data_dir: Path, env: str, system: str, reason: str = "", who: str | None = None,
         grace: float = 2.0) -> HaltResult:
    """Stop every running container of `system` at once and mark it halted.

    Does not wait for the deploy lock: a kill switch must work while a deploy runs. Returns
    what was stopped; the attempt is recorded by the caller (see pipeline.halt).
    """
    brake = mark_halted(data_dir, env, system, reason, who)  # before stopping: not a crash
    running = [c.id for c in engine.analyze(system, env).containers if c.running]
    errors: list[str] = []

    def stop(cid: str) -> None:
        try:
            engine.stop(cid, grace)
        except GitdeployError as exc:
            errors.append(exc.message)

    if running:
        with ThreadPoolExecutor(max_workers=min(32, len(running))) as pool:
            list(pool.map(stop, running))
    if errors:
        raise GitdeployError(f"halt: {len(errors)} container(s) did not stop: {'; '.join(errors)}",
                             "run `gitdeploy halt` again, or stop them with docker")
    held = holder(data_dir, env)
    deploying = held.describe() if held else ""
    if not deploying:  # a deploy from another data dir holds the engine lock
        try:
            lock = engine.lock_holder(system, env)
        except GitdeployError:
            lock = None
        deploying = lock.describe() if lock else ""
    return HaltResult(system, len(running), brake, deploying)
