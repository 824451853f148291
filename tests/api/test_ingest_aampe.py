"""The Aampe-compatible Ingestion API over real HTTP."""

import httpx
import pytest

from rapport.core.keys import KeyKind
from tests.conftest import Ingest, profile_by_external_id


def test_events_are_accepted_and_become_a_profile(ingest: Ingest, admin: httpx.Client) -> None:
    single = ingest.aampe(
        "/v1/events",
        {
            "contact_id": "u1",
            "event_name": "purchase",
            "timestamp": 1763800000.25,
            "event_id": "e1",
            "metadata": {"sku": "A"},
        },
    )
    assert single.status_code == 202
    assert single.json() == {"accepted": 1}
    batch = ingest.aampe(
        "/v1/events",
        [
            {"contact_id": "u1", "event_name": "app_open", "timestamp": 1763800100000},
            {
                "contact_id": "u1",
                "event_name": "app_open",
                "timestamp": 1763800200,
                "timezone": "Europe/Paris",
            },
        ],
    )
    assert batch.json() == {"accepted": 2}
    ingest.processed()
    profile = profile_by_external_id(admin, "u1")
    computed = profile["computed"]
    assert computed["event_count"] == 3
    assert computed["counts_by_name"] == {"purchase": 1, "app_open": 2}
    assert computed["counts_by_category"] == {"conversion": 1, "other": 2}
    assert computed["first_seen"].startswith("2025-11-22T08:26:40.25")
    assert computed["timezone"] == "Europe/Paris"
    events = admin.get(f"/api/profiles/{profile['id']}/events").json()["data"]
    assert [e["name"] for e in events] == ["app_open", "app_open", "purchase"]
    # Millisecond timestamps are read as milliseconds.
    assert events[1]["occurred_at"].startswith("2025-11-22T08:28:20")
    assert events[2]["properties"] == {"sku": "A"}
    assert events[2]["source"] == "aampe"


def test_properties_update_the_profile_and_record_an_event(
    ingest: Ingest, admin: httpx.Client
) -> None:
    first = ingest.aampe(
        "/v1/properties",
        {
            "contact_id": "p1",
            "timestamp": 1763800000,
            "user_properties": {"plan": "gold", "age": 30},
        },
    )
    assert first.status_code == 202
    # An older write arrives later: it loses to the newer one for the keys it shares.
    ingest.aampe(
        "/v1/properties",
        {
            "contact_id": "p1",
            "timestamp": 1763700000,
            "event_name": "signup",
            "user_properties": {"plan": "free", "country": "FR"},
        },
    )
    ingest.processed()
    profile = profile_by_external_id(admin, "p1")
    assert profile["properties"] == {"plan": "gold", "age": 30, "country": "FR"}
    names = profile["computed"]["counts_by_name"]
    assert names == {"aampe_property_update": 1, "aampe_property_update_signup": 1}


def test_the_same_event_id_is_stored_once(ingest: Ingest, admin: httpx.Client) -> None:
    event = {"contact_id": "d1", "event_name": "x", "timestamp": 1763800000, "event_id": "dup"}
    for _ in range(3):
        assert ingest.aampe("/v1/events", event).status_code == 202
    assert ingest.aampe("/v1/events", [event, event]).status_code == 202
    ingest.processed()
    # ... also after it was processed (the inbox no longer holds it).
    assert ingest.aampe("/v1/events", event).status_code == 202
    ingest.processed()
    assert profile_by_external_id(admin, "d1")["computed"]["event_count"] == 1


def test_events_without_an_id_are_idempotent_on_retry(ingest: Ingest, admin: httpx.Client) -> None:
    event = {"contact_id": "r1", "event_name": "x", "timestamp": 1763800000.5, "metadata": {"a": 1}}
    ingest.aampe("/v1/events", event)
    ingest.aampe("/v1/events", event)
    ingest.aampe("/v1/events", {**event, "metadata": {"a": 2}})
    ingest.processed()
    assert profile_by_external_id(admin, "r1")["computed"]["event_count"] == 2


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"contact_id": "", "event_name": "x", "timestamp": 1}, ["body", "contact_id"]),
        ({"contact_id": "u", "timestamp": 1}, ["body", "event_name"]),
        ({"contact_id": "u", "event_name": "", "timestamp": 1}, ["body", "event_name"]),
        ({"contact_id": "u", "event_name": "x", "timestamp": "yesterday"}, ["body", "timestamp"]),
        ({"contact_id": "u", "event_name": "x", "timestamp": -5}, ["body", "timestamp"]),
        ({"contact_id": 7, "event_name": "x", "timestamp": 1}, ["body", "contact_id"]),
        (
            {"contact_id": "u", "event_name": "x", "timestamp": 1, "timezone": "Mars/Base"},
            ["body", "timezone"],
        ),
        (
            {"contact_id": "u", "event_name": "x", "timestamp": 1, "metadata": []},
            ["body", "metadata"],
        ),
        (
            [{"contact_id": "u", "event_name": "x", "timestamp": 1}, {"contact_id": "u"}],
            ["body", 1, "event_name"],
        ),
    ],
)
def test_bad_events_are_422_with_loc_and_store_nothing(
    ingest: Ingest, admin: httpx.Client, body: object, loc: list[object]
) -> None:
    response = ingest.aampe("/v1/events", body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    ingest.processed()
    assert admin.get("/api/profiles", params={"with_total": "true"}).json()["total"] == 0


def test_properties_need_user_properties(ingest: Ingest) -> None:
    response = ingest.aampe("/v1/properties", {"contact_id": "u", "timestamp": 1})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "user_properties"]


@pytest.mark.parametrize("kind", [KeyKind.PUBLIC, KeyKind.SURFACES, KeyKind.ADMIN])
def test_other_key_kinds_are_403(ingest: Ingest, kind: KeyKind) -> None:
    response = ingest.aampe(
        "/v1/events", {"contact_id": "u", "event_name": "x", "timestamp": 1}, kind
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_key_kind"


def test_missing_key_is_401_and_malformed_json_400(ingest: Ingest) -> None:
    assert ingest.http.post("/v1/events", json={}).status_code == 401
    bad = ingest.http.post(
        "/v1/events",
        content=b"{nope",
        headers={**ingest.auth(), "Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "malformed_json"


def test_oversized_bodies_are_413(ingest: Ingest) -> None:
    event = {
        "contact_id": "u",
        "event_name": "x",
        "timestamp": 1,
        "metadata": {"b": "x" * 2_000_000},
    }
    assert ingest.aampe("/v1/events", event).status_code == 413
