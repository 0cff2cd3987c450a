"""Fixtures for the Swarm tests: one real multi-node cluster per test session (tests/swarm/cluster.py).

Every test module here carries `pytestmark = SWARM` (an xdist group) so that under
`pytest -n 2 --dist loadgroup` all of them would run on one worker, which builds the cluster once.
pytest-xdist 3.8 cannot group under pytest 9 (it renames `item._nodeid`, which pytest 9 no longer
reads): each worker then builds its own cluster, which is correct (names and subnets are unique
per cluster) and costs one more set-up and teardown (about 10 s).
"""

from __future__ import annotations

import contextlib
import time
import uuid

import docker.errors
import pytest

from gitdeploy.live import labels
from tests.swarm.cluster import Cluster, unavailable

_TIMINGS = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def swarm_size() -> int:
    """How many nodes the session's cluster has (override this fixture for a bigger one)."""
    return 2


@pytest.fixture(scope="session")
def swarm_cluster(swarm_size, request) -> Cluster:
    """A running swarm of `swarm_size` nodes with a registry; removed after the session."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    cluster = Cluster(swarm_size)
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()
        request.config.stash[_TIMINGS] = dict(cluster.timings)


@pytest.fixture
def swarm_system(swarm_cluster):
    """A unique system name; its labeled services, configs, secrets and networks go afterwards."""
    name = f"t{uuid.uuid4().hex[:8]}"
    yield name
    cleanup_system(swarm_cluster, name)


def cleanup_system(cluster: Cluster, system: str) -> None:
    client = cluster.manager
    flt = {"label": f"{labels.SYSTEM}={system}"}
    for service in client.services.list(filters=flt):
        with contextlib.suppress(docker.errors.NotFound):
            service.remove()
    # configs, secrets and networks are released once the tasks that use them are gone
    for kind in (client.configs, client.secrets, client.networks):
        for obj in kind.list(filters=flt):
            _remove_when_free(obj)


def _remove_when_free(obj) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            obj.remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def pytest_terminal_summary(terminalreporter, config):
    timings = config.stash.get(_TIMINGS, None)
    if timings:
        terminalreporter.write_line(
            f"swarm cluster: set-up {timings.get('up', 0):.1f}s, teardown {timings.get('down', 0):.1f}s"
        )
