"""Images on a cluster: resolved to registry digests, built images pushed tagged by content.

Every node pulls an image by itself, so a tag would be resolved once per node and nodes could run
different bytes. gitdeploy resolves each reference to its digest once, when planning, and every
service runs `name[:tag]@sha256:...`. The digest is asked of the manager's engine (the Engine
API's distribution inspect), which knows the registry's credentials and whether it speaks plain
HTTP (--insecure-registry): the registry is reached exactly as the nodes will reach it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.live import apierr
from gitdeploy.live.api import LightAPI, adopt_api

_ERRORS = apierr.EngineError
REGISTRY = re.compile(r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?)"
                      r"(?:/(?P<prefix>[a-z0-9]+(?:[._/-][a-z0-9]+)*))?")


@dataclass(frozen=True)
class Registry:
    """`--registry HOST[:PORT][/PREFIX]`: where built images go so that every node can pull them."""

    host: str
    prefix: str = ""

    @classmethod
    def parse(cls, value: str) -> Registry:
        """Raises GitdeployError (exit 2) for anything but HOST[:PORT][/PREFIX]."""
        m = REGISTRY.fullmatch(value.strip().rstrip("/"))
        if not m:
            raise GitdeployError(
                f"registry {value!r} is not HOST[:PORT][/PREFIX]",
                "for example --registry registry.example.com:5000/team",
                exit_code=EXIT_INVALID,
            )
        return cls(m["host"], m["prefix"] or "")

    def repository(self, name: str) -> str:
        """The registry's repository for `name` ("gd-shop/web" -> "HOST/PREFIX/gd-shop/web")."""
        return "/".join(p for p in (self.host, self.prefix, name) if p)

    def __str__(self) -> str:
        return self.repository("")


def split_digest(ref: str) -> tuple[str, str]:
    """("name[:tag]", "sha256:...") of a reference; the digest is "" when there is none."""
    name, _, digest = ref.partition("@")
    return name, digest


def digest(api: LightAPI, ref: str) -> str | None:
    """The registry's digest of `ref` ("sha256:..."); None when the registry has no such tag.

    Raises GitdeployError when the registry cannot be asked (unreachable, refused, not trusted).
    """
    api = adopt_api(api)
    try:
        return api.inspect_distribution(ref)["Descriptor"]["digest"]
    except apierr.APIError as exc:
        text = str(exc.explanation or exc)
        if exc.status_code == 404 or "manifest unknown" in text or "not found" in text.lower():
            return None
        raise GitdeployError(f"the registry could not be asked for {ref}: {text}", _hint(text)) from None
    except _ERRORS as exc:
        raise GitdeployError(f"the registry could not be asked for {ref}: the engine did not answer ({exc})") from None


def pin(api: LightAPI, ref: str) -> str:
    """`ref` pinned by its registry digest (`name[:tag]@sha256:...`); a pinned ref stays as it is.

    Raises GitdeployError when the registry does not have it.
    """
    api = adopt_api(api)
    name, pinned = split_digest(ref)
    if pinned:
        return ref
    found = digest(api, ref)
    if found is None:
        raise GitdeployError(
            f"image {ref} is not in its registry, so the nodes could not pull it",
            "push it first, or build it from the spec (`build:`) with --registry set",
        )
    return f"{name}@{found}"


def content_tag(image_id: str) -> str:
    """A tag naming an image by its content (its ID): the same image always gets the same tag."""
    return image_id.split(":", 1)[-1][:16]


def publish(api: LightAPI, image: str, registry: Registry, repository: str, tag: str) -> str:
    """Make local `image` available as `<registry>/<repository>:<tag>`; returns it pinned by digest.

    `tag` names the content (a build's content hash, or content_tag()): when the registry has the
    tag already, that is the image and nothing is pushed, so a rebuild elsewhere or a rollback
    runs the very bytes it ran before.
    """
    api = adopt_api(api)
    remote = registry.repository(repository)
    ref = f"{remote}:{tag}"
    found = digest(api, ref)
    if found:
        return f"{ref}@{found}"
    pushed = ""
    try:
        api.tag(image, remote, tag)
        for line in api.push(remote, tag=tag, stream=True, decode=True):
            if "error" in line:
                text = str(line.get("error"))
                raise GitdeployError(f"pushing {ref} failed: {text}", _hint(text))
            pushed = (line.get("aux") or {}).get("Digest", pushed)
    except apierr.APIError as exc:
        text = str(exc.explanation or exc)
        raise GitdeployError(f"pushing {ref} failed: {text}", _hint(text)) from None
    except _ERRORS as exc:
        raise GitdeployError(f"pushing {ref} failed: the engine did not answer ({exc})") from None
    if not pushed:
        raise GitdeployError(f"pushing {ref} reported no digest", "check the registry's log")
    return f"{ref}@{pushed}"


def _hint(text: str) -> str:
    if "HTTPS client" in text or "x509" in text or "tls:" in text:
        return "a registry without TLS must be listed in every node's dockerd --insecure-registry"
    if "unauthorized" in text.lower() or "denied" in text.lower():
        return "log the manager's engine in to the registry (docker login) and deploy with its credentials"
    return "check that the registry runs and that the manager's engine reaches it"
