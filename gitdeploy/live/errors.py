"""Engine failures as GitdeployError, for every module that talks to the Docker Engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Turn engine failures inside the block into GitdeployError('<what>: <engine message>')."""
    try:
        yield
    except apierr.APIError as exc:
        raise GitdeployError(f"{what}: {exc.explanation or exc}") from None
    except apierr.EngineError as exc:
        raise GitdeployError(f"{what}: the engine did not answer ({exc})") from None
