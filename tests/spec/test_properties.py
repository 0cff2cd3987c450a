"""Property tests: generated valid specs load with their values; unknown keys are always caught."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck as HC
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gitdeploy.spec.durations import format_duration, parse_duration
from gitdeploy.spec.load import load_spec, validate_spec
from gitdeploy.spec.model import Port, Rollout


@dataclass
class MemorySource:
    """A spec source held in memory: only files, no directories or symlinks beyond their prefixes."""

    files: dict[str, bytes] = field(default_factory=dict)
    commit: str | None = None
    label: str = "memory"

    def read(self, path: str) -> bytes:
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]

    def kind(self, path: str) -> str | None:
        if path in self.files:
            return "file"
        return "dir" if any(p.startswith(path + "/") for p in self.files) else None

    def walk(self, path: str) -> list[tuple[str, str]]:
        return sorted((p, "file") for p in self.files if not path or p.startswith(path + "/"))

    def tree_digest(self, path: str) -> str:
        raise NotImplementedError

    def export(self, path: str, dest: Path) -> None:
        raise NotImplementedError


def dump(data: object) -> str:
    out = io.StringIO()
    YAML().dump(data, out)
    return out.getvalue()


names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
env_keys = st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True)
env_values = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.integers(-1000, 1000),
    st.booleans(),
)
durations = st.integers(0, 4000).map(lambda n: n / 4)


@st.composite
def services(draw):
    svc: dict = {
        "image": draw(
            st.sampled_from(["nginx", "nginx:1.27", "ghcr.io/acme/web:2", "busybox@sha256:" + "a" * 64])
        )
    }
    if draw(st.booleans()):
        svc["environment"] = draw(st.dictionaries(env_keys, env_values, max_size=4))
    if draw(st.booleans()):
        svc["replicas"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        svc["stop_grace_period"] = format_duration(draw(durations))
    if draw(st.booleans()):
        svc["restart"] = draw(
            st.sampled_from(["no", "always", "unless-stopped", "on-failure", "on-failure:4"])
        )
    if draw(st.booleans()):
        svc["rollout"] = {
            "parallelism": draw(st.integers(1, 9)),
            "deadline": format_duration(draw(durations)),
        }
    if draw(st.booleans()):
        svc["labels"] = draw(
            st.dictionaries(
                st.from_regex(r"com\.example\.[a-z]{1,5}", fullmatch=True),
                st.text("abc", max_size=4),
                max_size=3,
            )
        )
    return svc


@st.composite
def specs(draw):
    svcs = draw(st.dictionaries(names, services(), min_size=1, max_size=4))
    # Distinct host ports for the one-replica services, so no conflict is generated.
    ports = iter(range(8000, 9000))
    for svc in svcs.values():
        if svc.get("replicas", 1) == 1 and draw(st.booleans()):
            svc["ports"] = [f"{next(ports)}:80"]
    return {"system": draw(names), "services": svcs}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HC.too_slow])
@given(specs())
def test_generated_specs_load_and_round_trip(data):
    spec = load_spec(MemorySource({"gitdeploy.yaml": dump(data).encode()}))
    assert spec.system == data["system"]
    assert [s.path for s in spec.services] == list(data["services"])
    for s in spec.services:
        raw = data["services"][s.path]
        assert s.image == raw["image"]
        assert s.environment == tuple(sorted((k, _text(v)) for k, v in raw.get("environment", {}).items()))
        assert s.replicas == raw.get("replicas", 1)
        assert s.restart == raw.get("restart", "unless-stopped")
        assert s.stop_grace_period == parse_duration(raw.get("stop_grace_period", 10))
        assert s.labels == tuple(sorted(raw.get("labels", {}).items()))
        assert s.ports == tuple(Port(80, int(p.split(":")[0])) for p in raw.get("ports", []))
        if "rollout" in raw:
            assert s.rollout == Rollout(
                parallelism=raw["rollout"]["parallelism"], deadline=parse_duration(raw["rollout"]["deadline"])
            )


PLACES = ["top", "service", "healthcheck", "rollout", "group", "group_service", "port", "depends_on"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HC.too_slow])
@given(specs(), st.sampled_from(PLACES), st.from_regex(r"zz[a-z_]{3,8}", fullmatch=True))
def test_unknown_key_anywhere_is_reported_at_its_line(data, place, key):
    first = next(iter(data["services"]))
    svc = data["services"][first]
    target: dict
    if place == "top":
        target = data
    elif place == "service":
        target = svc
    elif place == "healthcheck":
        target = svc.setdefault("healthcheck", {"test": "true"})
    elif place == "rollout":
        target = svc.setdefault("rollout", {})
    elif place == "port":
        svc["ports"] = [{"target": 80}]
        target = svc["ports"][0]
    elif place == "depends_on":
        svc["depends_on"] = {first: {"condition": "service_started"}}
        target = svc["depends_on"][first]
    else:
        group = data.setdefault("groups", {"grp": {"services": {"inner": {"image": "x"}}}})["grp"]
        target = group if place == "group" else group["services"]["inner"]
    target[key] = 1
    text = dump(data)
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if f"{key}:" in t)
    found = [
        p for p in validate_spec(MemorySource({"gitdeploy.yaml": text.encode()})) if f"'{key}'" in p.message
    ]
    assert len(found) == 1, (text, found)
    assert found[0].line == line
    assert found[0].column == text.splitlines()[line - 1].index(key) + 1


@given(durations)
def test_durations_round_trip(seconds):
    assert parse_duration(format_duration(seconds)) == seconds
