"""Audiences through the Management API: rules validated on save, sized on demand."""

from __future__ import annotations

import time
from typing import Any

import httpx

from rapport.core.keys import KeyKind
from tests.conftest import Ingest, ThreadedServer, Workspace, access_token, management_headers

VIP = {"attribute": "profile.tier", "op": "eq", "value": "gold"}


def test_create_read_update_list_and_delete(admin: httpx.Client) -> None:
    created = admin.post("/api/audiences", json={"name": "gold", "rule": VIP})
    assert created.status_code == 201, created.text
    audience = created.json()
    assert audience["rule"] == VIP
    assert admin.get(f"/api/audiences/{audience['id']}").json() == audience
    rule = {"all": [VIP, {"attribute": "geo.country", "op": "in", "value": ["FR", "DE"]}]}
    patched = admin.patch(f"/api/audiences/{audience['id']}", json={"rule": rule, "name": "eu"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["rule"] == rule
    assert patched.json()["name"] == "eu"
    for n in range(2):
        assert admin.post("/api/audiences", json={"name": f"a{n}", "rule": VIP}).status_code == 201
    page = admin.get("/api/audiences", params={"limit": 2, "with_total": "true"}).json()
    assert page["total"] == 3
    rest = admin.get("/api/audiences", params={"next_token": page["next_token"]}).json()
    assert [a["name"] for a in page["data"] + rest["data"]] == ["eu", "a0", "a1"]
    assert admin.delete(f"/api/audiences/{audience['id']}").status_code == 204
    assert admin.get(f"/api/audiences/{audience['id']}").status_code == 404


def test_invalid_rules_are_refused_with_the_place_inside_the_rule(admin: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"all": [VIP, {"attribute": "profile.x", "op": "equals", "value": 1}]}, ["all", 1, "op"]),
        ({"attribute": "planet.name", "op": "eq", "value": "x"}, ["attribute"]),
        ({"attribute": "profile.age", "op": "gt", "value": [1]}, ["value"]),
        ({"attribute": "profile.name", "op": "matches", "value": "(?<=a)b"}, ["value"]),
        ({"any": []}, ["any"]),
        ({"event": "purchase", "within_days": -1}, ["within_days"]),
    ]
    for rule, loc in cases:
        response = admin.post("/api/audiences", json={"name": "bad", "rule": rule})
        assert response.status_code == 422, (rule, response.text)
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "rule", *loc], (rule, error)
        assert error["msg"]
    assert admin.get("/api/audiences").json()["data"] == []  # nothing was stored
    audience = admin.post("/api/audiences", json={"name": "ok", "rule": VIP}).json()
    bad_patch = admin.patch(f"/api/audiences/{audience['id']}", json={"rule": {"not": []}})
    assert bad_patch.status_code == 422
    assert admin.get(f"/api/audiences/{audience['id']}").json()["rule"] == VIP


def _people(ingest: Ingest) -> None:
    """Four people: two gold, one of whom bought twice this week; one bought long ago."""
    now = time.time()
    properties = [
        {"contact_id": "ann", "timestamp": now, "user_properties": {"tier": "gold", "age": 41}},
        {"contact_id": "bob", "timestamp": now, "user_properties": {"tier": "gold", "age": 19}},
        {"contact_id": "cid", "timestamp": now, "user_properties": {"tier": "silver"}},
        {"contact_id": "dee", "timestamp": now, "user_properties": {}},
    ]
    assert ingest.aampe("/v1/properties", properties).status_code == 202
    events = [
        {"contact_id": "ann", "event_name": "purchase", "timestamp": now - 3600},
        {"contact_id": "ann", "event_name": "purchase", "timestamp": now - 7200},
        {"contact_id": "cid", "event_name": "purchase", "timestamp": now - 90 * 86400},
        {"contact_id": "dee", "event_name": "view_item", "timestamp": now},
    ]
    assert ingest.aampe("/v1/events", events).status_code == 202
    ingest.processed()


def _size(admin: httpx.Client, rule: dict[str, Any], **session: Any) -> int:
    body: dict[str, Any] = {"rule": rule}
    if session:
        body["session"] = session
    response = admin.post("/api/audiences/preview", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["profiles"] == 4
    assert len(result["sample"]) == result["matched"]
    return int(result["matched"])


def test_preview_counts_matching_profiles(admin: httpx.Client, ingest: Ingest) -> None:
    _people(ingest)
    assert _size(admin, VIP) == 2
    assert _size(admin, {"attribute": "profile.age", "op": "gte", "value": 21}) == 1
    assert _size(admin, {"attribute": "profile.tier", "op": "exists", "value": False}) == 1
    assert _size(admin, {"event": "purchase"}) == 2
    assert _size(admin, {"event": "purchase", "within_days": 7}) == 1
    assert _size(admin, {"event": "purchase", "min_count": 2, "within_days": 7}) == 1
    assert _size(admin, {"event": "purch*", "max_count": 0}) == 2
    assert _size(admin, {"attribute": "computed.count.purchase", "op": "gte", "value": 1}) == 2
    assert _size(admin, {"attribute": "computed.category.conversion", "op": "eq", "value": 2}) == 1
    assert _size(admin, {"not": VIP}) == 2
    assert _size(admin, {"any": [VIP, {"event": "view_item"}]}) == 3
    # In-session attributes: the same for everyone in a preview.
    utm = {"attribute": "session.utm_medium", "op": "eq", "value": "email"}
    assert _size(admin, utm) == 0
    assert _size(admin, utm, attributes={"utm_medium": "email"}) == 4
    monday = {"attribute": "time.day_of_week", "op": "eq", "value": "Monday"}
    assert _size(admin, monday, DAY_OF_THE_WEEK="Monday") == 4
    assert _size(admin, monday, DAY_OF_THE_WEEK="Tuesday") == 0
    iphone = {"attribute": "device.type", "op": "eq", "value": "mobile"}
    agent = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    assert _size(admin, {"all": [VIP, iphone]}, USER_AGENT=agent) == 2
    # No geo database is configured: geo rules match nobody.
    assert _size(admin, {"attribute": "geo.country", "op": "eq", "value": "US"}) == 0


def test_a_saved_audience_has_a_size(admin: httpx.Client, ingest: Ingest) -> None:
    _people(ingest)
    audience = admin.post("/api/audiences", json={"name": "gold", "rule": VIP}).json()
    size = admin.get(f"/api/audiences/{audience['id']}/size")
    assert size.status_code == 200
    assert size.json()["matched"] == 2
    assert size.json()["profiles"] == 4


def test_another_workspace_cannot_see_an_audience(
    admin: httpx.Client, server: ThreadedServer, workspace_factory: Any, ingest: Ingest
) -> None:
    _people(ingest)
    audience = admin.post("/api/audiences", json={"name": "gold", "rule": VIP}).json()
    other: Workspace = workspace_factory()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.headers.update(
            management_headers(access_token(client, other.keys[KeyKind.ADMIN]), other.id)
        )
        assert client.get(f"/api/audiences/{audience['id']}").status_code == 404
        assert client.get(f"/api/audiences/{audience['id']}/size").status_code == 404
        assert client.delete(f"/api/audiences/{audience['id']}").status_code == 404
        # Their preview sizes their own (empty) workspace, not ours.
        preview = client.post("/api/audiences/preview", json={"rule": VIP}).json()
        assert preview == {"matched": 0, "profiles": 0, "sample": []}
