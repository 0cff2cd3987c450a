"""Drift for /metrics: counts by kind per environment, read from watchers or their state files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gitdeploy.heal.loop import Watcher
from gitdeploy.heal.state import StateStore, state_path


def drift_counts(watchers: Mapping[str, Watcher]) -> dict[str, dict[str, int]]:
    """{environment: {kind: count}} from running watchers (every kind, zeros included)."""
    return {env: w.counts() for env, w in watchers.items()}


def drift_counts_from_disk(data_dir: Path, env: str) -> dict[str, int]:
    """{kind: count} as the last watcher of `env` saved it (without running one)."""
    return StateStore(state_path(data_dir, env)).load().counts()


class DriftCollector(Collector):
    """`gitdeploy_drift{environment,kind}` and `gitdeploy_heal_given_up{environment}`, read at scrape time.

    Register with the server's registry: `metrics.registry.register(DriftCollector(lambda: watchers))`.
    """

    def __init__(self, watchers: Callable[[], Mapping[str, Watcher]]) -> None:
        self.watchers = watchers

    def collect(self):
        drift = GaugeMetricFamily("gitdeploy_drift", "Drift items by environment and kind",
                                  labels=["environment", "kind"])
        given_up = GaugeMetricFamily("gitdeploy_heal_given_up", "Services the healer gave up repairing",
                                     labels=["environment"])
        for env, w in self.watchers().items():
            for kind, n in w.counts().items():
                drift.add_metric([env, kind], n)
            given_up.add_metric([env], len(w.given_up()))
        yield drift
        yield given_up
