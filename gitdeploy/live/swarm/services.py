"""Creating and updating Swarm services from whole ServiceSpecs (servicespec.py).

The SDK splits a spec into keyword arguments; gitdeploy builds the spec as the Engine API takes
it, so it is sent as it is: what the plan shows is what the engine gets.
"""

from __future__ import annotations

from typing import Any

import docker
import docker.errors
import requests.exceptions

from gitdeploy.errors import GitdeployError

_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def create(api: docker.APIClient, spec: dict[str, Any]) -> str:
    """Create the service; returns its ID. Raises GitdeployError with the engine's words."""
    try:
        resp = api._post_json(api._url("/services/create"), data=spec)  # noqa: SLF001 - see module doc
        return api._result(resp, json=True)["ID"]  # noqa: SLF001
    except _ERRORS as exc:
        raise _error(f"creating service {spec['Name']}", exc) from None


def update(api: docker.APIClient, service_id: str, version: int, spec: dict[str, Any]) -> list[str]:
    """Replace the service's spec (`version`: its Version.Index as read, so a concurrent change
    fails instead of being overwritten); returns the engine's warnings."""
    try:
        resp = api._post_json(  # noqa: SLF001
            api._url("/services/{0}/update", service_id), params={"version": version}, data=spec
        )
        return list(api._result(resp, json=True).get("Warnings") or [])  # noqa: SLF001
    except _ERRORS as exc:
        raise _error(f"updating service {spec['Name']}", exc) from None


def replace(api: docker.APIClient, service_id: str, spec: dict[str, Any],
            based_on: dict[str, Any] | None = None) -> list[str]:
    """Give the service `spec`, whatever its version: Swarm itself moves a service's version
    (endpoint allocation, update status) right after a change, which makes a plain `update` fail
    "out of sequence". `based_on`: the spec this change was planned against; if someone changed
    the spec meanwhile, raises GitdeployError instead of overwriting their change."""
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


def rollback(api: docker.APIClient, service_id: str, name: str) -> None:
    """Swarm's own rollback: the service's previous spec again, rolled out by its RollbackConfig."""
    for _ in range(5):
        try:
            info = api.inspect_service(service_id)
            resp = api._post_json(  # noqa: SLF001 - see the module docstring
                api._url("/services/{0}/update", service_id),  # noqa: SLF001
                params={"version": int(info["Version"]["Index"]), "rollback": "previous"}, data=info["Spec"])
            api._result(resp, json=True)  # noqa: SLF001
            return
        except _ERRORS as exc:
            if "out of sequence" not in str(getattr(exc, "explanation", "") or exc):
                raise _error(f"rolling back service {name}", exc) from None
    raise GitdeployError(f"rolling back service {name}: its version kept moving", "try again")


def _error(what: str, exc: Exception) -> GitdeployError:
    if isinstance(exc, docker.errors.APIError):
        return GitdeployError(f"{what}: {exc.explanation or exc}")
    return GitdeployError(f"{what}: the engine did not answer ({exc})")
