"""Planning a fork's pull request without running any of its code on an engine.

A fork's `build:` contexts are a stranger's Dockerfiles, and its `image:` references may name
anything; building or pulling them on an environment's engine runs them (RUN steps) or fetches
them there. `untrusted(client)` wraps the engine client the planner gets (Engine.untrusted) so
that a build or a pull is never sent: the image is named by a placeholder instead, which the plan then shows
(`not built: fork pull request`) and which can never be deployed (deploys of fork PRs are
refused). Images already on the engine are still found, by inspection only.
"""

from __future__ import annotations

from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live.api import LightClient

NOT_BUILT = "not built: fork pull request"
NOT_PULLED = "not pulled: fork pull request"
PLACEHOLDERS = (NOT_BUILT, NOT_PULLED)


class _Placeholder:
    """What the planner gets back instead of a built or pulled image: only its `id` is read."""

    def __init__(self, id_: str) -> None:
        self.id = id_


class _Images:
    def __init__(self, images: Any) -> None:
        self._images = images

    def __getattr__(self, name: str) -> Any:
        return getattr(self._images, name)

    def build(self, **_: Any) -> tuple[_Placeholder, list]:
        return _Placeholder(NOT_BUILT), []

    def pull(self, *_: Any, **__: Any) -> _Placeholder:
        return _Placeholder(NOT_PULLED)


class _API:
    """The low-level client with every call that fetches or makes images refused (a backstop)."""

    _REFUSED = frozenset({"build", "pull", "import_image", "import_image_from_url", "import_image_from_data",
                          "import_image_from_file", "import_image_from_stream", "load_image", "create_container",
                          "start", "exec_create", "exec_start",
                          # a cluster's writes: pushing to its registry, services, configs, secrets, networks
                          "push", "tag", "create_service", "update_service", "remove_service", "create_config",
                          "create_service_spec", "update_service_spec",
                          "create_secret", "create_network"})

    def __init__(self, api: Any) -> None:
        self._api = api

    def __getattr__(self, name: str) -> Any:
        if name in self._REFUSED:
            raise GitdeployError(f"a fork pull request is only planned: the engine is not asked to {name}",
                                 "set allow_fork_prs: true in the server configuration to trust forks")
        return getattr(self._api, name)


class UntrustedClient:
    """A docker client for planning untrusted code: reads pass through, builds and pulls do not."""

    def __init__(self, client: LightClient) -> None:
        self._client = client
        self.api = _API(client.api)

    @property
    def images(self) -> _Images:
        return _Images(self._client.images)  # the SDK's, made only when an image is looked up this way

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def is_untrusted(client: object) -> bool:
    return isinstance(client, UntrustedClient)


def untrusted(client: LightClient) -> LightClient:
    """`client` for planning a fork's pull request (see the module docstring); idempotent."""
    if isinstance(client, UntrustedClient):
        return client  # type: ignore[return-value]
    return UntrustedClient(client)  # type: ignore[return-value]
