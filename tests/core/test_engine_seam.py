"""The engine seam: the Docker engine implements every method of live.interface.EngineAPI with the
same parameters, and what the pipeline hands out is that engine (real engine, no doubles)."""

from __future__ import annotations

import inspect

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.live.engine import Engine
from gitdeploy.live.interface import EngineAPI

pytestmark = pytest.mark.docker


def _members(cls) -> dict[str, object]:
    return {n: v for n, v in vars(cls).items() if not n.startswith("_") and callable(v)}


def test_the_docker_engine_implements_the_whole_seam():
    wanted = _members(EngineAPI)
    assert {"analyze", "observe", "events", "file_changes", "create", "drain", "hold_lock", "volumes"} <= set(wanted)
    for name, proto in wanted.items():
        impl = getattr(Engine, name, None)
        assert callable(impl), f"Engine lacks {name}"
        want = [(p.name, p.kind, p.default) for p in inspect.signature(proto).parameters.values()]
        have = [(p.name, p.kind, p.default) for p in inspect.signature(impl).parameters.values()]
        assert have == want, f"Engine.{name}{inspect.signature(impl)} is not EngineAPI.{name}{inspect.signature(proto)}"
    for attr in ("where", "data_dir", "only"):
        assert attr in EngineAPI.__annotations__


def test_the_context_hands_out_the_engine_scoped_and_untrusted(spec_repo, system_name):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"a": {"image": "gitdeploy/busybox:1"}}}})
    ctx = spec_repo.ctx()
    engine = ctx.engine()
    assert isinstance(engine, Engine) and engine.only is None and engine.data_dir == ctx.data_dir
    assert engine.scoped(frozenset({"a"})).only == frozenset({"a"})
    assert engine.analyze(system_name, "production").containers == ()
    assert engine.networks(system_name, "production") == [] and engine.volumes(system_name, "production") == []
    untrusted = ctx.engine().untrusted()
    assert untrusted.images().image_id("gitdeploy/busybox:1") == engine.images().image_id("gitdeploy/busybox:1")
    with pytest.raises(GitdeployError, match="only planned"):
        untrusted.api.create_container(image="gitdeploy/busybox:1")
