"""Configs and secrets as Swarm objects named by their contents, never edited in place.

A file of the spec repository becomes a Swarm config `<system>_<env>_<name>_<hash8>`, a secret a
Swarm secret named by the keyed fingerprint of its value (never a plain hash of a secret). A
changed file is a new object, so it moves in lock-step with the code, and the previous revision's
object is still there for a rollback. Objects carry the system's labels; `prune` removes those no
kept revision names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr, labels
from gitdeploy.live.api import LightAPI, adopt_api
from gitdeploy.live.swarm.names import object_name
from gitdeploy.live.swarm.servicespec import Mounted
from gitdeploy.spec.identity import Desired

CONTENT = labels.PREFIX + "content"  # sha256 of a config's contents; a secret's keyed fingerprint
SOURCE = labels.PREFIX + "source"  # the repository path of a config, the name of a secret

_ERRORS = apierr.EngineError


def ensure_config(api: LightAPI, system: str, env: str, source: str, data: bytes, digest: str) -> Mounted:
    """The config holding `data` (sha256 hex `digest`) of repository file `source`; created if missing."""
    api = adopt_api(api)
    return _ensure("config", api, system, env, source, data, digest)


def ensure_secret(api: LightAPI, system: str, env: str, name: str, value: bytes, fingerprint: str) -> Mounted:
    """The secret holding `value` (keyed `fingerprint`) of secret `name`; created if missing."""
    api = adopt_api(api)
    return _ensure("secret", api, system, env, name, value, fingerprint)


def for_service(api: LightAPI, system: str, env: str, d: Desired,
                files: Mapping[str, bytes]) -> tuple[dict[str, Mounted], dict[str, Mounted]]:
    """(configs by repository path, secrets by name) for `d`, created where missing.

    `files` are the spec's file contents by repository path (Spec.files).
    """
    api = adopt_api(api)
    configs = {c.source: ensure_config(api, system, env, c.source, files[c.source], c.digest)
               for c in d.service.configs}
    values = dict(d.secret_values)
    fps = {v["name"]: v["fingerprint"] for v in d.definition["secrets"].values()}
    secrets = {x.name: ensure_secret(api, system, env, x.name, values[fps[x.name]], fps[x.name])
               for x in d.service.secrets}
    return configs, secrets


def _ensure(kind: str, api: LightAPI, system: str, env: str, source: str, data: bytes,
            content_id: str) -> Mounted:
    name = object_name(system, env, source, content_id)
    lab = {labels.SYSTEM: system, labels.ENV: env, labels.MANAGED: "true", CONTENT: content_id, SOURCE: source}
    try:
        for attempt in range(2):
            found = _find(kind, api, name)
            if found is not None:
                return _check(kind, found, lab)
            try:
                created = (api.create_config if kind == "config" else api.create_secret)(name, data, labels=lab)
                return Mounted(created["ID"], name)
            except apierr.APIError as exc:
                if exc.status_code != 409 or attempt:
                    raise
                # another deploy created it meanwhile: read and check it
    except apierr.APIError as exc:
        raise GitdeployError(f"creating {kind} {name}: {exc.explanation or exc}") from None
    except _ERRORS as exc:
        raise GitdeployError(f"creating {kind} {name}: the engine did not answer ({exc})") from None
    raise AssertionError("unreachable")


def _find(kind: str, api: LightAPI, name: str) -> dict[str, Any] | None:
    listed = (api.configs if kind == "config" else api.secrets)(filters={"name": name})
    return next((o for o in listed if o["Spec"]["Name"] == name), None)  # the filter matches prefixes


def _check(kind: str, found: dict[str, Any], want: dict[str, str]) -> Mounted:
    have = found["Spec"].get("Labels") or {}
    name = found["Spec"]["Name"]
    if any(have.get(k) != want[k] for k in (labels.SYSTEM, labels.ENV, CONTENT)):
        owner = f"system {have[labels.SYSTEM]!r} ({have.get(labels.ENV, '?')})" if labels.SYSTEM in have else (
            "something other than gitdeploy")
        raise GitdeployError(
            f"the {kind} name {name} is taken by {owner}, with other contents",
            f"remove that {kind} (docker {kind} rm {name}) if nothing uses it",
        )
    return Mounted(found["ID"], name)


def prune(api: LightAPI, system: str, env: str, keep: set[str]) -> list[str]:
    """Remove the system's configs and secrets in `env` whose names are not in `keep`; returns
    the names removed. One still used by a service (Swarm refuses) stays, for a later prune."""
    api = adopt_api(api)
    removed = []
    flt = {"label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"]}
    try:
        for listing, remove in ((api.configs, api.remove_config), (api.secrets, api.remove_secret)):
            for obj in listing(filters=flt):
                name = obj["Spec"]["Name"]
                if name in keep:
                    continue
                try:
                    remove(obj["ID"])
                    removed.append(name)
                except apierr.NotFound:
                    pass
                except apierr.APIError as exc:
                    if "in use" not in str(exc.explanation or exc):
                        raise
    except apierr.APIError as exc:
        raise GitdeployError(f"pruning configs and secrets of {system} ({env}): {exc.explanation or exc}") from None
    except _ERRORS as exc:
        raise GitdeployError(f"pruning configs and secrets of {system} ({env}): the engine did not answer ({exc})") from None
    return removed
