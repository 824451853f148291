"""Profiles in the Management API: search, detail, events, erasure."""

import httpx

from tests.conftest import (
    Ingest,
    Workspace,
    access_token,
    management_headers,
    profile_by_external_id,
)


def _seed(ingest: Ingest) -> None:
    ingest.client(
        "identify",
        {
            "external_id": "s1",
            "email": "s1@example.com",
            "data": {"plan": "gold", "age": 41, "beta": True},
        },
    )
    ingest.client("identify", {"external_id": "s2", "data": {"plan": "free", "age": 20}})
    ingest.client("identify", {"anonymous_id": "anon-s3", "data": {"plan": "gold"}})
    ingest.processed()


def test_search_by_identity_or_property(ingest: Ingest, admin: httpx.Client) -> None:
    _seed(ingest)

    def ids(**params: str) -> set[str | None]:
        response = admin.get("/api/profiles", params=params)
        assert response.status_code == 200, response.text
        return {p["external_id"] for p in response.json()["data"]}

    assert ids(identity="s1") == {"s1"}
    assert ids(identity="anon-s3") == {None}
    assert ids(identity="anon-s3", kind="external_id") == set()
    assert ids(property="plan", value="gold") == {"s1", None}
    assert ids(property="age", value="20") == {"s2"}
    assert ids(property="beta", value="true") == {"s1"}
    assert ids(property="plan", value="platinum") == set()
    bad = admin.get("/api/profiles", params={"property": "plan"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "value"]
    assert (
        admin.get("/api/profiles", params={"kind": "shoe_size", "identity": "x"}).status_code == 422
    )


def test_profiles_page_with_total(ingest: Ingest, admin: httpx.Client) -> None:
    _seed(ingest)
    first = admin.get("/api/profiles", params={"limit": 2, "with_total": "true"}).json()
    assert first["total"] == 3
    assert len(first["data"]) == 2
    rest = admin.get("/api/profiles", params={"limit": 2, "next_token": first["next_token"]}).json()
    assert len(rest["data"]) == 1
    assert "next_token" not in rest
    filtered = admin.get(
        "/api/profiles", params={"property": "plan", "value": "gold", "with_total": "true"}
    ).json()
    assert filtered["total"] == 2


def test_events_are_newest_first_and_page(ingest: Ingest, admin: httpx.Client) -> None:
    ingest.aampe(
        "/v1/events",
        [
            {"contact_id": "ev", "event_name": f"e{n}", "timestamp": 1763800000 + n}
            for n in range(5)
        ],
    )
    ingest.processed()
    profile = profile_by_external_id(admin, "ev")
    url = f"/api/profiles/{profile['id']}/events"
    first = admin.get(url, params={"limit": 3}).json()
    assert [e["name"] for e in first["data"]] == ["e4", "e3", "e2"]
    second = admin.get(url, params={"limit": 3, "next_token": first["next_token"]}).json()
    assert [e["name"] for e in second["data"]] == ["e1", "e0"]
    assert admin.get("/api/profiles/nope/events").status_code == 404


def test_erasure_removes_the_person_and_drops_their_later_events(
    ingest: Ingest, admin: httpx.Client
) -> None:
    ingest.client(
        "identify", {"external_id": "gone", "anonymous_id": "gone-anon", "data": {"x": 1}}
    )
    ingest.client(
        "devices",
        {
            "external_id": "gone",
            "device_id": "gd",
            "os": "ios",
            "model": "m",
            "app_build": "1",
            "app_version": "1",
        },
    )
    ingest.client("events", [{"name": "purchase", "external_id": "gone"}])
    ingest.processed()
    profile = profile_by_external_id(admin, "gone")
    assert admin.delete(f"/api/profiles/{profile['id']}").status_code == 204
    assert admin.get(f"/api/profiles/{profile['id']}").status_code == 404
    assert admin.delete(f"/api/profiles/{profile['id']}").status_code == 404
    # Later messages for any of their identities are accepted (so senders do not retry
    # forever) and dropped.
    assert ingest.client("events", [{"name": "view", "external_id": "gone"}]).status_code == 204
    assert (
        ingest.client("events", [{"name": "view", "anonymous_id": "gone-anon"}]).status_code == 204
    )
    assert (
        ingest.aampe(
            "/v1/events", {"contact_id": "gone", "event_name": "x", "timestamp": 1}
        ).status_code
        == 202
    )
    ingest.processed()
    assert admin.get("/api/profiles", params={"with_total": "true"}).json()["total"] == 0


def test_profiles_of_another_workspace_are_invisible(
    ingest: Ingest, admin: httpx.Client, http: httpx.Client, workspace_factory
) -> None:
    ingest.client("identify", {"external_id": "private"})
    ingest.processed()
    mine = profile_by_external_id(admin, "private")
    other: Workspace = workspace_factory()
    headers = management_headers(access_token(http, other.keys["admin"]), other.id)
    assert http.get("/api/profiles", headers=headers).json()["data"] == []
    assert (
        http.get("/api/profiles", headers=headers, params={"identity": "private"}).json()["data"]
        == []
    )
    for call in (
        http.get(f"/api/profiles/{mine['id']}", headers=headers),
        http.get(f"/api/profiles/{mine['id']}/events", headers=headers),
        http.delete(f"/api/profiles/{mine['id']}", headers=headers),
    ):
        assert call.status_code == 404
    assert admin.get(f"/api/profiles/{mine['id']}").status_code == 200


def test_event_categories_can_be_replaced(ingest: Ingest, admin: httpx.Client) -> None:
    current = admin.get("/api/event-categories").json()["rules"]
    assert {"pattern": "purchase", "category": "conversion", "reward": 1.0} in current
    replaced = admin.put(
        "/api/event-categories",
        json={
            "rules": [
                {"pattern": "signup_*", "category": "conversion", "reward": 2},
                {"pattern": "signup_started", "category": "intent"},
            ]
        },
    )
    assert replaced.status_code == 200
    ingest.aampe(
        "/v1/events",
        [
            {"contact_id": "cat", "event_name": "signup_done", "timestamp": 1},
            {"contact_id": "cat", "event_name": "signup_started", "timestamp": 2},
            {"contact_id": "cat", "event_name": "purchase", "timestamp": 3},
        ],
    )
    ingest.processed()
    counts = profile_by_external_id(admin, "cat")["computed"]["counts_by_category"]
    assert counts == {"conversion": 1, "intent": 1, "other": 1}
    bad = admin.put(
        "/api/event-categories", json={"rules": [{"pattern": "x", "category": "money"}]}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "rules", 0, "category"]
