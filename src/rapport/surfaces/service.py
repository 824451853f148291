"""Managing surfaces and their variants (the Management API's view)."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.audiences import storage as audience_storage
from rapport.core.clock import from_timestamp
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.ids import uuid7
from rapport.core.pagination import Page, PageRequest, converted
from rapport.surfaces import storage
from rapport.surfaces.schemas import (
    SurfaceConfig,
    SurfaceCreate,
    SurfacePublic,
    SurfaceSummary,
    SurfaceUpdate,
    VariantCreate,
    VariantPublic,
    VariantUpdate,
)


def config_of(row: Any) -> SurfaceConfig:
    return msgspec.convert(row.config, SurfaceConfig)


def _variant_public(row: Any, default_id: str | None) -> VariantPublic:
    return VariantPublic(
        id=row.id,
        name=row.name,
        payload=row.payload,
        labels=row.labels,
        is_default=row.id == default_id,
        created_at=from_timestamp(row.created_at),
    )


def _public(row: Any, variant_rows: list[Any]) -> SurfacePublic:
    config = config_of(row)
    return SurfacePublic(
        id=row.id,
        name=row.name,
        description=row.description,
        status=row.status,
        control=config.control,
        reward=config.reward,
        audience_id=config.audience_id,
        default_variant_id=row.default_variant_id,
        variants=[_variant_public(v, row.default_variant_id) for v in variant_rows],
        created_at=from_timestamp(row.created_at),
        updated_at=from_timestamp(row.updated_at),
    )


def _check_audience(conn: Connection, workspace_id: str, audience_id: str | None) -> None:
    if audience_id is not None and not audience_storage.get_audiences(
        conn, workspace_id, [audience_id]
    ):
        raise ValidationFailed.single(
            ["body", "audience_id"], f"Audience {audience_id!r} does not exist", "value_error"
        )


def surfaces_using(conn: Connection, workspace_id: str, audience_id: str) -> list[str]:
    """Ids of the surfaces whose eligibility is this audience."""
    return [
        row.id
        for row in storage.all_surfaces(conn, workspace_id)
        if config_of(row).audience_id == audience_id
    ]


def _surface_row(conn: Connection, workspace_id: str, surface_id: str) -> Any:
    row = storage.get_surface(conn, workspace_id, surface_id)
    if row is None:
        raise NotFound(f"Surface {surface_id!r} does not exist", code="surface_not_found")
    return row


def _variant_row(workspace_id: str, surface_id: str, variant: VariantCreate, now: float) -> Any:
    return {
        "id": uuid7(),
        "workspace_id": workspace_id,
        "surface_id": surface_id,
        "name": variant.name,
        "payload": variant.payload,
        "labels": variant.labels,
        "created_at": now,
    }


def create_surface(conn: Connection, workspace_id: str, body: SurfaceCreate) -> SurfacePublic:
    defaults = [i for i, v in enumerate(body.variants) if v.default]
    if len(defaults) > 1:
        raise ValidationFailed.single(
            ["body", "variants", defaults[1], "default"], "Only one variant can be the default"
        )
    _check_audience(conn, workspace_id, body.audience_id)
    now = time.time()
    surface_id = uuid7()
    # Variants keep the order they were given in (they are listed by creation time).
    rows = [
        _variant_row(workspace_id, surface_id, v, now + index * 1e-6)
        for index, v in enumerate(body.variants)
    ]
    default_id = rows[defaults[0]]["id"] if defaults else (rows[0]["id"] if rows else None)
    config = SurfaceConfig(control=body.control, reward=body.reward, audience_id=body.audience_id)
    storage.insert_surface(
        conn,
        {
            "id": surface_id,
            "workspace_id": workspace_id,
            "name": body.name,
            "description": body.description,
            "status": body.status,
            "config": msgspec.to_builtins(config),
            "default_variant_id": default_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    storage.insert_variants(conn, rows)
    return get_surface(conn, workspace_id, surface_id)


def get_surface(conn: Connection, workspace_id: str, surface_id: str) -> SurfacePublic:
    row = _surface_row(conn, workspace_id, surface_id)
    return _public(row, storage.variants_of(conn, [row.id])[row.id])


def list_surfaces(conn: Connection, workspace_id: str, page: PageRequest) -> Page[SurfaceSummary]:
    found, counts = storage.list_surfaces(conn, workspace_id, page)
    return converted(
        found,
        lambda r: SurfaceSummary(
            id=r.id,
            name=r.name,
            status=r.status,
            n_variants=counts.get(r.id, 0),
            created_at=from_timestamp(r.created_at),
        ),
    )


def update_surface(
    conn: Connection, workspace_id: str, surface_id: str, body: SurfaceUpdate
) -> SurfacePublic:
    row = _surface_row(conn, workspace_id, surface_id)
    config = config_of(row)
    values: dict[str, Any] = {"updated_at": time.time()}
    for field in ("name", "description", "status"):
        value = getattr(body, field)
        if value is not msgspec.UNSET:
            values[field] = value
    if body.control is not msgspec.UNSET:
        changed = {
            k: v for k, v in msgspec.structs.asdict(body.control).items() if v is not msgspec.UNSET
        }
        config.control = msgspec.structs.replace(config.control, **changed)
    if body.reward is not msgspec.UNSET:
        config.reward = body.reward
    if body.audience_id is not msgspec.UNSET:
        _check_audience(conn, workspace_id, body.audience_id)
        config.audience_id = body.audience_id
    values["config"] = msgspec.to_builtins(config)
    storage.update_surface(conn, surface_id, values)
    return get_surface(conn, workspace_id, surface_id)


def delete_surface(conn: Connection, workspace_id: str, surface_id: str) -> None:
    """Remove a surface and its variants; its assignments stay for reports."""
    _surface_row(conn, workspace_id, surface_id)
    storage.delete_surface(conn, surface_id)


def add_variant(
    conn: Connection, workspace_id: str, surface_id: str, body: VariantCreate
) -> VariantPublic:
    surface = _surface_row(conn, workspace_id, surface_id)
    row = _variant_row(workspace_id, surface_id, body, time.time())
    storage.insert_variants(conn, [row])
    default_id = surface.default_variant_id
    if body.default or default_id is None:
        default_id = row["id"]
        storage.update_surface(
            conn, surface_id, {"default_variant_id": default_id, "updated_at": time.time()}
        )
    return _variant_public(storage.get_variant(conn, surface_id, row["id"]), default_id)


def update_variant(
    conn: Connection, workspace_id: str, surface_id: str, variant_id: str, body: VariantUpdate
) -> VariantPublic:
    surface = _surface_row(conn, workspace_id, surface_id)
    if storage.get_variant(conn, surface_id, variant_id) is None:
        raise NotFound(f"Variant {variant_id!r} does not exist", code="variant_not_found")
    values = {
        field: getattr(body, field)
        for field in ("name", "payload", "labels")
        if getattr(body, field) is not msgspec.UNSET
    }
    if values:
        storage.update_variant(conn, variant_id, values)
    default_id = surface.default_variant_id
    if body.default is True and default_id != variant_id:
        default_id = variant_id
        storage.update_surface(
            conn, surface_id, {"default_variant_id": variant_id, "updated_at": time.time()}
        )
    return _variant_public(storage.get_variant(conn, surface_id, variant_id), default_id)


def delete_variant(conn: Connection, workspace_id: str, surface_id: str, variant_id: str) -> None:
    surface = _surface_row(conn, workspace_id, surface_id)
    if storage.get_variant(conn, surface_id, variant_id) is None:
        raise NotFound(f"Variant {variant_id!r} does not exist", code="variant_not_found")
    if surface.default_variant_id == variant_id:
        raise Conflict(
            "This variant is the surface's default; make another variant the default first",
            code="default_variant",
        )
    storage.delete_variant(conn, variant_id)
