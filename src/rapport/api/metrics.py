"""Prometheus metrics: request counts and latency histograms per route.

Each process keeps its own registry; scrape every process (or run one per host).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RequestStats(Collector):
    """Request counts and latencies, kept as plain numbers and turned into Prometheus
    families only when scraped: every request observes, few scrape, and the client
    library's per-observation locks and label checks cost a measurable share of a
    hot-path request. Observed from the event loop's thread only (``App``)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        # (route, method) -> [count per bucket ..., count above the last, sum]
        self.latencies: dict[tuple[str, str], list[float]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        cells = self.latencies.get((route, method))
        if cells is None:
            cells = self.latencies[(route, method)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        cells[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        cells[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "rapport_http_requests",
            "HTTP requests by route, method and status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in list(self.counts.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "rapport_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            labels=["route", "method"],
        )
        bounds = [*(str(b) for b in LATENCY_BUCKETS), "+Inf"]
        for (route, method), cells in list(self.latencies.items()):
            cumulative, buckets = 0.0, []
            for bound, in_bucket in zip(bounds, cells[:-1], strict=True):
                cumulative += in_bucket
                buckets.append((bound, cumulative))
            latency.add_metric([route, method], buckets, cells[-1])
        yield latency


class Metrics:
    """The metrics one app instance exposes at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestStats()
        self.registry.register(self.requests)
        self.processing_lag = Histogram(
            "rapport_processing_lag_seconds",
            "Time from an ingested message's acknowledgement to its processing.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
            registry=self.registry,
        )
        self.inbox_backlog = Gauge(
            "rapport_inbox_backlog",
            "Messages acknowledged but not yet processed (all processes).",
            registry=self.registry,
        )
        self.inbox_oldest_age = Gauge(
            "rapport_inbox_oldest_age_seconds",
            "Age of the oldest unprocessed message: the current processing lag.",
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.observe(route, method, status, seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
