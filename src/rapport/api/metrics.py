"""Prometheus metrics: request counts and latency histograms per route.

Each process keeps its own registry; scrape every process (or run one per host).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The metrics one app instance exposes at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rapport_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rapport_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

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

        # Labelled children by (route, method, status): prometheus_client's ``labels()``
        # validates and locks on every call, a measurable share of a hot-path request.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
