"""Health-gated rollouts against the real engine: zero-downtime start-first, automatic rollback,
and the Knight Capital scenario (one replica of eight fails: everything goes back, config too)."""

from __future__ import annotations

import json
import threading
import time

import docker.errors
import pytest

from gitdeploy import pipeline
from gitdeploy.live import labels
from gitdeploy.live.engine import REPLICA_ENV, network_name
from gitdeploy.plan.rollout import batches
from tests.safety.common import WGET, fetch, running, svc, web

pytestmark = pytest.mark.docker


def test_start_first_replace_serves_every_request(spec_repo, system_name, docker_client, base_image):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": web("v1", replicas=2)}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    assert fetch(docker_client, base_image, system_name, "web") == "v1"

    # A client on the system network hammers the alias (bounded: 1500 requests or a stop file).
    loop = ("i=0; while [ $i -lt 1500 ] && [ ! -e /tmp/stop ]; do "
            f'if out=$({WGET} http://web/ 2>&1); then echo "ok $out"; else echo "FAIL exit $? $out"; fi; '
            "i=$((i+1)); done; echo end")
    client = docker_client.containers.run(base_image, ["sh", "-c", loop], detach=True,
                                          network=network_name(system_name, "production"))
    try:
        time.sleep(0.5)
        spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": web("v2", replicas=2)}}})
        result = pipeline.deploy(ctx)
        assert result.ok, result.failure
        assert [s.order for s in result.plan.steps] == ["start-first"]
        time.sleep(0.5)
        try:
            client.exec_run(["touch", "/tmp/stop"])
        except docker.errors.APIError:
            pass  # the client already finished its bounded loop
        client.wait(timeout=30)
        lines = client.logs(stderr=False).decode().splitlines()  # stdout: one line per request
    finally:
        client.remove(force=True)
    assert lines[-1] == "end"
    answers = lines[:-1]
    failures = [line for line in answers if not line.startswith("ok ")]
    assert len(answers) > 20, answers
    # the replace happened under load: the client saw the old and then the new revision
    assert {"ok v1", "ok v2"} <= set(answers)
    assert [a for a in answers if a.startswith("ok ")][-1] == "ok v2"
    assert sum(1 for e in result.events if e.kind == "retired") == 2
    # connection-aware drain: the old replicas were stopped once no request was left on them
    drained = [e.message for e in result.events if e.kind == "drained"]
    assert len(drained) == 2 and any("no connections left" in m for m in drained), drained
    # Zero: new replicas join the alias only once healthy, and `docker stop` takes an old one
    # out of DNS before signalling it (no network disconnect cutting requests in flight).
    # (A failure says its exit status: 143 is busybox `timeout 2` ending a request that hung.)
    assert failures == [], f"{len(failures)} of {len(answers)} requests failed: {failures[:3]}"


# A keep-alive HTTP/1.1 server (busybox httpd always closes): one shell per connection, answering
# every request on it until the client leaves; each answer is one write (never cut in two).
KEEPALIVE_SERVER = r"""read -r v < /version
while read -r line; do
  while read -r h; do [ ${#h} -le 1 ] && break; done
  printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n%s\n' "$v"
done
"""

# One keep-alive client: many requests on one connection (through fifos around nc). As HTTP/1.1
# clients do (RFC 9112, 9.3.1), an idempotent request that got no answer at all on a connection
# that had already served one is sent again on a new connection ("retry"); anything else that goes
# wrong is a failure. About 25 requests a second each; bounded: 3000 requests or a stop file;
# "done <count>" at the end.
KEEPALIVE_CLIENT = r"""c=$1; trap '' PIPE
connect() {
  exec 3>&- 4<&-; rm -f /tmp/i$c /tmp/o$c; busybox mkfifo /tmp/i$c /tmp/o$c
  nc web 80 </tmp/i$c >/tmp/o$c 2>/dev/null & exec 3>/tmp/i$c 4</tmp/o$c; used=0
}
ask() {
  status=""; printf 'GET / HTTP/1.1\r\nHost: web\r\n\r\n' >&3 2>/dev/null || return 1
  read -t 3 -r status <&4 || return 1
  case "$status" in "HTTP/1.1 200"*) ;; *) return 2;; esac
  while read -t 3 -r h <&4; do [ ${#h} -le 1 ] && break; done
  read -t 3 -r body <&4 || return 2
  used=$((used+1))
}
busybox mkfifo /tmp/pause$c; exec 5<>/tmp/pause$c  # read -t on it: a pause without a fork
connect; i=0
while [ $i -lt 3000 ] && [ ! -e /tmp/stop ]; do
  read -t 0.03 x <&5
  if ask; then echo "ok $body"
  elif [ $used -gt 0 ] && [ -z "$status" ]; then
    connect; if ask; then echo "retry $body"; else echo "FAIL after retry: '$status'"; connect; fi
  else echo "FAIL '$status'"; connect; fi
  i=$((i+1))
done
echo "done $i"
"""


def test_start_first_replace_serves_20_keep_alive_clients(spec_repo, system_name, docker_client, base_image):
    """Canary-then-rest with the connection-aware drain, under 20 concurrent keep-alive clients:
    no request fails; a drained replica that still holds client connections is kept until
    `rollout.drain`, and stopped early once it holds none."""
    def spec(version: str) -> dict:
        kv = svc(command=["nc", "-ll", "-p", "80", "-e", "sh", "/kv.sh"], replicas=3,
                 configs=[{"source": "kv.sh", "target": "/kv.sh"},
                          {"source": f"{version}.txt", "target": "/version"}],
                 healthcheck={"test": ["CMD", "wget", "-q", "-O-", "http://127.0.0.1/"], "interval": "0.3s",
                              "timeout": "2s", "retries": 3},
                 rollout={"deadline": "15s", "drain": "3s"})
        return {"gitdeploy.yaml": {"system": system_name, "services": {"web": kv}}, "kv.sh": KEEPALIVE_SERVER,
                "v1.txt": "v1\n", "v2.txt": "v2\n"}

    spec_repo.commit(spec("v1"))
    ctx = spec_repo.ctx()
    first = pipeline.deploy(ctx)
    assert first.ok, first.failure
    clients = " ".join(f"sh /tmp/client.sh {i} > /tmp/log{i} &" for i in range(20))
    script = (f"cat > /tmp/client.sh <<'EOF'\n{KEEPALIVE_CLIENT}EOF\n{clients} wait; "
              "cat /tmp/log*; echo end")
    client = docker_client.containers.run(base_image, ["sh", "-c", script], detach=True,
                                          network=network_name(system_name, "production"))
    try:
        time.sleep(1.0)
        spec_repo.commit(spec("v2"))
        result = pipeline.deploy(ctx)
        assert result.ok, result.failure
        time.sleep(0.5)
        try:
            client.exec_run(["touch", "/tmp/stop"])
        except docker.errors.APIError:
            pass  # the clients already finished their bounded loops
        client.wait(timeout=60)
        lines = client.logs(stderr=False).decode().splitlines()
        errors = client.logs(stdout=False).decode()[-500:]
    finally:
        client.remove(force=True)
    assert lines and lines[-1] == "end", errors
    ends = [i for i, line in enumerate(lines) if line.startswith("done ")]
    assert len(ends) == 20 and all(lines[i] != "done 3000" for i in ends), "the load ended before the deploy"
    # every client saw the old revision, then only the new one at the end (it ran all through)
    for a, b in zip([-1, *ends], ends, strict=False):
        seen = [line.split()[-1] for line in lines[a + 1 : b] if not line.startswith("FAIL")]
        assert seen[0] == "v1" and seen[-1] == "v2", (seen[:1], seen[-1:])
    answers = [line for line in lines if not line.startswith(("done ", "end"))]
    failures = [a for a in answers if a.startswith("FAIL")]
    retried = sum(a.startswith("retry") for a in answers)
    step = result.plan.steps[0]
    assert step.canary == 1 and batches(step.rollout) == [[1], [2, 3]]
    drained = [e.message for e in result.events if e.kind == "drained"]
    assert len(drained) == 3, drained
    # keep-alive clients hold their connections: those replicas were kept to the maximum
    assert any("still open after 3s" in m for m in drained), drained
    assert failures == [], f"{len(failures)} of {len(answers)} requests failed ({retried} retried): {failures[:3]}"


def test_failing_health_check_rolls_back_and_old_revision_keeps_serving(
        spec_repo, system_name, docker_client, base_image):
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": web("v1", replicas=2)}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    before = {c.id for c in running(docker_client, system_name)}

    broken = web("v2", replicas=2, healthcheck={"test": ["CMD", "false"], "interval": "0.3s", "retries": 1},
                 rollout={"deadline": "3s"})
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": broken}}})
    result = pipeline.deploy(ctx)
    assert not result.ok and result.rolled_back and result.rollback_verified
    assert "health gate" in result.failure
    assert {c.id for c in running(docker_client, system_name)} == before
    assert fetch(docker_client, base_image, system_name, "web") == "v1"


def test_knight_one_replica_of_eight_fails_everything_back_with_its_config(spec_repo, system_name, docker_client):
    conf = {"source": "conf/app.conf", "target": "/etc/app.conf"}
    old = svc(replicas=8, configs=[conf], rollout={"monitor": "0.5s", "parallelism": 2})
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"trader": old}},
                      "conf/app.conf": "power_peg=off\n"})
    ctx = spec_repo.ctx()
    first = pipeline.deploy(ctx)
    assert first.ok, first.failure
    before = {c.id: c.labels[labels.HASH] for c in running(docker_client, system_name)}
    assert len(before) == 8

    # The new revision changes the config and fails to come up on exactly one replica (the 6th).
    new = dict(old, command=["sh", "-c", f'[ "${REPLICA_ENV}" = 6 ] && exit 3; exec sleep 3600'])
    sha = spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"trader": new}},
                            "conf/app.conf": "power_peg=on\n"})
    result = pipeline.deploy(ctx)
    assert not result.ok and result.rolled_back and result.rollback_verified, "\n".join(f"{e.kind} {e.message}" for e in result.events)
    assert "replica 6" in result.failure and sha[:7] in result.headline
    gates = [e for e in result.events if e.kind == "gate-ok"]
    assert gates, "some replicas of the new revision came up before the 6th failed"

    after = running(docker_client, system_name)
    assert {c.id: c.labels[labels.HASH] for c in after} == before  # all 8 at the previous revision
    for c in after:
        assert c.exec_run(["cat", "/etc/app.conf"]).output == b"power_peg=off\n"  # and its config
        env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
        assert env[REPLICA_ENV] == c.labels[labels.REPLICA]
        assert REPLICA_ENV not in json.loads(c.labels[labels.DEFINITION]).get("environment", {})
    # nothing of the failed revision is left behind
    all_ = docker_client.containers.list(all=True, filters={"label": f"{labels.SYSTEM}={system_name}"})
    assert not [c for c in all_ if c.labels[labels.COMMIT] == sha]


def test_gate_windows_of_a_batch_run_together(spec_repo, system_name):
    """The canary is gated alone, then the rest of the replicas are gated in one batch whose
    windows run at the same time: the three gates of the batch meet at a barrier before any of
    them may go on (one after the other, the first would wait there in vain)."""
    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"w": svc(replicas=4)}}})
    ctx = spec_repo.ctx()
    assert pipeline.deploy(ctx).ok
    barrier = threading.Barrier(3, timeout=30)
    seen: list[tuple[str, int]] = []

    def fault(step, op):
        seen.append((op.kind, op.replica))
        if op.kind == "gate" and op.replica != 1:
            barrier.wait()

    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"w": svc(
        replicas=4, environment={"V": "2"})}}})
    result = pipeline.deploy(ctx, fault=fault)
    assert result.ok, result.failure
    gates = [r for kind, r in seen if kind == "gate"]
    assert gates[0] == 1 and sorted(gates[1:]) == [2, 3, 4]
    assert seen.index(("gate", 1)) < seen.index(("create", 2))  # nothing else moved before the canary passed
