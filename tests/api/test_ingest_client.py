"""The Parcelvoy-compatible Client API over real HTTP, and identity merges."""

import httpx
import pytest

from rapport.core.keys import KeyKind
from tests.conftest import Ingest, profile_by_external_id


def test_identify_devices_and_events_build_one_profile(ingest: Ingest, admin: httpx.Client) -> None:
    identify = ingest.client(
        "identify",
        {
            "external_id": "c1",
            "email": "Ann@Example.com",
            "phone": "+33 6 12 34 56 78",
            "timezone": "Europe/Paris",
            "locale": "fr-FR",
            "data": {"plan": "pro"},
        },
    )
    assert identify.status_code == 204
    assert identify.content == b""
    device = ingest.client(
        "devices",
        {
            "external_id": "c1",
            "device_id": "dev-1",
            "token": "tok-1",
            "os": "ios",
            "os_version": "18.1",
            "model": "iPhone16,1",
            "app_build": "42",
            "app_version": "1.2.0",
        },
    )
    assert device.status_code == 204
    events = ingest.client(
        "events",
        [
            {"name": "purchase", "external_id": "c1", "data": {"total": 9.5}},
            {"name": "view", "external_id": "c1", "user": {"data": {"vip": True}}},
        ],
    )
    assert events.status_code == 204
    ingest.processed()
    profile = profile_by_external_id(admin, "c1")
    assert profile["properties"] == {
        "plan": "pro",
        "email": "Ann@Example.com",
        "phone": "+33 6 12 34 56 78",
        "vip": True,
    }
    assert profile["computed"]["timezone"] == "Europe/Paris"
    assert profile["computed"]["locale"] == "fr-FR"
    assert profile["computed"]["counts_by_category"] == {"conversion": 1, "other": 1}
    [registered] = profile["devices"]
    assert registered["device_id"] == "dev-1"
    assert registered["token"] == "tok-1"
    assert registered["app_version"] == "1.2.0"


def test_alias_merges_the_anonymous_profile_into_the_known_one(
    ingest: Ingest, admin: httpx.Client
) -> None:
    ingest.client("events", [{"name": "view", "anonymous_id": "anon-1"}])
    ingest.client(
        "devices",
        {
            "anonymous_id": "anon-1",
            "device_id": "d-anon",
            "os": "android",
            "model": "Pixel",
            "app_build": "1",
            "app_version": "1.0",
        },
    )
    ingest.client("identify", {"anonymous_id": "anon-1", "data": {"seen_onboarding": True}})
    ingest.client("events", [{"name": "purchase", "external_id": "known-1"}])
    ingest.processed()
    assert admin.get("/api/profiles", params={"with_total": "true"}).json()["total"] == 2
    assert (
        ingest.client("alias", {"anonymous_id": "anon-1", "external_id": "known-1"}).status_code
        == 204
    )
    ingest.processed()
    listing = admin.get("/api/profiles", params={"with_total": "true"}).json()
    assert listing["total"] == 1
    profile = profile_by_external_id(admin, "known-1")
    assert {(i["kind"], i["value"]) for i in profile["identities"]} == {
        ("external_id", "known-1"),
        ("anonymous_id", "anon-1"),
    }
    assert profile["computed"]["event_count"] == 2
    assert profile["properties"] == {"seen_onboarding": True}
    assert [d["device_id"] for d in profile["devices"]] == ["d-anon"]
    events = admin.get(f"/api/profiles/{profile['id']}/events").json()["data"]
    assert sorted(e["name"] for e in events) == ["purchase", "view"]
    # Later events for the anonymous id land on the merged profile.
    ingest.client("events", [{"name": "view", "anonymous_id": "anon-1"}])
    ingest.processed()
    assert profile_by_external_id(admin, "known-1")["computed"]["event_count"] == 3


def test_a_second_alias_to_another_user_is_409_and_changes_nothing(
    ingest: Ingest, admin: httpx.Client
) -> None:
    assert ingest.client("alias", {"anonymous_id": "a", "external_id": "first"}).status_code == 204
    assert ingest.client("alias", {"anonymous_id": "a", "external_id": "first"}).status_code == 204
    conflict = ingest.client("alias", {"anonymous_id": "a", "external_id": "second"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "alias_conflict"
    ingest.processed()
    assert admin.get("/api/profiles", params={"identity": "second"}).json()["data"] == []
    first = profile_by_external_id(admin, "first")
    assert ("anonymous_id", "a") in {(i["kind"], i["value"]) for i in first["identities"]}


def test_an_anonymous_id_of_another_known_user_is_not_merged(
    ingest: Ingest, admin: httpx.Client
) -> None:
    """A shared device: the anonymous id already belongs to a known user."""
    ingest.client("identify", {"anonymous_id": "shared", "external_id": "alice"})
    ingest.processed()
    ingest.client("events", [{"name": "view", "anonymous_id": "shared", "external_id": "bob"}])
    ingest.processed()
    alice, bob = profile_by_external_id(admin, "alice"), profile_by_external_id(admin, "bob")
    assert alice["id"] != bob["id"]
    assert bob["computed"]["event_count"] == 1


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("alias", {"anonymous_id": "a"}, ["body", "external_id"]),
        ("alias", {"anonymous_id": "", "external_id": "x"}, ["body", "anonymous_id"]),
        ("identify", {"email": "x@example.com"}, ["body", "external_id"]),
        ("identify", {"external_id": "x", "timezone": "Nowhere/City"}, ["body", "timezone"]),
        ("identify", {"external_id": "x", "unknown": 1}, ["body", "unknown"]),
        ("devices", {"external_id": "x", "device_id": "d"}, ["body", "os"]),
        (
            "devices",
            {"device_id": "d", "os": "ios", "model": "m", "app_build": "1", "app_version": "1"},
            ["body", "external_id"],
        ),
        ("events", [], ["body"]),
        ("events", {"name": "x", "external_id": "u"}, ["body"]),
        ("events", [{"external_id": "u"}], ["body", 0, "name"]),
        ("events", [{"name": "x", "external_id": "u"}, {"name": "y"}], ["body", 1, "external_id"]),
        (
            "events",
            [{"name": "x", "external_id": "u", "created_at": "soon"}],
            ["body", 0, "created_at"],
        ),
    ],
)
def test_bad_client_calls_are_422(
    ingest: Ingest, admin: httpx.Client, path: str, body: object, loc: list[object]
) -> None:
    response = ingest.client(path, body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    ingest.processed()
    assert admin.get("/api/profiles", params={"with_total": "true"}).json()["total"] == 0


def test_the_client_api_takes_public_keys_but_not_the_secret_kinds(ingest: Ingest) -> None:
    body = [{"name": "x", "external_id": "u"}]
    assert ingest.client("events", body, KeyKind.PUBLIC).status_code == 204
    assert ingest.client("events", body, KeyKind.INGEST).status_code == 204
    for kind in (KeyKind.SURFACES, KeyKind.PERSONALIZE, KeyKind.ADMIN):
        assert ingest.client("events", body, kind).status_code == 403


def test_a_public_key_cannot_use_secret_endpoints(ingest: Ingest) -> None:
    event = {"contact_id": "u", "event_name": "x", "timestamp": 1}
    assert ingest.aampe("/v1/events", event, KeyKind.PUBLIC).status_code == 403
    token = ingest.http.post("/api/oauth/token", headers=ingest.auth(KeyKind.PUBLIC))
    assert token.status_code == 403
    health = ingest.http.get(
        "/health", headers={"X-API-Key": ingest.workspace.keys[KeyKind.PUBLIC]}
    )
    assert health.status_code == 403
