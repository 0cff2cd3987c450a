"""Hand-built values for the golden files: fixed times, fixed durations, no engine, no clock.

Built by hand (not by the planner) so a golden file changes only when wording changes.
"""

from __future__ import annotations

from gitdeploy.deploy.result import Event, Result, StepOutcome
from gitdeploy.deploy.verify import Verification
from gitdeploy.errors import Problem
from gitdeploy.heal.check import CheckReport
from gitdeploy.heal.model import KINDS, Drift
from gitdeploy.history.notes import Attempt
from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.model import FieldChange, GateSpec, Op, Plan, ServiceChange, Step

T0 = 1764417600.0  # 2025-11-29 12:00:00 UTC
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA = "fedcba9876543210fedcba9876543210fedcba98"


def cid(n: int) -> str:
    """A container ID as the engine writes them (64 hex digits)."""
    return f"{n:02d}" * 32


HEALTHY = GateSpec(healthcheck=True, monitor=0, deadline=30)
RUNNING = GateSpec(healthcheck=False, monitor=5, deadline=30)

_WEB = ServiceChange(
    "shop/web", "replace", "definition changed (4 fields)", "a1" * 32, 2, 2,
    fields=(FieldChange("image", "shop/web:1 @sha256:1111", "shop/web:2 @sha256:2222"),
            FieldChange("environment.LEVEL", "info", "debug"),
            FieldChange("labels.motto", "[bold]a|b[/bold]", "c|d\ne"),  # markup, a pipe and a line break
            FieldChange("command", "sh -c 'echo ```; echo done'", "sh -c 'echo ok'")),  # a fence inside a value
    old_hashes=("b2" * 32,), create=(1, 2), retire=(cid(1), cid(2)))
_API = ServiceChange(
    "api", "replace", "definition changed (1 field)", "c3" * 32, 1, 1,
    fields=(FieldChange("secrets./run/secrets/token", "(secret token)", "(secret changed)"),),
    old_hashes=("d4" * 32,), create=(1,), retire=(cid(3),))
_WORKER = ServiceChange("worker", "create", "not running yet", "e5" * 32, 0, 2, create=(1, 2))
_CACHE = ServiceChange("cache", "scale", "replicas 1 -> 3", "f6" * 32, 1, 3,
                       fields=(FieldChange("replicas", "1", "3"),), create=(2, 3))
_QUEUE = ServiceChange("queue", "start", "stopped at this revision", "a7" * 32, 0, 1, start=((cid(4), 1),))
_LEGACY = ServiceChange("legacy", "remove", "not in the spec any more", "", 1, 0, retire=(cid(5),))
_DB = ServiceChange("db", "unchanged", "up to date", "b8" * 32, 1, 1)

PLAN = Plan(
    system="shop", env="production", commit=COMMIT,
    changes=(_DB, _API, _WEB, _WORKER, _CACHE, _QUEUE, _LEGACY),
    steps=(
        Step("api", _API, order="stop-first", wait_healthy=("db",), rollout=(
            (Op("await", container=cid(6), service="db", gate=HEALTHY),),
            (Op("drain", container=cid(3), seconds=2),),
            (Op("stop", container=cid(3), seconds=10),),
            (Op("create", replica=1),), (Op("start", replica=1),), (Op("gate", replica=1, gate=HEALTHY),),
        )),
        Step("shop/web", _WEB, after=("api",), parallelism=2, rollout=(
            (Op("create", replica=1, hold_back=True), Op("create", replica=2, hold_back=True)),
            (Op("start", replica=1), Op("start", replica=2)),
            (Op("gate", replica=1, gate=HEALTHY), Op("gate", replica=2, gate=HEALTHY)),
            (Op("publish", replica=1), Op("publish", replica=2)),
            (Op("stop", container=cid(1), seconds=10, rejoin=True), Op("stop", container=cid(2), seconds=10)),
        )),
        Step("worker", _WORKER, after=("api",), rollout=(
            (Op("create", replica=1), Op("create", replica=2)), (Op("start", replica=1), Op("start", replica=2)),
            (Op("gate", replica=1, gate=RUNNING), Op("gate", replica=2, gate=RUNNING)),
        )),
        Step("cache", _CACHE, rollout=((Op("create", replica=2), Op("create", replica=3)),
                                       (Op("start", replica=2), Op("start", replica=3)))),
        Step("queue", _QUEUE, rollout=((Op("start", replica=1, container=cid(4)),),
                                       (Op("gate", replica=1, gate=GateSpec(False, 0, 0)),))),
        Step("legacy", _LEGACY, rollout=((Op("stop", container=cid(5), seconds=10),),)),
    ),
    prune=(cid(7), cid(8)), keep=2,
)
EMPTY_PLAN = Plan("shop", "staging", None, (_DB,))
# the same changes planned against a Swarm cluster: Swarm's update config rolls out, nodes and digests shown
SWARM_PLAN = Plan(
    system="shop", env="production", commit=COMMIT, changes=(_DB, _API, _WEB, _LEGACY),
    steps=(Step("api", _API, order="stop-first", parallelism=1), Step("shop/web", _WEB, after=("api",), parallelism=0),
           Step("legacy", _LEGACY)),
    engine="swarm", nodes=(("api", ("node1", "node2")), ("legacy", ("node2",)), ("shop/web", ())),
    images=(("api", "registry.example:5000/shop/api:1.4@sha256:" + "a" * 64),
            ("shop/web", "registry.example:5000/gd-shop/shop-web:5f2c@sha256:" + "b" * 64)),
    unusable=("node3 (10.0.0.3) is down",),
)

EVENTS = (
    Event(T0, "", "step-start", "deploying 0123456 to production"),
    Event(T0 + 1.2, "api", "created", "replica 1"),
    Event(T0 + 3.4, "api", "gate-ok", "replica 1 healthy after 2.1s"),
    Event(T0 + 4.0, "shop/web", "gate-failed", "replica 2 not healthy within 30s (health: unhealthy)"),
    Event(T0 + 9.9, "", "rollback-done", "0011223 restored and verified"),
)

_OUTCOMES_OK = (
    StepOutcome("api", True, "1 created, 1 retired"), StepOutcome("shop/web", True, "2 created, 2 retired"),
    StepOutcome("worker", True, "2 created"), StepOutcome("cache", True, "2 created"),
    StepOutcome("queue", True, "1 started"), StepOutcome("legacy", True, "1 retired"),
)
_OUTCOMES_FAILED = (
    StepOutcome("api", True, "1 created, 1 retired"),
    StepOutcome("shop/web", False, "replica 2 not healthy within 30s (health: unhealthy) | see `docker logs`"),
    StepOutcome("worker", False, "never started: a step before it failed", skipped=True),
)
_FAILURE = "shop/web replica 2 did not become healthy within 30s: [health] wget: can't connect to remote host"

RESULTS = {
    "ok": Result(PLAN, True, _OUTCOMES_OK, Verification(True, 8, 8), duration=12.345, events=EVENTS),
    "failed": Result(PLAN, False, _OUTCOMES_FAILED, Verification(
        False, 8, 7, ("shop/web replica 2 is not healthy (health: unhealthy)",)), failure=_FAILURE, duration=41.5),
    "rolled-back": Result(PLAN, False, _OUTCOMES_FAILED, None, failure=_FAILURE, rolled_back=True,
                          rollback_verified=True, duration=52.25),
    "rollback-unverified": Result(PLAN, False, _OUTCOMES_FAILED, None, failure=_FAILURE + "; rollback: db is gone",
                                  rolled_back=True, duration=60.0),
    "interrupted": Result(PLAN, False, _OUTCOMES_FAILED[:1], None, failure="interrupted (SIGTERM) during shop/web",
                          rolled_back=True, rollback_verified=True, interrupted=True, duration=7.0),
    "paused": Result(PLAN, False, _OUTCOMES_FAILED, None, failure=_FAILURE + "; left as it is: 1 of 2 replaced",
                     paused=True, duration=33.3),
    "working-tree": Result(EMPTY_PLAN, True, (), Verification(True, 1, 1), duration=0.04),
    # a deploy to a cluster during an outage: verified where it could run, the node that took nothing named
    "swarm-node-down": Result(SWARM_PLAN, True, _OUTCOMES_OK[:2], Verification(
        True, 5, 5, unit="tasks", nodes=2, unusable=("node3 (10.0.0.3) is down",)), duration=14.2),
}


def _drift(kind: str, n: int) -> Drift:
    rows = {
        "missing": ("shop/web", "", "replica", "2", "none", "replica 2 has no container at this revision"),
        "exited": ("worker", "shop.worker.1", "state", "running", "exited (137)", "it stopped: killed or crashed"),
        "restarting": ("api", "shop.api.1", "state", "running", "restarting", "the engine keeps restarting it"),
        "paused": ("cache", "shop.cache.1", "state", "running", "paused", "someone paused it"),
        "unhealthy": ("api", "shop.api.1", "health", "healthy", "unhealthy", "its health check fails"),
        "unpublished": ("shop/web", "shop.shop-web.1", "aliases", "web, shop-web", "(none)",
                        "it is not reachable by its service's names"),
        "extra": ("old", "shop.old.1", "service", "(none)", "old", "the deployed revision has no place for it"),
        "config": ("api", "shop.api.1", "command", "serve", "`sh -c id` | ran", "someone changed the command"),
        "image": ("db", "shop.db.1", "image", "sha256:aaaa", "sha256:bbbb", "it runs another image"),
        "tampered": ("shop/web", "shop.shop-web.2", "files", "(unchanged)", "C /etc/passwd\nA /tmp/x",
                     "files changed inside the container"),
        "unmanaged": ("", "intruder", "ports", "8080 free", "8080 held by intruder",
                      "a container gitdeploy does not own holds a port the spec declares"),
        "node": ("api", "node2", "node", "ready and active", "drained",
                 "api: node2 (10.99.3.12) is drained: slot 2 now runs on node1"),
    }
    service, container, fld, expected, actual, why = rows[kind]
    return Drift(service, container, cid(10 + n) if container else "", kind, fld, expected, actual, why)  # type: ignore[arg-type]


DRIFTS = tuple(_drift(k, i) for i, k in enumerate(KINDS))
FIRST_SEEN = {"|".join(d.key): T0 - 3600 + 60 * i for i, d in enumerate(DRIFTS) if i % 2 == 0}

REPORTS = {
    "drift": CheckReport("shop", "production", COMMIT, DRIFTS, frozen="by alice at 2025-11-29 11:00 UTC: incident 42",
                         checked_at=T0, seconds=0.4321, containers=12),
    "clean": CheckReport("shop", "production", COMMIT, (), checked_at=T0, seconds=0.123, containers=12),
    "halted": CheckReport("shop", "production", COMMIT, (), halted="by bob: bad release", checked_at=T0),
    "deploying": CheckReport("shop", "production", COMMIT, (), deploying="carol@host (pid 42)", checked_at=T0),
}

SWARM_DRIFTS = (
    Drift("api", "shop_production_api", cid(40), "config", "environment.EXTRA", "(none)", "1",
          "shop_production_api: environment.EXTRA is 1, the deployed spec says (none) "
          "(Swarm's TaskTemplate.ContainerSpec.Env.EXTRA; changed outside gitdeploy, e.g. `docker service update`)"),
    Drift("api", "shop_production_api.2", cid(41), "exited", "state", "running", "failed",
          "shop_production_api.2: its task ended: task: non-zero exit (137) (killed) on node2, 3s ago; "
          "Swarm's next task is preparing"),
    Drift("shop/web", "shop_production_shop-web.1", cid(42), "tampered", "files",
          "no changes outside volumes, configs, secrets and drift_ignore", "A /etc/x",
          "files changed inside shop_production_shop-web.1 on node1: A /etc/x"),
    Drift("api", "node2", cid(43), "node", "node", "ready and active", "drained",
          "api: node2 (10.99.3.12) is drained: slot 1 now runs on node1"),
)
SWARM_REPORTS = {
    "drift": CheckReport("shop", "production", COMMIT, SWARM_DRIFTS, checked_at=T0, seconds=0.5, containers=3,
                         engine="swarm", notes=("shop_production_worker.1 was replaced after its task ended: "
                                                "task: non-zero exit (1) on node1, 40s ago",),
                         unchecked=(("node2", "no endpoint is given for its engine (--node-host NODE=HOST)"),)),
    "clean": CheckReport("shop", "production", COMMIT, (), checked_at=T0, seconds=0.25, containers=4, engine="swarm",
                         unchecked=(("node2", "no endpoint is given for its engine (--node-host NODE=HOST)"),)),
}

PROBLEMS = (
    Problem("services.web.image: expected a string, found a list", "gitdeploy.yaml", 12, 9,
            "write one image reference, e.g. `nginx:1.27`"),
    Problem("unknown key 'replica' | typo?", "services/api.yaml", 3),
    Problem("the spec file is empty", "gitdeploy.yaml"),
)

ATTEMPTS = (
    (Attempt(COMMIT, "production", "shop", "push", "alice", T0, T0 + 12.345, "ok", "1 to replace", "8/8"),
     "Bump web to 2 | with a pipe"),
    (Attempt(SHA, "production", "shop", "comment", "bob", T0 - 86400, T0 - 86400 + 41.5, "rolled-back",
             "2 to replace", "", _FAILURE), "A subject line that is much longer than fifty characters, cut"),
    (Attempt(SHA, "production", "shop", "halt", "carol", T0 - 7200, T0 - 7200, "halted"), "Halted"),
    (Attempt(COMMIT, "production", "shop", "heal", "gitdeploy", T0 - 60, T0 - 30, "paused", "", "", "left as is"),
     "[markup] in a subject"),
)


def _container(service: str, replica: int, state: str, health: str, commit: str, n: int) -> LiveContainer:
    return LiveContainer(cid(n), f"shop.{service.replace('/', '-')}.{replica}", service, replica, f"{n:x}" * 20,
                         commit, state, health, "sha256:" + "9" * 64, T0 - n)


LIVE = Live("shop", "production", (
    _container("db", 1, "running", "healthy", COMMIT, 20),
    _container("shop/web", 1, "running", "healthy", COMMIT, 21),
    _container("shop/web", 2, "running", "unhealthy", SHA, 22),
    _container("shop/web", 1, "exited", "none", SHA, 23),
    _container("legacy", 1, "running", "none", "", 24),
))
WANTED = {"db": 1, "shop/web": 2, "worker": 2}
