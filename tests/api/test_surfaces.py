"""Surfaces and variants through the Management API."""

from __future__ import annotations

from typing import Any

import httpx

from rapport.core.keys import KeyKind
from tests.conftest import (
    ThreadedServer,
    Workspace,
    access_token,
    management_headers,
)


def surface_body(**changes: Any) -> dict[str, Any]:
    """A surface with three variants on two dimensions; the first is the default."""
    body: dict[str, Any] = {
        "name": "home hero",
        "description": "The banner on the home screen",
        "control": {"min_gap_days": 0, "holdout_percent": 0, "sticky_seconds": 0},
        "variants": [
            {
                "name": "plain",
                "payload": {"title": "Hello"},
                "labels": {"tone": "calm"},
                "default": True,
            },
            {
                "name": "urgent discount",
                "payload": {"title": "Last chance: -20%"},
                "labels": {"tone": "urgent", "offering": "discount"},
            },
            {
                "name": "calm discount",
                "payload": {"title": "Take 20% off"},
                "labels": {"tone": "calm", "offering": "discount"},
            },
        ],
    }
    body.update(changes)
    return body


def test_create_read_update_and_list_surfaces(admin: httpx.Client) -> None:
    created = admin.post("/api/surfaces", json=surface_body())
    assert created.status_code == 201, created.text
    surface = created.json()
    assert surface["name"] == "home hero"
    assert surface["control"] == {"min_gap_days": 0.0, "holdout_percent": 0.0, "sticky_seconds": 0}
    assert surface["reward"]["categories"] == ["conversion"]
    assert [v["is_default"] for v in surface["variants"]] == [True, False, False]
    assert surface["default_variant_id"] == surface["variants"][0]["id"]

    fetched = admin.get(f"/api/surfaces/{surface['id']}")
    assert fetched.json() == surface

    patched = admin.patch(
        f"/api/surfaces/{surface['id']}",
        json={"status": "paused", "control": {"holdout_percent": 20}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "paused"
    assert patched.json()["control"]["holdout_percent"] == 20.0
    assert patched.json()["control"]["sticky_seconds"] == 0  # left as it was

    for n in range(3):
        assert admin.post("/api/surfaces", json=surface_body(name=f"s{n}")).status_code == 201
    first = admin.get("/api/surfaces", params={"limit": 2, "with_total": "true"}).json()
    assert first["total"] == 4
    assert len(first["data"]) == 2
    second = admin.get("/api/surfaces", params={"limit": 2, "next_token": first["next_token"]})
    assert len(second.json()["data"]) == 2
    assert "next_token" not in second.json()
    names = [s["name"] for s in first["data"] + second.json()["data"]]
    assert names == ["home hero", "s0", "s1", "s2"]
    assert first["data"][0]["n_variants"] == 3


def test_variants_can_be_added_changed_and_removed(admin: httpx.Client) -> None:
    surface = admin.post("/api/surfaces", json=surface_body()).json()
    base = f"/api/surfaces/{surface['id']}/variants"
    added = admin.post(base, json={"name": "new", "labels": {"tone": "playful"}})
    assert added.status_code == 201, added.text
    variant = added.json()
    assert variant["is_default"] is False
    changed = admin.patch(f"{base}/{variant['id']}", json={"default": True, "payload": {"x": 1}})
    assert changed.json()["is_default"] is True
    assert changed.json()["payload"] == {"x": 1}
    # The default cannot go; another variant can.
    refused = admin.delete(f"{base}/{variant['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "default_variant"
    old_default = surface["variants"][0]["id"]
    assert admin.delete(f"{base}/{old_default}").status_code == 204
    remaining = admin.get(f"/api/surfaces/{surface['id']}").json()["variants"]
    assert old_default not in [v["id"] for v in remaining]
    assert admin.delete(f"{base}/{old_default}").status_code == 404
    assert admin.delete(f"/api/surfaces/{surface['id']}").status_code == 204
    assert admin.get(f"/api/surfaces/{surface['id']}").status_code == 404


def test_invalid_surfaces_get_422_with_the_location(admin: httpx.Client) -> None:
    two_defaults = surface_body()
    two_defaults["variants"][1]["default"] = True
    response = admin.post("/api/surfaces", json=two_defaults)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "variants", 1, "default"]

    bad_holdout = admin.post("/api/surfaces", json=surface_body(control={"holdout_percent": 101}))
    assert bad_holdout.status_code == 422
    assert bad_holdout.json()["detail"][0]["loc"] == ["body", "control", "holdout_percent"]

    bad_label = surface_body()
    bad_label["variants"][0]["labels"] = {"tone": 5}
    response = admin.post("/api/surfaces", json=bad_label)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "variants", 0]

    unknown = admin.post("/api/surfaces", json=surface_body(colour="red"))
    assert unknown.status_code == 422

    malformed = admin.post(
        "/api/surfaces", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400


def test_another_workspace_cannot_see_or_change_a_surface(
    admin: httpx.Client, server: ThreadedServer, workspace_factory: Any
) -> None:
    surface = admin.post("/api/surfaces", json=surface_body()).json()
    other: Workspace = workspace_factory()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        token = access_token(client, other.keys[KeyKind.ADMIN])
        client.headers.update(management_headers(token, other.id))
        assert client.get(f"/api/surfaces/{surface['id']}").status_code == 404
        assert client.patch(f"/api/surfaces/{surface['id']}", json={"name": "x"}).status_code == 404
        assert client.delete(f"/api/surfaces/{surface['id']}").status_code == 404
        assert client.get(f"/api/surfaces/{surface['id']}/report").status_code == 404
        assert client.get("/api/surfaces").json()["data"] == []
    assert admin.get(f"/api/surfaces/{surface['id']}").json()["name"] == "home hero"
