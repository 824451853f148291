"""Managing audiences: named rule trees, validated on save, sized on demand."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.audiences import rules, storage
from rapport.audiences.schemas import (
    AudienceCreate,
    AudiencePublic,
    AudienceUpdate,
)
from rapport.core.clock import from_timestamp
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.ids import uuid7
from rapport.core.pagination import Page, PageRequest, converted


def _public(row: Any) -> AudiencePublic:
    return AudiencePublic(
        id=row.id,
        name=row.name,
        description=row.description,
        rule=row.rule,
        created_at=from_timestamp(row.created_at),
        updated_at=from_timestamp(row.updated_at),
    )


def validated(rule: object, loc: list[str | int]) -> rules.Rule:
    """The parsed rule, or a 422 pointing inside it."""
    try:
        return rules.parse_rule(rule)
    except rules.RuleError as error:
        raise ValidationFailed.single([*loc, *error.loc], error.msg) from None


def _row(conn: Connection, workspace_id: str, audience_id: str) -> Any:
    row = storage.get_audience(conn, workspace_id, audience_id)
    if row is None:
        raise NotFound(f"Audience {audience_id!r} does not exist", code="audience_not_found")
    return row


def create_audience(conn: Connection, workspace_id: str, body: AudienceCreate) -> AudiencePublic:
    validated(body.rule, ["body", "rule"])
    now = time.time()
    audience_id = uuid7()
    storage.insert_audience(
        conn,
        {
            "id": audience_id,
            "workspace_id": workspace_id,
            "name": body.name,
            "description": body.description,
            "rule": body.rule,
            "created_at": now,
            "updated_at": now,
        },
    )
    return _public(_row(conn, workspace_id, audience_id))


def get_audience(conn: Connection, workspace_id: str, audience_id: str) -> AudiencePublic:
    return _public(_row(conn, workspace_id, audience_id))


def list_audiences(conn: Connection, workspace_id: str, page: PageRequest) -> Page[AudiencePublic]:
    return converted(storage.list_audiences(conn, workspace_id, page), _public)


def update_audience(
    conn: Connection, workspace_id: str, audience_id: str, body: AudienceUpdate
) -> AudiencePublic:
    _row(conn, workspace_id, audience_id)
    values: dict[str, Any] = {"updated_at": time.time()}
    if body.rule is not msgspec.UNSET:
        validated(body.rule, ["body", "rule"])
        values["rule"] = body.rule
    for field in ("name", "description"):
        value = getattr(body, field)
        if value is not msgspec.UNSET:
            values[field] = value
    storage.update_audience(conn, audience_id, values)
    return _public(_row(conn, workspace_id, audience_id))


def delete_audience(conn: Connection, workspace_id: str, audience_id: str) -> None:
    """Delete an audience no surface depends on (409 names the ones that do)."""
    from rapport.experiences.storage import all_experiences
    from rapport.surfaces.service import surfaces_using

    _row(conn, workspace_id, audience_id)
    users = surfaces_using(conn, workspace_id, audience_id)
    users += [
        f"experience {row.key}"
        for row in all_experiences(conn, workspace_id)
        if row.audience_id == audience_id
    ]
    if users:
        raise Conflict(
            f"Audience {audience_id!r} decides eligibility for {', '.join(users)}; "
            "remove it from them first",
            code="audience_in_use",
        )
    storage.delete_audience(conn, audience_id)
