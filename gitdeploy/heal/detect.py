"""detect(Desired, Observation) -> [Drift]: every drift decided from what the engine's look saw.

The look itself is the engine's (EngineAPI.observe: one container list, one image inspect per
desired image, one inspect plus one `docker diff` per container at the deployed revision).
`detect` decides everything from those plain values, without an engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from gitdeploy.heal.compare import config_differences, file_sha256, tampered_paths
from gitdeploy.heal.model import Drift
from gitdeploy.live import labels
from gitdeploy.live.engine import container_name, network_name, service_aliases
from gitdeploy.live.model import Live, LiveContainer, Observation
from gitdeploy.plan.replicas import assign
from gitdeploy.spec.identity import Desired


def ours(raw: Mapping[str, Any], system: str, env: str) -> bool:
    lab = raw.get("Labels") or {}
    return lab.get(labels.SYSTEM) == system and lab.get(labels.ENV) == env


def detect(
    desired: Sequence[Desired], system: str, env: str, obs: Observation,
    file_digest: Callable[[str], str | None] = file_sha256, aliases: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Drift]:
    """Every drift of the system from `desired` in what `obs` saw: services in spec order.

    `aliases`: each service's names on the system network (default: as the deploy gives them)."""
    if aliases is None:
        aliases = service_aliases([d.service for d in desired])
    live = Live(system, env, tuple(_current(LiveContainer.from_api(r), obs.inspects.get(r["Id"]))
                                   for r in obs.containers if ours(r, system, env)))
    by_service = live.by_service
    out: list[Drift] = []
    for d in desired:
        out += _service_drift(d, by_service.get(d.path, []), system, env, obs, file_digest,
                              aliases.get(d.path, (d.path.replace("/", "-"),)))
    wanted = {d.path for d in desired}
    for path in sorted(set(by_service) - wanted):
        for c in by_service[path]:
            if c.running:
                out.append(Drift(path, c.name, c.id, "extra", "service", "(not in the deployed spec)", c.state,
                                 f"{c.name} runs, but the deployed revision has no service {path!r}"))
    out += _unmanaged(desired, system, env, obs)
    return out


def _service_drift(
    d: Desired, containers: list[LiveContainer], system: str, env: str, obs: Observation,
    file_digest: Callable[[str], str | None], aliases: tuple[str, ...],
) -> list[Drift]:
    out: list[Drift] = []
    a = assign(containers, d.hash, d.service.replicas)
    for c in a.surplus:
        why = "a duplicate of replica" if c.replica in a.kept else "beyond the wanted replicas, replica"
        out.append(Drift(d.path, c.name, c.id, "extra", "replicas", str(d.service.replicas), c.state,
                         f"{c.name} runs {why} {c.replica}"))
    for r in range(1, d.service.replicas + 1):
        c = a.kept.get(r)
        if c is None:
            down = a.startable.get(r)
            if down is None:
                name = container_name(system, env, d.path, r, d.hash)
                out.append(Drift(d.path, name, "", "missing", "state", "running", "(no container)",
                                 f"replica {r} has no container at the deployed revision"))
                continue
            c = down
            out.append(_stopped(d, c, obs.inspects.get(c.id)))
        elif c.state in ("restarting", "paused"):
            out.append(Drift(d.path, c.name, c.id, c.state, "state", "running", c.state,  # type: ignore[arg-type]
                             _state_explanation(c, obs.inspects.get(c.id))))
        elif c.health == "unhealthy":
            out.append(Drift(d.path, c.name, c.id, "unhealthy", "health", "healthy", "unhealthy",
                             _health_explanation(obs.inspects.get(c.id))))
        info = obs.inspects.get(c.id)
        if info is None:
            continue
        if c.running and c.state != "restarting":
            net = network_name(system, env)
            missing = unpublished(info, net, aliases)
            if missing:
                out.append(Drift(d.path, c.name, c.id, "unpublished", "network", f"{net} as {', '.join(aliases)}",
                                 missing, f"{c.name} runs but other services cannot reach it by name: {missing}"))
        img_diff, fields = config_differences(d, r, info, obs.images.get(d.image_id), system, env, file_digest)
        if img_diff:
            out.append(Drift(d.path, c.name, c.id, "image", *img_diff,
                             f"{c.name} runs image {img_diff[2]}, not the resolved {img_diff[1]}"))
        for f, want, have in fields:
            out.append(Drift(d.path, c.name, c.id, "config", f, want, have,
                             f"{c.name}: {f} is {have}, its definition says {want}"))
        files = tampered_paths(d, info, obs.diffs.get(c.id))
        if files:
            shown = ", ".join(files[:20]) + (f" (+{len(files) - 20} more)" if len(files) > 20 else "")
            out.append(Drift(d.path, c.name, c.id, "tampered", "files",
                             "no changes outside volumes, configs, secrets and drift_ignore", shown,
                             f"files changed inside {c.name}: {shown}"))
    for c in a.old:
        out.append(Drift(d.path, c.name, c.id, "extra", "revision", d.hash[:12], c.hash[:12],
                         f"{c.name} runs revision {c.hash[:12]} (commit {c.commit[:7] or 'worktree'}), "
                         "not the deployed one"))
    return out


def unpublished(info: Mapping[str, Any], network: str, aliases: tuple[str, ...]) -> str:
    """What keeps a running container from being reached by its names ("" when nothing does)."""
    nets = (info.get("NetworkSettings") or {}).get("Networks") or {}
    if network not in nets:
        return f"not on the network {network}"
    lacking = [a for a in aliases if a not in ((nets[network] or {}).get("Aliases") or ())]
    return f"aliases {', '.join(lacking)} missing" if lacking else ""


def _current(c: LiveContainer, info: Mapping[str, Any] | None) -> LiveContainer:
    """The state from the inspect when there is one: it waits for the engine to finish a stop,
    while the list can still say "running" right after a `die` event."""
    st = (info or {}).get("State")
    if not st:
        return c
    health = (st.get("Health") or {}).get("Status") or c.health if "Health" in st else c.health
    return replace(c, state=st.get("Status") or c.state, health=health)


def _stopped(d: Desired, c: LiveContainer, info: Mapping[str, Any] | None) -> Drift:
    return Drift(d.path, c.name, c.id, "exited", "state", "running", c.state, _state_explanation(c, info))


def _state_explanation(c: LiveContainer, info: Mapping[str, Any] | None) -> str:
    st = (info or {}).get("State") or {}
    parts = [f"{c.name} is {c.state}"]
    if c.state != "running" and "ExitCode" in st:
        code = st.get("ExitCode")
        parts.append(f"exit code {code}" + (" (killed)" if code == 137 else ""))
    if st.get("OOMKilled"):
        parts.append("killed for lack of memory (OOM)")
    if (info or {}).get("RestartCount"):
        parts.append(f"restarted {info['RestartCount']} time(s)")
    if st.get("Error"):
        parts.append(f"engine error: {st['Error']}")
    if st.get("FinishedAt") and not str(st["FinishedAt"]).startswith("0001"):
        parts.append(f"since {str(st['FinishedAt'])[:19].replace('T', ' ')} UTC")
    return ", ".join(parts)


def _health_explanation(info: Mapping[str, Any] | None) -> str:
    health = ((info or {}).get("State") or {}).get("Health") or {}
    last = (health.get("Log") or [{}])[-1]
    out = (last.get("Output") or "").strip().splitlines()
    tail = f"; last check exit {last.get('ExitCode')}: {out[-1][:200]}" if out else ""
    return f"health check failing {health.get('FailingStreak', '?')} time(s) in a row{tail}"


def _unmanaged(desired: Sequence[Desired], system: str, env: str, obs: Observation) -> list[Drift]:
    names = {container_name(system, env, d.path, r, d.hash): d.path
             for d in desired for r in range(1, d.service.replicas + 1)}
    ports = [(d.path, p) for d in desired for p in d.service.ports if p.host is not None]
    out: list[Drift] = []
    for raw in obs.containers:
        if ours(raw, system, env):
            continue
        lab = raw.get("Labels") or {}
        owner = (f"a container of system {lab[labels.SYSTEM]!r} ({lab.get(labels.ENV, '?')})"
                 if labels.SYSTEM in lab else "a container gitdeploy does not manage")
        name = (raw.get("Names") or ["/?"])[0].lstrip("/")
        if name in names:
            out.append(Drift(names[name], name, raw["Id"], "unmanaged", "name", "(free for gitdeploy)", name,
                             f"{owner} holds the container name {name}; remove or rename it"))
        if raw.get("State") != "running":
            continue
        for path, p in ports:
            for held in raw.get("Ports") or []:
                if (held.get("PublicPort") == p.host and held.get("Type", "tcp") == p.protocol
                        and _ips_overlap(p.host_ip, held.get("IP") or "")):
                    out.append(Drift(path, name, raw["Id"], "unmanaged", "ports", f"{p} free for {path}",
                                     f"{held.get('IP') or ''}:{p.host}/{p.protocol} held by {name}",
                                     f"{owner} ({name}) holds host port {p.host}/{p.protocol} that {path} publishes"))
                    break
    return out


def _ips_overlap(a: str, b: str) -> bool:
    wild = ("", "0.0.0.0", "::")
    return a in wild or b in wild or a == b
