"""Experiences: the Management API and the MoEngage-compatible Experiences API."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from rapport.core.keys import KeyKind
from rapport.decide.engine import fixed_split
from tests.conftest import Ingest, Workspace


def experience(key: str = "hero", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key,
        "name": "Home hero",
        "status": "active",
        "allocation": "fixed",
        "variations": [
            {
                "name": "control",
                "payload": {"Title": {"value": "Hello", "data_type": "string"}},
                "weight": 1,
            },
            {
                "name": "sale",
                "payload": {
                    "Title": {"value": "-20% today", "data_type": "string"},
                    "Discount": {"value": 20, "data_type": "number"},
                },
                "weight": 3,
                "labels": {"offering": "discount"},
            },
        ],
    }
    body.update(changes)
    return body


class Experiences:
    """The Experiences API of one workspace."""

    def __init__(self, http: httpx.Client, workspace: Workspace) -> None:
        self.http = http
        self.workspace = workspace

    def fetch(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        sent = {"MOE-APPKEY": self.workspace.id, **headers}
        return self.http.post(
            "/v1/experiences/fetch",
            json=body,
            auth=(self.workspace.id, self.workspace.keys[KeyKind.PERSONALIZE]),
            headers=sent,
        )

    def for_user(self, customer_id: str, *keys: str, **session: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"identifiers": {"customer_id": customer_id}, **session}
        if keys:
            body["experience_key"] = list(keys)
        response = self.fetch(body)
        assert response.status_code == 200, response.text
        return dict(response.json()["experiences"])


@pytest.fixture
def experiences(http: httpx.Client, workspace: Workspace) -> Experiences:
    return Experiences(http, workspace)


def test_manage_experiences(admin: httpx.Client) -> None:
    created = admin.post("/api/experiences", json=experience())
    assert created.status_code == 201, created.text
    body = created.json()
    assert [v["name"] for v in body["variations"]] == ["control", "sale"]
    assert body["variations"][1]["payload"]["Discount"] == {"value": 20, "data_type": "number"}
    assert admin.post("/api/experiences", json=experience()).status_code == 409
    assert admin.get("/api/experiences/hero").json() == body
    patched = admin.patch("/api/experiences/hero", json={"status": "paused"})
    assert patched.json()["status"] == "paused"
    # Variations keep their ids when their names stay.
    renamed = admin.patch(
        "/api/experiences/hero",
        json={"variations": [*experience()["variations"][:1], experience()["variations"][1]]},
    ).json()
    assert [v["id"] for v in renamed["variations"]] == [v["id"] for v in body["variations"]]
    page = admin.get("/api/experiences", params={"with_total": "true"}).json()
    assert page["total"] == 1
    assert admin.delete("/api/experiences/hero").status_code == 204
    assert admin.get("/api/experiences/hero").status_code == 404


def test_invalid_experiences_get_422(admin: httpx.Client) -> None:
    wrong_type = experience()
    wrong_type["variations"][1]["payload"]["Discount"]["value"] = "20"
    response = admin.post("/api/experiences", json=wrong_type)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [
        "body", "variations", 1, "payload", "Discount", "value"
    ]  # fmt: skip
    bad_type = experience()
    bad_type["variations"][0]["payload"]["Title"]["data_type"] = "date"
    assert admin.post("/api/experiences", json=bad_type).status_code == 422
    now = datetime.now(UTC)
    backwards = experience(starts_at=now.isoformat(), ends_at=(now - timedelta(1)).isoformat())
    assert admin.post("/api/experiences", json=backwards).json()["detail"][0]["loc"] == [
        "body", "ends_at"
    ]  # fmt: skip
    assert admin.post("/api/experiences", json=experience(key="bad key")).status_code == 422
    assert admin.post("/api/experiences", json=experience(audience_id="nope")).status_code == 422
    assert admin.post("/api/experiences", json=experience(variations=[])).status_code == 422


def test_fixed_splits_are_sticky_and_weighted() -> None:
    weights = [("a", 1.0), ("b", 3.0)]
    picks = Counter(fixed_split("ws", "exp", f"user-{n}", weights) for n in range(10_000))
    assert abs(picks["b"] / 10_000 - 0.75) < 0.02
    assert all(
        fixed_split("ws", "exp", "user-7", weights) == fixed_split("ws", "exp", "user-7", weights)
        for _ in range(5)
    )
    # Another experience splits the same users independently.
    other = Counter(
        (
            fixed_split("ws", "exp", f"user-{n}", weights),
            fixed_split("ws", "exp2", f"user-{n}", weights),
        )
        for n in range(10_000)
    )
    assert abs(other[("b", "b")] / 10_000 - 0.75 * 0.75) < 0.02


def test_fetch_returns_the_users_variation(admin: httpx.Client, experiences: Experiences) -> None:
    created = admin.post("/api/experiences", json=experience()).json()
    got = experiences.for_user("u1", "hero")
    item = got["hero"]
    names = {v["id"]: v["name"] for v in created["variations"]}
    context = item["experience_context"]
    assert context["experience_key"] == "hero"
    assert context["experience_id"] == created["id"]
    assert context["variation_name"] == names[context["variation_id"]]
    assert context["policy"] == "fixed"
    assert item["payload"]["Title"]["data_type"] == "string"
    # Sticky: the same user, the same variation, every time.
    again = experiences.for_user("u1", "hero")["hero"]["experience_context"]
    assert again["variation_id"] == context["variation_id"]
    # The split over users follows the weights (1:3) within tolerance.
    shares = Counter(
        experiences.for_user(f"user-{n}", "hero")["hero"]["experience_context"]["variation_name"]
        for n in range(300)
    )
    assert 0.6 < shares["sale"] / 300 < 0.9


def test_unknown_keys_are_skipped_and_no_key_means_every_live_experience(
    admin: httpx.Client, experiences: Experiences
) -> None:
    admin.post("/api/experiences", json=experience("a"))
    admin.post("/api/experiences", json=experience("b"))
    admin.post("/api/experiences", json=experience("draft", status="draft"))
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    admin.post("/api/experiences", json=experience("future", starts_at=later))
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    admin.post(
        "/api/experiences",
        json=experience(
            "over", starts_at=(datetime.now(UTC) - timedelta(2)).isoformat(), ends_at=past
        ),
    )
    assert set(experiences.for_user("u", "a", "nope")) == {"a"}
    assert set(experiences.for_user("u")) == {"a", "b"}
    assert experiences.for_user("u", "draft", "future", "over") == {}
    admin.patch("/api/experiences/b", json={"status": "paused"})
    assert set(experiences.for_user("u")) == {"a"}


def test_audiences_and_session_attributes_decide_who_qualifies(
    admin: httpx.Client, experiences: Experiences, ingest: Ingest
) -> None:
    rule = {
        "all": [
            {"attribute": "profile.plan", "op": "eq", "value": "pro"},
            {"attribute": "session.utm_medium", "op": "eq", "value": "email"},
            {"attribute": "time.day_of_week", "op": "in", "value": ["Saturday", "Sunday"]},
        ]
    }
    audience = admin.post("/api/audiences", json={"name": "pro", "rule": rule}).json()
    admin.post("/api/experiences", json=experience(audience_id=audience["id"]))
    props = {"contact_id": "p1", "timestamp": time.time(), "user_properties": {"plan": "pro"}}
    assert ingest.aampe("/v1/properties", props).status_code == 202
    ingest.processed()
    weekend = {"utm_medium": "email", "DAY_OF_THE_WEEK": "Sunday"}
    got = experiences.for_user("p1", "hero", **weekend)
    assert got["hero"]["experience_context"]["audience_id"] == audience["id"]
    assert experiences.for_user("p1", "hero", utm_medium="email", DAY_OF_THE_WEEK="Monday") == {}
    assert experiences.for_user("p1", "hero", DAY_OF_THE_WEEK="Sunday") == {}
    assert experiences.for_user("stranger", "hero", **weekend) == {}


def test_users_known_by_email_are_resolved(
    admin: httpx.Client, experiences: Experiences, ingest: Ingest
) -> None:
    admin.patch("/api/workspace", json={"settings": {"resolve_by_email": True}})
    audience = admin.post(
        "/api/audiences",
        json={"name": "vip", "rule": {"attribute": "profile.vip", "op": "eq", "value": True}},
    ).json()
    admin.post("/api/experiences", json=experience(audience_id=audience["id"]))
    identify = {"external_id": "e1", "email": "Ann@Example.com", "data": {"vip": True}}
    assert ingest.client("identify", identify).status_code == 204
    ingest.processed()
    by_email = experiences.fetch({"identifiers": {"user_identifiers": {"u_em": "ann@example.com"}}})
    assert by_email.status_code == 200
    assert "hero" in by_email.json()["experiences"]
    unknown = experiences.fetch({"identifiers": {"user_identifiers": {"u_em": "x@example.com"}}})
    assert unknown.json()["experiences"] == {}


def test_optimize_allocation_learns(
    admin: httpx.Client, experiences: Experiences, ingest: Ingest
) -> None:
    admin.post("/api/experiences", json=experience(allocation="optimize", sticky_seconds=0))
    for n in range(40):
        user = f"o-{n % 10}"
        item = experiences.for_user(user, "hero")["hero"]
        context = item["experience_context"]
        assert context["policy"] == "agent"
        events = [
            {
                "contact_id": user,
                "event_name": "experience_impression",
                "timestamp": time.time(),
                "metadata": {"experience_context": context},
            }
        ]
        if context["variation_name"] == "sale":
            events.append(
                {"contact_id": user, "event_name": "purchase", "timestamp": time.time() + 1}
            )
        assert ingest.aampe("/v1/events", events).status_code == 202
        ingest.processed()
    report = admin.get("/api/experiences/hero/report").json()
    assert report["personalized"]["exposed"] == 40
    by_name = {v["name"]: v["personalized"] for v in report["variants"]}
    assert by_name["sale"]["conversions"] == by_name["sale"]["assignments"] > 0
    late = Counter(
        experiences.for_user(f"o-{n}", "hero")["hero"]["experience_context"]["variation_name"]
        for n in range(10)
    )
    assert late["sale"] >= 7, late


def test_auth_failures_and_the_workspace_header(
    admin: httpx.Client, experiences: Experiences, http: httpx.Client, workspace_factory: Any
) -> None:
    admin.post("/api/experiences", json=experience())
    body = {"identifiers": {"customer_id": "u"}}
    url = "/v1/experiences/fetch"
    ws = experiences.workspace
    headers = {"MOE-APPKEY": ws.id}
    assert http.post(url, json=body, headers=headers).status_code == 401
    wrong_secret = http.post(url, json=body, headers=headers, auth=(ws.id, "xk_nope_nope"))
    assert wrong_secret.status_code == 401
    wrong_kind = http.post(url, json=body, headers=headers, auth=(ws.id, ws.keys[KeyKind.INGEST]))
    assert wrong_kind.status_code == 403
    no_header = http.post(url, json=body, auth=(ws.id, ws.keys[KeyKind.PERSONALIZE]))
    assert no_header.status_code == 401
    mismatch = experiences.fetch(body, **{"MOE-APPKEY": "someone-else"})
    assert mismatch.status_code == 403
    assert mismatch.json()["error"]["code"] == "workspace_mismatch"
    other: Workspace = workspace_factory()
    crossed = http.post(
        url,
        json=body,
        headers={"MOE-APPKEY": other.id},
        auth=(other.id, ws.keys[KeyKind.PERSONALIZE]),
    )
    assert crossed.status_code == 403
    assert experiences.fetch({"identifiers": {}}).status_code == 422
    assert experiences.fetch({"experience_key": ["hero"]}).status_code == 422
    malformed = http.post(
        url,
        content=b"{",
        headers={**headers, "Content-Type": "application/json"},
        auth=(ws.id, ws.keys[KeyKind.PERSONALIZE]),
    )
    assert malformed.status_code == 400


def test_a_regenerated_secret_fails_at_once(admin: httpx.Client, experiences: Experiences) -> None:
    admin.post("/api/experiences", json=experience())
    ws = experiences.workspace
    assert experiences.for_user("u", "hero")
    key_id = ws.key_id(KeyKind.PERSONALIZE)
    rotated = admin.post(f"/api/api-keys/{key_id}/rotate")
    assert rotated.status_code == 200, rotated.text
    assert experiences.fetch({"identifiers": {"customer_id": "u"}}).status_code == 401
    ws.keys[KeyKind.PERSONALIZE] = rotated.json()["key"]
    assert experiences.for_user("u", "hero")


def test_the_content_api_does_not_serve_experiences(
    admin: httpx.Client, http: httpx.Client, workspace: Workspace
) -> None:
    created = admin.post("/api/experiences", json=experience()).json()
    response = http.get(
        "/v1/surface/content",
        params={"contact_id": "u", "surface_id": created["id"], "allow_unassigned": "true"},
        headers={"X-API-Key": workspace.keys[KeyKind.SURFACES]},
    )
    assert response.status_code == 404
