"""Creating and updating Swarm services from whole ServiceSpecs (servicespec.py).

The SDK splits a spec into keyword arguments; gitdeploy builds the spec as the Engine API takes
it, so it is sent as it is: what the plan shows is what the engine gets.
"""

from __future__ import annotations

from typing import Any

import docker

from gitdeploy.live.engine import engine_errors


def create(api: docker.APIClient, spec: dict[str, Any]) -> str:
    """Create the service; returns its ID. Raises GitdeployError with the engine's words."""
    with engine_errors(f"creating service {spec['Name']}"):
        resp = api._post_json(api._url("/services/create"), data=spec)  # noqa: SLF001 - see module doc
        return api._result(resp, json=True)["ID"]  # noqa: SLF001


def update(api: docker.APIClient, service_id: str, version: int, spec: dict[str, Any]) -> list[str]:
    """Replace the service's spec (`version`: its Version.Index as read); returns the engine's warnings."""
    with engine_errors(f"updating service {spec['Name']}"):
        resp = api._post_json(  # noqa: SLF001
            api._url("/services/{0}/update", service_id), params={"version": version}, data=spec
        )
        return list(api._result(resp, json=True).get("Warnings") or [])  # noqa: SLF001
