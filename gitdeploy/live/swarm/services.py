"""Creating and updating Swarm services from whole ServiceSpecs (servicespec.py).

The SDK splits a spec into keyword arguments; gitdeploy builds the spec as the Engine API takes
it, so it is sent as it is: what the plan shows is what the engine gets.
"""

from __future__ import annotations

from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr
from gitdeploy.live.api import LightAPI, adopt_api

_ERRORS = apierr.EngineError


def create(api: LightAPI, spec: dict[str, Any]) -> str:
    """Create the service; returns its ID. Raises GitdeployError with the engine's words."""
    api = adopt_api(api)
    try:
        return api.create_service_spec(spec)["ID"]
    except _ERRORS as exc:
        raise _error(f"creating service {spec['Name']}", exc) from None


def update(api: LightAPI, service_id: str, version: int, spec: dict[str, Any]) -> list[str]:
    """Replace the service's spec (`version`: its Version.Index as read, so a concurrent change
    fails instead of being overwritten); returns the engine's warnings."""
    api = adopt_api(api)
    try:
        return list(api.update_service_spec(service_id, version, spec).get("Warnings") or [])
    except _ERRORS as exc:
        raise _error(f"updating service {spec['Name']}", exc) from None


def replace(api: LightAPI, service_id: str, spec: dict[str, Any],
            based_on: dict[str, Any] | None = None) -> list[str]:
    """Give the service `spec`, whatever its version: Swarm itself moves a service's version
    (endpoint allocation, update status) right after a change, which makes a plain `update` fail
    "out of sequence". `based_on`: the spec this change was planned against; if someone changed
    the spec meanwhile, raises GitdeployError instead of overwriting their change."""
    api = adopt_api(api)
    for _ in range(5):
        try:
            info = api.inspect_service(service_id)
        except _ERRORS as exc:
            raise _error(f"reading service {spec['Name']}", exc) from None
        if based_on is not None and info["Spec"] != based_on:
            raise GitdeployError(f"service {spec['Name']} was changed by someone else while this deploy ran",
                                 "plan again: the plan was made against the spec it had before")
        try:
            return update(api, service_id, int(info["Version"]["Index"]), spec)
        except GitdeployError as exc:
            if "out of sequence" not in exc.message:
                raise
    raise GitdeployError(f"updating service {spec['Name']}: its version kept moving", "try again")


def rollback(api: LightAPI, service_id: str, name: str) -> None:
    """Swarm's own rollback: the service's previous spec again, rolled out by its RollbackConfig."""
    api = adopt_api(api)
    for _ in range(5):
        try:
            info = api.inspect_service(service_id)
            api.update_service_spec(service_id, int(info["Version"]["Index"]), info["Spec"], rollback="previous")
            return
        except _ERRORS as exc:
            if "out of sequence" not in str(getattr(exc, "explanation", "") or exc):
                raise _error(f"rolling back service {name}", exc) from None
    raise GitdeployError(f"rolling back service {name}: its version kept moving", "try again")


def _error(what: str, exc: Exception) -> GitdeployError:
    if isinstance(exc, apierr.APIError):
        return GitdeployError(f"{what}: {exc.explanation or exc}")
    return GitdeployError(f"{what}: the engine did not answer ({exc})")
