"""Managing experiences (the Management API's view)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.audiences import storage as audience_storage
from rapport.core.clock import from_timestamp, from_timestamp_or_none
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.ids import uuid7
from rapport.core.pagination import Page, PageRequest, converted
from rapport.experiences import storage
from rapport.experiences.schemas import (
    ExperienceConfig,
    ExperienceCreate,
    ExperiencePublic,
    ExperienceUpdate,
    TypedValue,
    Variation,
    VariationCreate,
)

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "json": (dict, list),
}


def _check_value(field: TypedValue, loc: list[str | int]) -> None:
    """A value must be of its declared type (booleans are not numbers)."""
    expected = _TYPES[field.data_type]
    value = field.value
    if not isinstance(value, expected) or (field.data_type == "number" and isinstance(value, bool)):
        raise ValidationFailed.single(
            [*loc, "value"], f"Expected a {field.data_type} value", "type_error"
        )


def _variations(
    given: list[VariationCreate], previous: list[Variation] | None = None
) -> list[Variation]:
    names = {v.name: v.id for v in previous or []}
    for index, variation in enumerate(given):
        for name, field in variation.payload.items():
            _check_value(field, ["body", "variations", index, "payload", name])
    if len({v.name for v in given}) != len(given):
        raise ValidationFailed.single(["body", "variations"], "Variation names must be unique")
    if sum(v.weight for v in given) <= 0:
        raise ValidationFailed.single(["body", "variations"], "At least one weight must be > 0")
    return [
        Variation(
            id=names.get(v.name) or uuid7(),
            name=v.name,
            payload=v.payload,
            weight=v.weight,
            labels=dict(v.labels),
        )
        for v in given
    ]


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _check_schedule(starts: float | None, ends: float | None) -> None:
    if starts is not None and ends is not None and ends <= starts:
        raise ValidationFailed.single(["body", "ends_at"], "ends_at must be after starts_at")


def _check_audience(conn: Connection, workspace_id: str, audience_id: str | None) -> None:
    if audience_id is not None and not audience_storage.get_audiences(
        conn, workspace_id, [audience_id]
    ):
        raise ValidationFailed.single(
            ["body", "audience_id"], f"Audience {audience_id!r} does not exist"
        )


def variations_of(row: Any) -> list[Variation]:
    return msgspec.convert(row.variations, list[Variation])


def config_of(row: Any) -> ExperienceConfig:
    return msgspec.convert(row.config, ExperienceConfig)


def public(row: Any) -> ExperiencePublic:
    config = config_of(row)
    return ExperiencePublic(
        id=row.id,
        key=row.key,
        name=row.name,
        status=row.status,
        starts_at=from_timestamp_or_none(row.starts_at),
        ends_at=from_timestamp_or_none(row.ends_at),
        audience_id=row.audience_id,
        allocation=config.allocation,
        holdout_percent=config.holdout_percent,
        sticky_seconds=config.sticky_seconds,
        reward=config.reward,
        variations=variations_of(row),
        created_at=from_timestamp(row.created_at),
        updated_at=from_timestamp(row.updated_at),
    )


def experience_row(conn: Connection, workspace_id: str, key: str) -> Any:
    row = storage.get_by_key(conn, workspace_id, key)
    if row is None:
        raise NotFound(f"Experience {key!r} does not exist", code="experience_not_found")
    return row


def create_experience(
    conn: Connection, workspace_id: str, body: ExperienceCreate
) -> ExperiencePublic:
    if storage.get_by_key(conn, workspace_id, body.key) is not None:
        raise Conflict(f"Experience {body.key!r} exists already", code="experience_exists")
    starts, ends = _epoch(body.starts_at), _epoch(body.ends_at)
    _check_schedule(starts, ends)
    _check_audience(conn, workspace_id, body.audience_id)
    config = ExperienceConfig(
        allocation=body.allocation,
        holdout_percent=body.holdout_percent,
        sticky_seconds=body.sticky_seconds,
        reward=body.reward,
    )
    now = time.time()
    storage.insert_experience(
        conn,
        {
            "id": uuid7(),
            "workspace_id": workspace_id,
            "key": body.key,
            "name": body.name,
            "status": body.status,
            "starts_at": starts,
            "ends_at": ends,
            "audience_id": body.audience_id,
            "config": msgspec.to_builtins(config),
            "variations": msgspec.to_builtins(_variations(body.variations)),
            "created_at": now,
            "updated_at": now,
        },
    )
    return public(experience_row(conn, workspace_id, body.key))


def get_experience(conn: Connection, workspace_id: str, key: str) -> ExperiencePublic:
    return public(experience_row(conn, workspace_id, key))


def list_experiences(
    conn: Connection, workspace_id: str, page: PageRequest
) -> Page[ExperiencePublic]:
    return converted(storage.list_experiences(conn, workspace_id, page), public)


def update_experience(
    conn: Connection, workspace_id: str, key: str, body: ExperienceUpdate
) -> ExperiencePublic:
    row = experience_row(conn, workspace_id, key)
    values: dict[str, Any] = {"updated_at": time.time()}
    for name in ("name", "status"):
        value = getattr(body, name)
        if value is not msgspec.UNSET:
            values[name] = value
    starts = row.starts_at if body.starts_at is msgspec.UNSET else _epoch(body.starts_at)
    ends = row.ends_at if body.ends_at is msgspec.UNSET else _epoch(body.ends_at)
    _check_schedule(starts, ends)
    values["starts_at"], values["ends_at"] = starts, ends
    if body.audience_id is not msgspec.UNSET:
        _check_audience(conn, workspace_id, body.audience_id)
        values["audience_id"] = body.audience_id
    config = config_of(row)
    for name in ("allocation", "holdout_percent", "sticky_seconds", "reward"):
        value = getattr(body, name)
        if value is not msgspec.UNSET:
            setattr(config, name, value)
    values["config"] = msgspec.to_builtins(config)
    if body.variations is not msgspec.UNSET:
        values["variations"] = msgspec.to_builtins(_variations(body.variations, variations_of(row)))
    storage.update_experience(conn, row.id, values)
    return public(experience_row(conn, workspace_id, key))


def delete_experience(conn: Connection, workspace_id: str, key: str) -> None:
    """Remove an experience; its assignments stay for reports."""
    storage.delete_experience(conn, experience_row(conn, workspace_id, key).id)
