"""Operational endpoints and the OpenAPI document."""

import httpx
from openapi_spec_validator import validate

from rapport.core.keys import KeyKind
from tests.conftest import Workspace


def test_health_is_open_and_checks_a_surfaces_key_when_given(
    http: httpx.Client, workspace: Workspace
) -> None:
    assert http.get("/health").json() == {"status": "ok"}
    assert (
        http.get("/health", headers={"X-API-Key": workspace.keys[KeyKind.SURFACES]}).status_code
        == 200
    )
    assert http.get("/health", headers={"X-API-Key": "sk_nope"}).status_code == 401
    wrong = http.get("/health", headers={"X-API-Key": workspace.keys[KeyKind.INGEST]})
    assert wrong.status_code == 403


def test_ready_reports_the_database(http: httpx.Client, backend: str) -> None:
    response = http.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": backend}


def test_metrics_count_requests_per_route(http: httpx.Client) -> None:
    for _ in range(3):
        http.get("/health")
    http.get("/api/nothing")
    text = http.get("/metrics").text
    assert 'rapport_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert (
        'rapport_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health"}'
        in text
    )
    assert 'route="unmatched",status="404"' in text
    count_line = next(
        line
        for line in text.splitlines()
        if line.startswith('rapport_http_requests_total{method="GET",route="/health",status="200"}')
    )
    assert float(count_line.split()[-1]) >= 3


def test_openapi_document_is_valid_openapi_3(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    validate(document)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path, method in [
        ("/api/workspace", "get"),
        ("/api/workspace", "patch"),
        ("/api/api-keys", "get"),
        ("/api/api-keys", "post"),
        ("/api/api-keys/{id}/rotate", "post"),
        ("/api/api-keys/{id}", "delete"),
        ("/api/oauth/token", "post"),
    ]:
        assert method in paths[path], (path, method)
    listing = paths["/api/api-keys"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"Rapport-Workspace", "Api-Version", "limit", "next_token", "with_total"} <= names
    assert "422" in paths["/api/api-keys"]["post"]["responses"]


def test_docs_page_points_at_the_document(http: httpx.Client) -> None:
    response = http.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text
