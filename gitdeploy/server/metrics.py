"""The server's Prometheus metrics, in a registry of their own (one per app, so tests don't clash).

Others add their own series to `metrics.registry` (e.g. a drift gauge from the healer); the
names below are stable.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gitdeploy.server.queue import STATES, JobQueue

JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class _QueueDepth(Collector):
    """Reads the queue depth at scrape time, so it is right even after a restart."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    def collect(self):
        family = GaugeMetricFamily("gitdeploy_queue_jobs", "Jobs in the queue by state", labels=["state"])
        try:
            stats = self.queue.stats()
        except Exception:  # noqa: BLE001 - an unusable DB shows up in /healthz, not as a scrape error
            stats = {}
        for state in STATES:
            if state in stats:
                family.add_metric([state], stats[state])
        yield family


class Metrics:
    """The server's metric series."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.deliveries = Counter(
            "gitdeploy_webhook_deliveries", "Webhook deliveries by event and result",
            ["event", "result"], registry=self.registry)
        self.invalid_payloads = Counter(
            "gitdeploy_webhook_invalid_payloads", "Signed deliveries refused with 400 by event and reason "
            "(not_json, too_deep, not_object, or the field that has the wrong shape)",
            ["event", "reason"], registry=self.registry)
        self.job_seconds = Histogram(
            "gitdeploy_job_duration_seconds", "Job run time by kind", ["kind"],
            buckets=JOB_BUCKETS, registry=self.registry)
        self.jobs = Counter(
            "gitdeploy_jobs", "Finished jobs by kind and result (done|failed)", ["kind", "result"],
            registry=self.registry)
        self.deploys = Counter(
            "gitdeploy_deploys", "Finished deploy jobs by environment and result (done|failed)",
            ["environment", "result"], registry=self.registry)
        self._watched: JobQueue | None = None

    def watch_queue(self, queue: JobQueue) -> None:
        """Export `gitdeploy_queue_jobs{state}` from `queue` (once; later calls are ignored)."""
        if self._watched is None:
            self._watched = queue
            self.registry.register(_QueueDepth(queue))

    def job_finished(self, kind: str, environment: str | None, result: str, seconds: float) -> None:
        self.job_seconds.labels(kind).observe(seconds)
        self.jobs.labels(kind, result).inc()
        if kind == "deploy" and environment:
            self.deploys.labels(environment, result).inc()
