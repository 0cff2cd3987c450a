"""Desired services for the Swarm tests, built the way resolve() builds them."""

from __future__ import annotations

from gitdeploy.spec.identity import Desired, definition_of, hash_definition
from gitdeploy.spec.model import Service


def desired(service: Service, image_id: str = "sha256:" + "0" * 64, fingerprints: dict[str, str] | None = None,
            secret_values: tuple[tuple[str, bytes], ...] = ()) -> Desired:
    definition = definition_of(service, image_id, fingerprints or {})
    return Desired(service, image_id, definition, hash_definition(definition), secret_values)
