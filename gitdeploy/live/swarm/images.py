"""Images for a cluster, as `resolve()` wants them (the `Images` protocol of gitdeploy.spec.resolve).

On one engine an image is its local ID. On a cluster every node pulls by itself, so an image is
its registry reference pinned by digest (`name[:tag]@sha256:...`): that string is the Desired's
`image_id`, hence part of the definition and its hash - the plan shows the digest, and the
service spec runs exactly it.

- An image the manager's engine has is used as it is, as on one engine: pushed to `--registry`
  tagged by its content, and pinned - unless its reference names a registry host, which then
  says what it is. (So an offline engine never waits on a registry it cannot reach.)
- Any other reference is pinned to its registry's digest.
- A `build:` context is built on the manager's engine (cached by content, as on one engine),
  pushed tagged by that content hash, and pinned. When the registry has that tag already (built
  earlier, here or on another host), its digest is used: a rollback or a rebuild elsewhere runs
  the very bytes that ran before.
"""

from __future__ import annotations

import threading

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.live.api import LightClient, adopt
from gitdeploy.live.forksafe import NOT_BUILT, NOT_PULLED, is_untrusted
from gitdeploy.live.images import ImageResolver, _repo_name
from gitdeploy.live.swarm import registry as reg
from gitdeploy.spec.model import Build
from gitdeploy.spec.source import SpecSource


class SwarmImages:
    """Resolves references and builds contexts to pinned registry references; caches per instance."""

    def __init__(self, client: LightClient, registry: reg.Registry | None) -> None:
        client = adopt(client)
        self.client = client
        self.api = client.api
        self.registry = registry
        self._local = ImageResolver(client)
        self._pinned: dict[str, str] = {}
        self._lock = threading.Lock()

    def remember(self, pinned: dict[str, str]) -> None:
        """References already resolved (by what ran before): used as they are, not asked again."""
        with self._lock:
            for ref, value in pinned.items():
                self._pinned.setdefault(ref, value)

    def image_id(self, ref: str) -> str:
        """`ref` pinned by digest (see the module docstring). Raises GitdeployError."""
        with self._lock:
            if ref in self._pinned:
                return self._pinned[ref]
        pinned = self._pin(ref)
        with self._lock:
            self._pinned[ref] = pinned
        return pinned

    def _pin(self, ref: str) -> str:
        if reg.split_digest(ref)[1]:
            return ref
        local = self._local.image_id_if_present(ref)
        # As on one engine, an image the engine has is used as it is - here pushed for the nodes -
        # unless the reference names its registry: then that registry says what it is.
        if local is not None and self.registry is not None and not _names_registry(ref):
            return self._push_local(ref, local)
        asked: GitdeployError | None = None
        try:
            found = reg.digest(self.api, ref)
            if found:
                return f"{ref}@{found}"
        except GitdeployError as exc:  # its registry cannot be reached: a local copy may do
            asked = exc
        if local is None or self.registry is None:
            why = asked.message if asked else f"image {ref} is not in its registry"
            hint = ("set --registry so that gitdeploy pushes it there for the nodes" if local else
                    "push it to a registry every node reaches, or build it from the spec (`build:`)")
            raise GitdeployError(f"{why}, so the nodes could not pull it", hint)
        return self._push_local(ref, local)

    def _push_local(self, ref: str, local: str) -> str:
        assert self.registry is not None
        if is_untrusted(self.client):  # a fork's plan pushes nothing to the cluster's registry
            return NOT_PULLED
        repository, tag = _split_tag(ref)
        if _names_registry(repository):
            repository = repository.split("/", 1)[1]
        return reg.publish(self.api, ref, self.registry, repository, f"{tag}-{reg.content_tag(local)}")

    def build(self, system: str, path: str, source: SpecSource, build: Build) -> str:
        """Build `build.context` at the spec's commit and push it; returns the pinned reference
        (a fork's pull request is only planned: nothing is built, see gitdeploy.live.forksafe)."""
        if is_untrusted(self.client):
            return NOT_BUILT
        if self.registry is None:
            raise GitdeployError(
                f"service {path} is built from the spec (`build:`), and on a cluster every node must "
                "pull it from a registry, but no registry is set",
                "set --registry HOST[:PORT][/PREFIX] (or $GITDEPLOY_REGISTRY, or the environment's "
                "`registry` setting)",
                exit_code=EXIT_INVALID,
            )
        image_id = self._local.build(system, path, source, build)
        mine = f"gd-{_repo_name(system)}/{_repo_name(path)}:"  # the content tag ImageResolver gave it
        tags = [t for t in (self.api.inspect_image(image_id).get("RepoTags") or []) if t.startswith(mine)]
        if not tags:
            raise GitdeployError(f"building {path} left no content tag on image {image_id[:19]}")
        repository, tag = _split_tag(tags[0])
        return reg.publish(self.api, image_id, self.registry, repository, tag)


def _names_registry(ref: str) -> bool:
    """Whether `ref` starts with a registry host (docker's rule: a first part with '.' or ':', or localhost)."""
    first, sep, _ = ref.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def _split_tag(ref: str) -> tuple[str, str]:
    """("repo/name", "tag") of a reference without digest; the tag defaults to "latest"."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        return ref, "latest"
    return name, tag
