"""Activity figures, the workspace's event list, ingestion errors and report trends."""

from __future__ import annotations

import time

import httpx

from rapport.core.keys import KeyKind
from tests.api.test_surfaces import surface_body
from tests.conftest import Ingest, Workspace


def send_events(ingest: Ingest, now: float) -> None:
    events = [
        {"contact_id": "ann", "event_name": "view_item", "timestamp": now - 120},
        {"contact_id": "ann", "event_name": "purchase", "timestamp": now - 60},
        {"contact_id": "bob", "event_name": "view_item", "timestamp": now - 30},
        {"contact_id": "bob", "event_name": "view_item", "timestamp": now - 3 * 3600},
    ]
    assert ingest.aampe("/v1/events", events).status_code == 202
    segment = {"userId": "cat", "event": "Order Completed", "type": "track"}
    assert ingest.segment("track", segment).status_code == 200
    ingest.processed()


def test_events_list_filters_and_pages(admin: httpx.Client, ingest: Ingest) -> None:
    send_events(ingest, time.time())
    everything = admin.get("/api/events", params={"with_total": "true"}).json()
    names = [e["name"] for e in everything["data"]]
    assert len(names) == 5
    assert names[0] == "Order Completed"  # newest event time first
    assert all(e["profile_id"] for e in everything["data"])
    views = admin.get("/api/events", params={"name": "view_item", "limit": 2}).json()
    assert [e["name"] for e in views["data"]] == ["view_item", "view_item"]
    rest = admin.get("/api/events", params={"name": "view_item", "next_token": views["next_token"]})
    assert [e["name"] for e in rest.json()["data"]] == ["view_item"]
    assert "next_token" not in rest.json()
    conversions = admin.get("/api/events", params={"category": "conversion"}).json()["data"]
    assert sorted(e["name"] for e in conversions) == ["Order Completed", "purchase"]
    segment = admin.get("/api/events", params={"source": "segment"}).json()["data"]
    assert [e["name"] for e in segment] == ["Order Completed"]
    ann = conversions[-1]["profile_id"] if conversions[-1]["name"] == "purchase" else None
    ann = ann or conversions[0]["profile_id"]
    by_profile = admin.get("/api/events", params={"profile_id": ann}).json()["data"]
    assert {e["name"] for e in by_profile} == {"view_item", "purchase"}
    recent = admin.get(
        "/api/events",
        params={"since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))},
    ).json()["data"]
    assert len(recent) == 4


def test_events_list_validates_its_filters(admin: httpx.Client) -> None:
    for params, loc in [
        ({"category": "nope"}, ["query", "category"]),
        ({"source": "nope"}, ["query", "source"]),
        ({"since": "yesterday"}, ["query", "since"]),
        ({"next_token": "bad!"}, ["query", "next_token"]),
    ]:
        answer = admin.get("/api/events", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["detail"][0]["loc"] == loc


def test_activity_counts_events_decisions_and_conversions(
    admin: httpx.Client, ingest: Ingest, workspace: Workspace
) -> None:
    now = time.time()
    send_events(ingest, now)
    surface = admin.post(
        "/api/surfaces",
        json=surface_body(control={"holdout_percent": 0, "sticky_seconds": 0}),
    ).json()
    for contact in ("ann", "bob"):
        answer = ingest.http.get(
            "/v1/surface/content",
            params={"contact_id": contact, "surface_id": surface["id"]},
            headers={"X-API-Key": workspace.keys[KeyKind.SURFACES]},
        )
        assert answer.status_code == 200, answer.text
    assert (
        ingest.aampe(
            "/v1/events",
            {"contact_id": "ann", "event_name": "purchase", "timestamp": time.time()},
        ).status_code
        == 202
    )
    ingest.processed()
    hour = admin.get("/api/stats/activity", params={"minutes": 60, "bucket_seconds": 60}).json()
    assert hour["bucket_seconds"] == 60
    assert len(hour["buckets"]) == 60
    assert sum(b["events"] for b in hour["buckets"]) == 5  # the 3-hour-old one is outside
    assert sum(b["decisions"] for b in hour["buckets"]) == 2
    assert sum(b["conversions"] for b in hour["buckets"]) == 1
    day = admin.get("/api/stats/activity", params={"minutes": 1440, "bucket_seconds": 3600})
    assert sum(b["events"] for b in day.json()["buckets"]) == 6
    rated = [b for b in day.json()["buckets"] if b["decisions"]]
    assert [b["conversion_rate"] for b in rated] == [0.5]

    summary = admin.get("/api/stats/summary").json()
    assert summary["profiles"] == 3
    assert summary["processing"] == {"backlog": 0, "lag_seconds": 0.0}

    trend = admin.get(f"/api/surfaces/{surface['id']}/report/trend").json()
    assert len(trend["points"]) == 24
    last = trend["points"][-1]
    assert last["personalized"] == {"assignments": 2, "conversions": 1, "rate": 0.5}
    assert last["holdout"]["assignments"] == 0
    assert last["uplift"] is None  # no holdout: nothing to compare with
    assert (
        admin.get("/api/surfaces/01a00000-0000-7000-8000-000000000000/report/trend").status_code
        == 404
    )


def test_activity_windows_are_validated(admin: httpx.Client) -> None:
    for params in (
        {"minutes": "0"},
        {"minutes": "x"},
        {"bucket_seconds": "59"},
        {"minutes": "100000", "bucket_seconds": "60"},
    ):
        answer = admin.get("/api/stats/activity", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["detail"][0]["loc"][0] == "query"
    too_fine = admin.get(
        "/api/experiences/none/report/trend", params={"minutes": "1440", "bucket_seconds": "60"}
    )
    assert too_fine.status_code == 422


def test_ingestion_errors_are_listed_per_dialect(
    admin: httpx.Client, ingest: Ingest, workspace: Workspace
) -> None:
    assert ingest.aampe("/v1/events", {"event_name": "no contact"}).status_code == 422
    assert ingest.client("events", [{"name": "x"}]).status_code == 422
    assert ingest.segment("track", {"type": "track"}).status_code in (400, 422)
    # Without a valid key the request belongs to no workspace: not listed.
    anonymous = ingest.http.post("/v1/events", json={}, headers={"Authorization": "Bearer no"})
    assert anonymous.status_code == 401

    counts = admin.get("/api/stats/summary").json()["ingestion_errors_last_hour"]
    assert counts == {"aampe": 1, "parcelvoy": 1, "segment": 1}
    listed = admin.get("/api/ingestion-errors", params={"limit": 2, "with_total": "true"}).json()
    assert listed["total"] == 3
    assert [e["dialect"] for e in listed["data"]] == ["segment", "parcelvoy"]
    older = admin.get("/api/ingestion-errors", params={"next_token": listed["next_token"]}).json()
    assert [e["dialect"] for e in older["data"]] == ["aampe"]
    assert older["data"][0]["path"] == "/v1/events"
    assert older["data"][0]["status"] == 422
    only = admin.get("/api/ingestion-errors", params={"dialect": "parcelvoy"}).json()["data"]
    assert [e["path"] for e in only] == ["/api/client/events"]
    assert admin.get("/api/ingestion-errors", params={"dialect": "x"}).status_code == 422
