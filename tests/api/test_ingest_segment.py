"""The Segment Tracking API: plain HTTP and the real Segment and RudderStack clients."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import httpx
import pytest
import rudderstack.analytics as rudder_analytics
import segment.analytics as segment_analytics

from rapport.core.keys import KeyKind
from tests.conftest import Ingest, ThreadedServer, profile_by_external_id


def test_track_identify_alias_page_screen_group(ingest: Ingest, admin: httpx.Client) -> None:
    calls = [
        (
            "track",
            {
                "anonymousId": "sa1",
                "event": "Product Viewed",
                "messageId": "m1",
                "properties": {"sku": "X"},
                "context": {"timezone": "America/New_York", "locale": "en-US"},
            },
        ),
        ("page", {"anonymousId": "sa1", "name": "Home", "messageId": "m2"}),
        (
            "identify",
            {"userId": "su1", "anonymousId": "sa1", "traits": {"email": "su1@x.io", "name": "Sue"}},
        ),
        ("screen", {"userId": "su1", "name": "Cart", "messageId": "m3"}),
        ("group", {"userId": "su1", "groupId": "acme", "traits": {"size": 10}}),
        (
            "track",
            {
                "userId": "su1",
                "event": "Order Completed",
                "messageId": "m4",
                "properties": {"revenue": 30},
            },
        ),
    ]
    for path, body in calls:
        response = ingest.segment(path, body)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == {"success": True}
    ingest.processed()
    profile = profile_by_external_id(admin, "su1")
    identities = {(i["kind"], i["value"]) for i in profile["identities"]}
    assert identities == {("external_id", "su1"), ("anonymous_id", "sa1")}
    assert profile["properties"]["name"] == "Sue"
    assert profile["properties"]["email"] == "su1@x.io"
    assert profile["properties"]["group_id"] == "acme"
    assert profile["computed"]["counts_by_name"] == {
        "Product Viewed": 1,
        "Page Viewed": 1,
        "Screen Viewed": 1,
        "Order Completed": 1,
    }
    assert profile["computed"]["timezone"] == "America/New_York"
    events = admin.get(f"/api/profiles/{profile['id']}/events").json()["data"]
    page = next(e for e in events if e["name"] == "Page Viewed")
    assert page["properties"] == {"name": "Home"}
    assert page["source"] == "segment"


def test_alias_merges_previous_id_into_user_id(ingest: Ingest, admin: httpx.Client) -> None:
    ingest.segment("track", {"anonymousId": "prev", "event": "Signed Up", "messageId": "a1"})
    ingest.segment("track", {"userId": "now", "event": "Logged In", "messageId": "a2"})
    ingest.processed()
    ingest.segment("alias", {"previousId": "prev", "userId": "now"})
    ingest.processed()
    profile = profile_by_external_id(admin, "now")
    assert profile["computed"]["event_count"] == 2
    total = admin.get("/api/profiles", params={"with_total": "true"}).json()["total"]
    assert total == 1


def test_sent_at_corrects_the_client_clock(ingest: Ingest, admin: httpx.Client) -> None:
    # The device's clock runs a year ahead: the event happened 10 s before it was sent.
    ingest.segment(
        "track",
        {
            "userId": "clock",
            "event": "x",
            "messageId": "c1",
            "timestamp": "2027-11-22T10:00:00Z",
            "sentAt": "2027-11-22T10:00:10.000Z",
        },
    )
    ingest.processed()
    profile = profile_by_external_id(admin, "clock")
    [event] = admin.get(f"/api/profiles/{profile['id']}/events").json()["data"]
    occurred = event["occurred_at"]
    received = event["received_at"]
    from datetime import datetime

    gap = datetime.fromisoformat(received) - datetime.fromisoformat(occurred)
    assert 9.0 <= gap.total_seconds() <= 11.0


def test_message_id_is_the_idempotency_key(ingest: Ingest, admin: httpx.Client) -> None:
    body = {"batch": [{"type": "track", "userId": "idem", "event": "x", "messageId": "same"}] * 3}
    assert ingest.segment("batch", body).status_code == 200
    assert ingest.segment("track", body["batch"][0]).status_code == 200
    ingest.processed()
    assert profile_by_external_id(admin, "idem")["computed"]["event_count"] == 1


def test_size_limits_are_413(ingest: Ingest) -> None:
    big = {"userId": "u", "event": "x", "properties": {"blob": "x" * 33_000}}
    assert ingest.segment("track", big).status_code == 413
    in_batch = {"batch": [{"type": "track", **big}]}
    assert ingest.segment("batch", in_batch).status_code == 413
    small = {"type": "track", "userId": "u", "event": "x", "properties": {"blob": "x" * 20_000}}
    assert ingest.segment("batch", {"batch": [small] * 30}).status_code == 413  # > 500 KB
    assert ingest.segment("batch", {"batch": [small] * 20}).status_code == 200


def test_gzip_limits_apply_after_decompression(ingest: Ingest) -> None:
    small = {"type": "track", "userId": "u", "event": "x", "properties": {"blob": "y" * 20_000}}
    packed = gzip.compress(json.dumps({"batch": [small] * 30}).encode())
    assert len(packed) < 500 * 1024
    response = ingest.http.post(
        "/v1/batch",
        content=packed,
        auth=(ingest.workspace.keys[KeyKind.INGEST], ""),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("track", {"userId": "u"}, ["body", "event"]),
        ("track", {"event": "x"}, ["body", "userId"]),
        ("alias", {"userId": "u"}, ["body", "previousId"]),
        ("group", {"userId": "u"}, ["body", "groupId"]),
        ("track", {"userId": "u", "event": "x", "timestamp": "not a time"}, ["body", "timestamp"]),
        ("track", {"userId": "u", "event": "x", "properties": "flat"}, ["body", "properties"]),
        (
            "batch",
            {
                "batch": [
                    {"type": "track", "userId": "u", "event": "x"},
                    {"type": "wink", "userId": "u"},
                ]
            },
            ["body", "batch", 1, "type"],
        ),
        ("batch", {"batch": [{"userId": "u", "event": "x"}]}, ["body", "batch", 0, "type"]),
        ("batch", {"events": []}, ["body", "batch"]),
    ],
)
def test_bad_calls_are_422_and_store_nothing(
    ingest: Ingest, admin: httpx.Client, path: str, body: object, loc: list[object]
) -> None:
    response = ingest.segment(path, body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    ingest.processed()
    assert admin.get("/api/profiles", params={"with_total": "true"}).json()["total"] == 0


def test_write_key_auth(ingest: Ingest) -> None:
    body = {"userId": "u", "event": "x"}
    assert ingest.http.post("/v1/track", json=body).status_code == 401
    assert ingest.http.post("/v1/track", json=body, auth=("ik_nope", "")).status_code == 401
    assert ingest.segment("track", body, KeyKind.SURFACES).status_code == 403
    assert ingest.segment("track", body, KeyKind.PUBLIC).status_code == 200


ClientFactory = Callable[[str, str], object]


def _segment_client(write_key: str, host: str) -> object:
    return segment_analytics.Client(write_key, host=host, sync_mode=True, max_retries=0)


def _rudder_client(write_key: str, host: str) -> object:
    # RudderStack's client gzips its batches by default.
    return rudder_analytics.Client(write_key, host=host, sync_mode=True, max_retries=0)


@pytest.mark.parametrize(
    "make_client", [_segment_client, _rudder_client], ids=["segment", "rudder"]
)
def test_the_real_tracking_clients_work_unmodified(
    server: ThreadedServer, ingest: Ingest, admin: httpx.Client, make_client: ClientFactory
) -> None:
    errors: list[object] = []
    client = make_client(ingest.workspace.keys[KeyKind.INGEST], server.url)
    client.on_error = lambda error, items: errors.append(error)  # type: ignore[attr-defined]
    client.identify("sdk-user", {"plan": "team", "email": "sdk@example.com"})  # type: ignore[attr-defined]
    client.track("sdk-user", "Order Completed", {"revenue": 12.5})  # type: ignore[attr-defined]
    client.page("sdk-user", "Docs", "Quickstart")  # type: ignore[attr-defined]
    client.screen("sdk-user", "App", "Home")  # type: ignore[attr-defined]
    client.group("sdk-user", "team-1", {"seats": 5})  # type: ignore[attr-defined]
    client.track(anonymous_id="sdk-anon", event="Product Viewed")  # type: ignore[attr-defined]
    client.alias("sdk-anon", "sdk-user")  # type: ignore[attr-defined]
    client.flush()  # type: ignore[attr-defined]
    assert errors == []
    ingest.processed()
    profile = profile_by_external_id(admin, "sdk-user")
    assert profile["properties"]["plan"] == "team"
    assert profile["properties"]["group_id"] == "team-1"
    names = profile["computed"]["counts_by_name"]
    assert names == {
        "Order Completed": 1,
        "Page Viewed": 1,
        "Screen Viewed": 1,
        "Product Viewed": 1,
    }
    assert ("anonymous_id", "sdk-anon") in {(i["kind"], i["value"]) for i in profile["identities"]}
