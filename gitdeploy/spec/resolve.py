"""resolve(Spec) -> [Desired]: add what only the deploying host knows, then hash.

Image references become image IDs (built contexts are built at the commit), secrets become
keyed fingerprints. The engine is reached only through the `Images` protocol passed in.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from gitdeploy.errors import GitdeployError
from gitdeploy.spec.identity import Desired, definition_of, hash_definition
from gitdeploy.spec.model import Build, Spec
from gitdeploy.spec.secrets import SecretStore
from gitdeploy.spec.source import SpecSource


class Images(Protocol):
    def image_id(self, ref: str) -> str: ...

    def build(self, system: str, path: str, source: SpecSource, build: Build) -> str: ...


def resolve(spec: Spec, source: SpecSource, images: Images, secrets: SecretStore) -> list[Desired]:
    """One Desired per service, in spec order. Raises GitdeployError (missing image/secret)."""
    refs = sorted({s.image for s in spec.services if s.image})
    builds = [s for s in spec.services if s.build is not None]
    with ThreadPoolExecutor(max_workers=4) as pool:
        ref_ids = dict(zip(refs, pool.map(images.image_id, refs), strict=True))
        build_ids = dict(
            zip(
                [s.path for s in builds],
                pool.map(lambda s: images.build(spec.system, s.path, source, s.build), builds),
                strict=True,
            )
        )
    out = []
    for s in spec.services:
        fingerprints: dict[str, str] = {}
        values: list[tuple[str, bytes]] = []
        for ref in s.secrets:
            value = secrets.get(ref.name)
            if value is None:
                raise GitdeployError(
                    f"secret '{ref.name}' (used by {s.path}) is not provided on this host",
                    f"put its value in {secrets.where(ref.name)}",
                )
            fp = secrets.fingerprint(ref.name, value)
            fingerprints[ref.name] = fp
            values.append((fp, value))
        image_id = ref_ids[s.image] if s.image else build_ids[s.path]
        definition = definition_of(s, image_id, fingerprints)
        out.append(
            Desired(
                service=s,
                image_id=image_id,
                definition=definition,
                hash=hash_definition(definition),
                secret_values=tuple(values),
            )
        )
    return out
