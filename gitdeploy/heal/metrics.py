"""Drift for /metrics: counts by kind per environment, read from watchers or their state files."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gitdeploy.heal.loop import Watcher


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
