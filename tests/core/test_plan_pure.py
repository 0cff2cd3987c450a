"""The functional core without an engine: diff, plan and render as pure functions on values."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.diff import diff
from gitdeploy.plan.planner import make_plan, waves
from gitdeploy.render.plan import plan_json, plan_markdown, plan_text
from gitdeploy.spec.identity import Desired, canonical_json, definition_of, hash_definition
from gitdeploy.spec.model import ConfigFile, Dependency, SecretRef, Service
from tests.render.golden import check_golden


def desired(path: str, replicas: int = 1, env: dict | None = None, deps: tuple[str, ...] = (), **kw) -> Desired:
    svc = Service(path=path, image="img:1", replicas=replicas, environment=tuple(sorted((env or {}).items())),
                  depends_on=tuple(Dependency(d) for d in deps), **kw)
    fps = {s.name: f"fp-{s.name}-{kw.get('_v', 1)}" for s in svc.secrets}
    definition = definition_of(svc, "sha256:" + "a" * 64, fps)
    return Desired(svc, "sha256:" + "a" * 64, definition, hash_definition(definition))


def live_of(d: Desired, replica: int = 1, state: str = "running", created: float = 1.0,
            cid: str | None = None, deps: tuple[str, ...] = ()) -> LiveContainer:
    return LiveContainer(
        id=cid or f"{d.path}-{replica}-{d.hash[:6]}-{state}", name=f"x.{d.path}.{replica}", service=d.path,
        replica=replica, hash=d.hash, commit="c0ffee", state=state, health="none", image_id=d.image_id,
        created=created, definition_raw=canonical_json(d.definition), depends=deps,
    )


def test_diff_actions_and_reasons():
    web_old = desired("shop/web", env={"LEVEL": "info"})
    web_new = desired("shop/web", env={"LEVEL": "debug"})
    db = desired("db")
    worker = desired("worker", replicas=3)
    gone = desired("legacy")
    live = Live("s", "production", (
        live_of(web_old), live_of(db), live_of(worker, 1), live_of(worker, 2, state="exited"),
        live_of(gone), live_of(gone, 1, state="exited", cid="legacy-kept", created=0.5),
    ))
    changes = {c.path: c for c in diff([web_new, db, worker], live)}
    assert {p: c.action for p, c in changes.items()} == {
        "shop/web": "replace", "db": "unchanged", "worker": "scale", "legacy": "remove"}
    web = changes["shop/web"]
    assert [(f.field, f.old, f.new) for f in web.fields] == [("environment.LEVEL", "info", "debug")]
    assert web.retire == (live_of(web_old).id,) and web.create == (1,)
    w = changes["worker"]
    assert w.start == ((live_of(worker, 2, state="exited").id, 2),) and w.create == (3,)
    assert changes["legacy"].retire == (live_of(gone).id,)  # the kept (stopped) one stays


def test_secret_change_is_named_never_shown():
    a = desired("api", secrets=(SecretRef("token", "/run/secrets/token"),))
    b_def = dict(a.definition, secrets={"/run/secrets/token": {"name": "token", "fingerprint": "fp-other"}})
    b = Desired(a.service, a.image_id, b_def, hash_definition(b_def))
    (change,) = diff([b], Live("s", "e", (live_of(a),)))
    assert [(f.field, f.old, f.new) for f in change.fields] == [
        ("secrets./run/secrets/token", "(secret token)", "(secret changed)")]


def test_plan_orders_dependencies_and_reverse_removals():
    db, api, web = desired("db"), desired("api", deps=("db",)), desired("web", deps=("api",))
    old_a, old_b = desired("old/a"), desired("old/b")
    live = Live("s", "e", (live_of(old_a, deps=("old/b",)), live_of(old_b)))
    changes = diff([db, api, web], live)
    plan = make_plan("s", "e", "abc1234", [db, api, web], changes, live)
    assert [s.path for s in plan.steps] == ["db", "api", "web", "old/a", "old/b"]
    assert {s.path: s.after for s in plan.steps} == {
        "db": (), "api": ("db",), "web": ("api",), "old/a": (), "old/b": ("old/a",)}
    assert waves(plan) == [["db", "old/a"], ["api", "old/b"], ["web"]]


def test_unchanged_dependency_is_skipped_transitively():
    db, api, web = desired("db"), desired("api", deps=("db",)), desired("web", deps=("api",))
    live = Live("s", "e", (live_of(api),))  # api up to date; db and web missing
    plan = make_plan("s", "e", None, [db, api, web], diff([db, api, web], live), live)
    assert {s.path: s.after for s in plan.steps} == {"db": (), "web": ("db",)}


def _golden_plan():
    web_old = desired("shop/web", env={"LEVEL": "info"},
                      configs=(ConfigFile("conf/web.conf", "/etc/web.conf", "1" * 64),))
    web_new = desired("shop/web", env={"LEVEL": "debug"}, deps=("db",),
                      configs=(ConfigFile("conf/web.conf", "/etc/web.conf", "2" * 64),))
    db = desired("db")
    worker = desired("worker", replicas=2)
    live = Live("shop", "production", (live_of(web_old), live_of(worker)))
    return make_plan("shop", "production", "0123456789abcdef", [db, web_new, worker],
                     diff([db, web_new, worker], live), live)


def test_render_golden_files():
    plan = _golden_plan()
    check_golden("diffed-plan.md", plan_markdown(plan))
    check_golden("diffed-plan.txt", plan_text(plan))
    check_golden("diffed-plan.json", plan_json(plan))
    data = json.loads(plan_json(plan))
    assert data["schema"] == "gitdeploy.plan/v1" and data["counts"]["replace"] == 1


names = st.sampled_from(["a", "b", "c", "g/d", "g/e"])


@settings(max_examples=200, deadline=None)
@given(
    wanted=st.dictionaries(names, st.integers(0, 3), max_size=5),
    live_spec=st.lists(st.tuples(names, st.integers(1, 4), st.booleans(), st.booleans()), max_size=10),
)
def test_diff_converges(wanted, live_spec):
    """Applying the diff's decisions to the live set yields exactly the wanted replicas at target."""
    targets = {p: desired(p, replicas=r) for p, r in wanted.items()}
    containers = []
    for i, (path, replica, is_current, running) in enumerate(live_spec):
        d = targets.get(path) or desired(path)
        if not is_current:
            d = desired(path, env={"OLD": str(i)})
        containers.append(live_of(d, replica, "running" if running else "exited", created=i, cid=f"c{i}"))
    live = Live("s", "e", tuple(containers))
    changes = diff(list(targets.values()), live)
    running = {c.id: c for c in containers if c.running}
    for ch in changes:
        for cid in ch.retire:
            running.pop(cid)
    after: dict[str, list[int]] = {}
    for c in running.values():
        after.setdefault(c.service, []).append(c.replica)
    for ch in changes:
        after.setdefault(ch.path, []).extend(r for _, r in ch.start)
        after[ch.path].extend(ch.create)
    for path, d in targets.items():
        assert sorted(after.get(path, [])) == list(range(1, d.service.replicas + 1)), (path, changes)
    for path in after:
        assert path in targets or not after[path]
    unchanged = [c for c in changes if c.action == "unchanged"]
    assert all(not (c.retire or c.start or c.create) for c in unchanged)
