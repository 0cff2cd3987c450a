"""Images: resolve a reference to the ID it names on this engine, or build a context at a commit.

Built images are tagged by content (`gd-<system>/<service>:<digest>`), so building the same
context twice is a no-op and a changed file yields a new image ID - and so a new definition hash.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr, labels
from gitdeploy.live.api import LightClient, adopt
from gitdeploy.live.baseimage import BASE_IMAGE, ensure_base_image
from gitdeploy.spec.model import Build
from gitdeploy.spec.source import SpecSource


class ImageResolver:
    """Resolves references and builds contexts; caches per instance (one pipeline run)."""

    def __init__(self, client: LightClient) -> None:
        client = adopt(client)
        self.client = client
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def image_id(self, ref: str) -> str:
        """The ID of `ref` on this engine; pulls it when missing. Raises GitdeployError."""
        with self._lock:
            if ref in self._ids:
                return self._ids[ref]
        try:
            image_id = self.client.api.inspect_image(ref)["Id"]
        except apierr.ImageNotFound:
            image_id = self._pull(ref)
        except apierr.APIError as exc:
            raise GitdeployError(f"the engine could not inspect image {ref}: {_explain(exc)}") from None
        with self._lock:
            self._ids[ref] = image_id
        return image_id

    def _pull(self, ref: str) -> str:
        if ref == BASE_IMAGE:  # the offline base image: imported from the host's busybox
            return ensure_base_image(self.client, ref)
        try:
            return self.client.images.pull(ref).id
        except apierr.APIError as exc:
            raise GitdeployError(
                f"image {ref} is not on this engine and could not be pulled: {_explain(exc)}",
                "build it locally (docker build / `build:` in the spec) or check the registry and name",
            ) from None

    def build(self, system: str, path: str, source: SpecSource, build: Build) -> str:
        """Build `build.context` as it is in `source`; returns the image ID (cached by content)."""
        digest = hashlib.sha256()
        digest.update(source.tree_digest(build.context).encode())
        digest.update(f"\0{build.dockerfile}\0{build.target or ''}\0".encode())
        for k, v in build.args:
            digest.update(f"{k}={v}\0".encode())
        tag = f"gd-{_repo_name(system)}/{_repo_name(path)}:{digest.hexdigest()[:16]}"
        try:
            return self.image_id_if_present(tag) or self._build(tag, system, path, source, build)
        except apierr.APIError as exc:
            raise GitdeployError(f"building {path} failed: {_explain(exc)}") from None

    def image_id_if_present(self, tag: str) -> str | None:
        try:
            return self.client.api.inspect_image(tag)["Id"]
        except apierr.ImageNotFound:
            return None

    def _build(self, tag: str, system: str, path: str, source: SpecSource, build: Build) -> str:
        with tempfile.TemporaryDirectory(prefix="gitdeploy-build-") as tmp:
            source.export(build.context, Path(tmp))
            try:
                image, _ = self.client.images.build(
                    path=tmp,
                    dockerfile=build.dockerfile,
                    tag=tag,
                    buildargs=dict(build.args) or None,
                    target=build.target,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    labels={labels.SYSTEM: system, labels.SERVICE: path},
                )
            except apierr.BuildError as exc:
                tail = [ln.get("stream", ln.get("error", "")).rstrip() for ln in exc.build_log][-8:]
                raise GitdeployError(
                    f"building {path} ({source.label}, context {build.context}) failed: {exc.msg}",
                    "last build output:\n    " + "\n    ".join(t for t in tail if t),
                ) from None
        return image.id


def _repo_name(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in text.lower())
    return out.strip("._-") or "x"


def _explain(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)
