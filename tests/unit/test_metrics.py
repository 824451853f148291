"""Request statistics render as Prometheus counters and cumulative histograms."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from rapport.api.metrics import LATENCY_BUCKETS, Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }


def test_requests_are_counted_per_route_method_and_status() -> None:
    metrics = Metrics()
    for status in (200, 200, 404):
        metrics.observe("/v1/x", "GET", status, 0.002)
    metrics.observe("/v1/x", "POST", 200, 0.002)
    found = samples(metrics)
    key = "rapport_http_requests_total"
    assert found[(key, (("method", "GET"), ("route", "/v1/x"), ("status", "200")))] == 2
    assert found[(key, (("method", "GET"), ("route", "/v1/x"), ("status", "404")))] == 1
    assert found[(key, (("method", "POST"), ("route", "/v1/x"), ("status", "200")))] == 1


def test_latency_buckets_are_cumulative_and_inclusive_of_their_bound() -> None:
    metrics = Metrics()
    observed = [0.0004, 0.001, 0.0011, 0.03, 9.0]
    for seconds in observed:
        metrics.observe("/r", "GET", 200, seconds)
    found = samples(metrics)
    labels = (("method", "GET"), ("route", "/r"))
    name = "rapport_http_request_duration_seconds"
    for bound in LATENCY_BUCKETS:
        expected = sum(1 for s in observed if s <= bound)
        assert found[(f"{name}_bucket", (("le", str(bound)), *labels))] == expected
    assert found[(f"{name}_bucket", (("le", "+Inf"), *labels))] == len(observed)
    assert found[(f"{name}_count", labels)] == len(observed)
    assert abs(found[(f"{name}_sum", labels)] - sum(observed)) < 1e-9
