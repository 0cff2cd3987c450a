"""Names of the Swarm objects gitdeploy creates (pure).

Swarm refuses dots in service and network names ("name must be valid as a DNS name component":
letters and digits, with '-' or '_' only between them, at most 63 characters), so the parts are
joined with '_' as `docker stack deploy` does: service `<system>_<env>_<dashed path>`, network
`<system>_<env>`, config `<system>_<env>_<name>_<hash8>`. A name that would be too long or
invalid is shortened and given a hash of its parts, so it stays unique. Names only have to be
unique: what an object belongs to is read from its labels, never parsed out of its name.
"""

from __future__ import annotations

import hashlib
import re

from gitdeploy.spec.names import dns_name

# swarmkit's rules (written without its nested repeats, which backtrack for ages on a bad name)
DNS_COMPONENT = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?")  # services, networks
OBJECT_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?")  # configs, secrets
SERVICE_MAX = 63
OBJECT_MAX = 64


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _fit(name: str, rule: re.Pattern[str], limit: int, *parts: str) -> str:
    if len(name) <= limit and rule.fullmatch(name):
        return name
    # keep a readable head, make it unique with a hash of every part
    head = re.sub(r"[^a-zA-Z0-9_-]", "-", name)[: limit - 9].rstrip("-_.")
    return f"{head}_{_digest(*parts)[:8]}" if head else _digest(*parts)[:limit]


def service_name(system: str, env: str, path: str) -> str:
    """The Swarm service of `path` ("shop/web" -> "<system>_<env>_shop-web")."""
    return _fit(f"{system}_{env}_{dns_name(path)}", DNS_COMPONENT, SERVICE_MAX, system, env, path)


def network_name(system: str, env: str) -> str:
    """The overlay network every service of the system in `env` joins."""
    return _fit(f"{system}_{env}", DNS_COMPONENT, SERVICE_MAX, system, env)


def object_name(system: str, env: str, name: str, content_id: str) -> str:
    """A config or secret: `<system>_<env>_<name>_<hash8>`; `content_id` is a hex hash of the
    contents (a keyed fingerprint for secrets), so changed contents make a new object."""
    readable = name.strip("/").replace("/", "-")
    full = f"{system}_{env}_{readable}_{content_id[:8]}"
    if len(full) <= OBJECT_MAX and OBJECT_NAME.fullmatch(full):
        return full
    tail = f"_{_digest(system, env, name)[:8]}_{content_id[:8]}"
    head = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"{system}_{env}_{readable}")[: OBJECT_MAX - len(tail)].rstrip("-_.")
    return f"{head}{tail}" if head else tail.lstrip("_")


def volume_name(system: str, env: str, source: str) -> str:
    """A named volume on each node: the single engine's name (`<system>.<env>.<source>`)."""
    return f"{system}.{env}.{source}"


def lock_name(system: str, env: str) -> str:
    """The config that is the deploy lock of `system` in `env` (configs may hold dots)."""
    return f"gitdeploy-lock.{system}.{env}"
