"""Engine failures as GitdeployError, for every module that talks to the Docker Engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker.errors
import requests.exceptions

from gitdeploy.errors import GitdeployError


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Turn engine failures inside the block into GitdeployError('<what>: <engine message>')."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise GitdeployError(f"{what}: {exc.explanation or exc}") from None
    except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
        raise GitdeployError(f"{what}: the engine did not answer ({exc})") from None
