"""Management API conventions: headers, versions, pagination, error bodies."""

import gzip

import httpx
import pytest

from rapport.core.keys import KeyKind
from rapport.core.pagination import encode_cursor
from tests.conftest import Workspace


def test_workspace_can_be_read_and_patched(admin: httpx.Client, workspace: Workspace) -> None:
    got = admin.get("/api/workspace")
    assert got.status_code == 200
    assert got.json()["id"] == workspace.id
    assert got.json()["region"] == "us-east1"
    patched = admin.patch(
        "/api/workspace", json={"name": "Shop", "settings": {"attribution_window_hours": 24}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Shop"
    assert patched.json()["settings"]["attribution_window_hours"] == 24
    assert admin.get("/api/workspace").json()["settings"]["retention_days"] == 395


@pytest.mark.parametrize("version", [None, "", "2020-01-01", "latest"])
def test_missing_or_unknown_api_version_is_400_listing_supported(
    admin: httpx.Client, version: str | None
) -> None:
    del admin.headers["Api-Version"]
    if version is not None:
        admin.headers["Api-Version"] = version
    response = admin.get("/api/workspace")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_api_version"
    assert error["supported_versions"] == ["2026-11-01"]
    assert "2026-11-01" in error["message"]


def test_the_workspace_header_is_required(admin: httpx.Client) -> None:
    del admin.headers["Rapport-Workspace"]
    response = admin.get("/api/workspace")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_workspace"


def test_pagination_walks_250_items_in_pages_of_100(admin: httpx.Client) -> None:
    for n in range(245):  # plus the 5 the workspace starts with
        assert (
            admin.post("/api/api-keys", json={"kind": "ingest", "name": f"k{n}"}).status_code == 201
        )
    pages: list[list[str]] = []
    params: dict[str, str | int] = {"limit": 100, "with_total": "true"}
    while True:
        response = admin.get("/api/api-keys", params=params)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == 250
        pages.append([item["id"] for item in body["data"]])
        if "next_token" not in body:
            break
        params = {"limit": 100, "with_total": "true", "next_token": body["next_token"]}
        assert len(pages) < 10
    assert [len(page) for page in pages] == [100, 100, 50]
    ids = [i for page in pages for i in page]
    assert len(set(ids)) == 250


def test_total_is_left_out_unless_asked(admin: httpx.Client) -> None:
    body = admin.get("/api/api-keys", params={"limit": 2}).json()
    assert "total" not in body
    assert len(body["data"]) == 2
    assert "next_token" in body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"next_token": "garbage!"}, "next_token"),
        # Digits int() refuses although str.isdigit() admits them.
        ({"limit": "\u00b9"}, "limit"),
        ({"limit": "1\u00b2"}, "limit"),
        # Tokens this server issues, but for other lists (a profile's id, an event's
        # time and id): not a position among API keys.
        ({"next_token": encode_cursor("0192a3b4-0000-7000-8000-000000000000")}, "next_token"),
        ({"next_token": encode_cursor([1732000000.5, "evt-1"])}, "next_token"),
        ({"next_token": encode_cursor(["not a time", "key"])}, "next_token"),
        ({"next_token": encode_cursor(["a", "b", "c"])}, "next_token"),
    ],
)
def test_bad_page_parameters_are_422(
    admin: httpx.Client, params: dict[str, object], field: str
) -> None:
    response = admin.get("/api/api-keys", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_malformed_json_is_400(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/api-keys", content=b'{"kind": "ingest",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"kind": "superuser"}, ["body", "kind"]),
        ({"kind": "ingest", "name": ""}, ["body", "name"]),
        ({"kind": "ingest", "name": 5}, ["body", "name"]),
        ({"name": "x"}, ["body", "kind"]),
        ({"kind": "ingest", "scopes": []}, ["body", "scopes"]),
    ],
)
def test_a_bad_field_is_422_with_loc(
    admin: httpx.Client, body: dict[str, object], loc: list[str]
) -> None:
    response = admin.post("/api/api-keys", json=body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert error["msg"]
    assert error["type"]


def test_patch_validates_nested_settings(admin: httpx.Client) -> None:
    response = admin.patch("/api/workspace", json={"settings": {"retention_days": 0}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "settings", "retention_days"]
    response = admin.patch(
        "/api/workspace",
        json={"settings": {"event_categories": [{"pattern": "x", "category": "nope"}]}},
    )
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "settings",
        "event_categories",
        0,
        "category",
    ]
    assert admin.patch("/api/workspace", json={"region": "europe-west3"}).status_code == 422


def test_oversized_bodies_are_413(admin: httpx.Client) -> None:
    response = admin.post("/api/api-keys", json={"kind": "ingest", "name": "x" * 2_000_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_gzip_bomb_is_413_after_decompression(admin: httpx.Client) -> None:
    bomb = gzip.compress(b'{"kind": "ingest", "name": "' + b"x" * 3_000_000 + b'"}')
    assert len(bomb) < 100_000
    response = admin.post(
        "/api/api-keys",
        content=bomb,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_gzip_bodies_are_accepted(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/api-keys",
        content=gzip.compress(b'{"kind": "ingest", "name": "zipped"}'),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 201
    assert response.json()["name"] == "zipped"


def test_other_encodings_and_media_types_are_415(admin: httpx.Client) -> None:
    br = admin.post(
        "/api/api-keys",
        content=b"{}",
        headers={"Content-Encoding": "br", "Content-Type": "application/json"},
    )
    assert br.status_code == 415
    xml = admin.post(
        "/api/api-keys", content=b"<key/>", headers={"Content-Type": "application/xml"}
    )
    assert xml.status_code == 415
    assert xml.json()["error"]["code"] == "unsupported_media_type"


def test_broken_gzip_is_400(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/api-keys",
        content=b"not gzip at all",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_unknown_paths_and_methods_have_error_bodies(admin: httpx.Client) -> None:
    missing = admin.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = admin.put("/api/api-keys")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"


def test_unknown_key_ids_are_404(admin: httpx.Client) -> None:
    response = admin.post("/api/api-keys/doesnotexist/rotate")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "api_key_not_found"


def test_a_revoked_key_cannot_be_rotated_409(admin: httpx.Client, workspace: Workspace) -> None:
    key_id = workspace.key_id(KeyKind.PUBLIC)
    assert admin.delete(f"/api/api-keys/{key_id}").status_code == 204
    response = admin.post(f"/api/api-keys/{key_id}/rotate")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "api_key_revoked"
