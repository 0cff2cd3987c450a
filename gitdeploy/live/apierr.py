"""The engine's errors, as gitdeploy's engine modules catch them (one family, whoever raised it).

The light client (gitdeploy.live.api) raises these; a call it hands to the Docker SDK (a build, a
push, an ssh:// or TLS engine) has the SDK's errors translated into them (`translate`), so no
module under gitdeploy.live names `docker.errors` or `requests.exceptions`, and neither is
imported where the SDK is not used.

- EngineError: anything the engine or the way to it did wrong (the SDK's DockerException).
- APIError: the engine answered with an error status (`status_code`, `explanation`: its message).
- NotFound (404), ImageNotFound (a 404 about an image, as the SDK tells them apart).
- Unreachable: no answer (no socket, refused, reset, timed out: `Timeout`).
- BuildError: an image build failed (`msg`, `build_log`).
"""

from __future__ import annotations

import sys
import types
from typing import Any

# The SDK's rule for telling a missing image from any other 404 (docker.errors).
_IMAGE_FRAGMENTS = ("no such image", "not found: does not exist or no pull access", "repository does not exist",
                    "was found but does not match the specified platform")


class EngineError(Exception):
    """Anything the engine, or the way to it, did wrong."""


class APIError(EngineError):
    """The engine answered with an error status."""

    def __init__(self, status_code: int | None, explanation: str, url: str = "", reason: str = "") -> None:
        self.status_code = status_code
        self.explanation = explanation
        self.url = url
        self.reason = reason
        super().__init__(explanation)

    def __str__(self) -> str:
        code = self.status_code
        kind = "Client" if code is not None and code < 500 else "Server"
        head = f"{code} {kind} Error for {self.url}: {self.reason}" if code is not None else ""
        if self.explanation:
            return f'{head} ("{self.explanation}")' if head else self.explanation
        return head or "engine error"

    def is_client_error(self) -> bool:
        return self.status_code is not None and 400 <= self.status_code < 500

    def is_server_error(self) -> bool:
        return self.status_code is not None and 500 <= self.status_code < 600


class NotFound(APIError):
    """404: no such object."""


class ImageNotFound(NotFound):
    """404 about an image."""


class Unreachable(EngineError):
    """The engine did not answer (no socket, connection refused or broken)."""


class Timeout(Unreachable):
    """The engine did not answer in time."""


class BuildError(EngineError):
    """An image build failed."""

    def __init__(self, msg: str, build_log: Any = ()) -> None:
        super().__init__(msg)
        self.msg = msg
        self.build_log = build_log


def from_status(status: int, body: bytes, url: str = "", reason: str = "") -> APIError:
    """The error for an answer with status `status` (>= 400) and body `body`, as the SDK classifies it."""
    import json

    try:
        explanation = str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        explanation = body.decode(errors="replace").strip()
    cls = APIError
    if status == 404:
        low = explanation.lower()
        cls = ImageNotFound if any(f in low for f in _IMAGE_FRAGMENTS) else NotFound
    return cls(status, explanation, url, reason)


def translate(exc: BaseException) -> BaseException:
    """`exc` as one of ours when the Docker SDK or requests raised it (else `exc` itself).

    Looks only at modules already imported: this never imports the SDK.
    """
    if isinstance(exc, EngineError):
        return exc
    errors = sys.modules.get("docker.errors")
    rexc = sys.modules.get("requests.exceptions")
    if errors is not None:
        if isinstance(exc, errors.APIError):
            resp = getattr(exc, "response", None)
            code = exc.status_code
            cls = (ImageNotFound if isinstance(exc, errors.ImageNotFound) else
                   NotFound if isinstance(exc, errors.NotFound) else APIError)
            return cls(code, str(exc.explanation or ""), str(getattr(resp, "url", "") or ""),
                       str(getattr(resp, "reason", "") or ""))
        if isinstance(exc, errors.BuildError):
            return BuildError(str(exc.msg), exc.build_log)
    if rexc is not None:
        if isinstance(exc, rexc.Timeout):
            return Timeout(str(exc))
        if isinstance(exc, rexc.RequestException):
            return Unreachable(str(exc))
    if errors is not None and isinstance(exc, errors.DockerException):
        return EngineError(str(exc))
    return exc


def sdk_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` with the SDK's errors raised as ours; a returned generator (a stream)
    has them translated while it is read too."""
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - translated, or raised as it was
        new = translate(exc)
        if new is exc:
            raise
        raise new from exc
    if hasattr(out, "__next__") and hasattr(out, "__iter__"):
        return _Stream(out)
    return out


class _Stream:
    """An SDK stream whose errors come out as ours (close() passes through)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._inner)
        except StopIteration:
            raise
        except Exception as exc:  # noqa: BLE001 - translated, or raised as it was
            new = translate(exc)
            if new is exc:
                raise
            raise new from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Translated:
    """An SDK object (a client, `client.images`) whose calls raise our errors."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        try:
            value = getattr(self._inner, name)
        except Exception as exc:  # noqa: BLE001 - translated, or raised as it was
            new = translate(exc)
            if new is exc:
                raise
            raise new from exc
        if isinstance(value, (types.MethodType, types.FunctionType, types.BuiltinFunctionType)):
            return lambda *a, **k: sdk_call(value, *a, **k)
        if type(value).__module__.startswith("docker."):
            return Translated(value)  # a collection (client.containers, client.images): its calls too
        return value
