"""The healer's reads on a Docker Engine: its look at a system (`observe`), the file changes
inside a container (`docker diff`) and the system's event stream. Engine methods delegate here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr, labels
from gitdeploy.live.api import LightAPI, adopt_api
from gitdeploy.live.errors import engine_errors
from gitdeploy.live.model import ContainerEvent, FileChange, Observation
from gitdeploy.spec.identity import Desired


def ours(raw: dict[str, Any], system: str, env: str) -> bool:
    lab = raw.get("Labels") or {}
    return lab.get(labels.SYSTEM) == system and lab.get(labels.ENV) == env


def observe(api: LightAPI, system: str, env: str, desired: Sequence[Desired], workers: int = 8
            ) -> Observation:
    """One container list (every container, so unmanaged holders of our ports and names are seen
    too), one image inspect per desired image, and one inspect plus one `docker diff` per
    container at its service's target - on a bounded pool."""
    api = adopt_api(api)
    with engine_errors("listing containers"):
        raw = tuple(api.containers(all=True))
    targets = {d.path: d.hash for d in desired}
    todo = [r["Id"] for r in raw if ours(r, system, env)
            and targets.get((r.get("Labels") or {}).get(labels.SERVICE, "")) == (r.get("Labels") or {}).get(labels.HASH)]
    image_ids = sorted({d.image_id for d in desired})

    def inspect(cid: str) -> tuple[str, dict | None, list[FileChange] | None]:
        try:
            info = api.inspect_container(cid)
        except apierr.NotFound:
            return cid, None, None  # removed since the list: the next check sees it missing
        return cid, info, file_changes(api, cid)

    def image(iid: str) -> tuple[str, dict | None]:
        try:
            return iid, api.inspect_image(iid).get("Config") or {}
        except apierr.NotFound:
            return iid, None

    with engine_errors("inspecting containers"), ThreadPoolExecutor(max(1, workers), "gd-check") as pool:
        images = dict(pool.map(image, image_ids))
        found = list(pool.map(inspect, todo))
    return Observation(
        containers=raw,
        inspects={cid: i for cid, i, _ in found if i is not None},
        diffs={cid: d for cid, i, d in found if d is not None},
        images={k: v for k, v in images.items() if v is not None},
    )


def file_changes(api: LightAPI, cid: str) -> list[FileChange] | None:
    """The paths changed inside container `cid` since it was created (None: it is gone)."""
    api = adopt_api(api)
    with engine_errors(f"listing the file changes of {cid[:12]}"):
        try:
            raw = api.diff(cid) or []
        except apierr.NotFound:
            return None
    return [FileChange(str(c.get("Path") or ""), int(c.get("Kind") or 0)) for c in raw]


def events(api: LightAPI, system: str, env: str, actions: Sequence[str]) -> Events:
    """The container events (`actions`) of `system` in `env` from now on."""
    api = adopt_api(api)
    with engine_errors("listening to the engine's events"):
        stream = api.events(decode=True, filters={
            "type": "container", "event": list(actions),
            "label": [f"{labels.SYSTEM}={system}", f"{labels.ENV}={env}"],
        })
    return Events(stream)


class Events:
    """The engine's event stream as ContainerEvents (an EventStream); `close()` ends it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[ContainerEvent]:
        try:
            for ev in self._stream:
                yield ContainerEvent(ev.get("timeNano", 0) / 1e9, ev.get("Action") or ev.get("status") or "",
                                     (ev.get("Actor") or {}).get("ID", "") or ev.get("id", ""))
        except (apierr.EngineError, AttributeError, OSError) as exc:
            raise GitdeployError(f"the engine's event stream broke: {exc}") from None

    def close(self) -> None:
        try:
            self._stream.close()
        except Exception:  # noqa: BLE001 - closing a broken stream: nothing left to do
            pass
