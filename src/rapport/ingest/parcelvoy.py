"""The Parcelvoy-compatible Client API: ``/api/client/{alias,identify,devices,events}``."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from rapport.core.errors import ValidationFailed
from rapport.ingest import messages as msg
from rapport.ingest.common import check_timezone, require_identity
from rapport.ingest.timestamps import from_epoch, parse_iso

Id = Annotated[str, Meta(min_length=1, max_length=255)]
Short = Annotated[str, Meta(max_length=255)]


class ClientAlias(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    anonymous_id: Id
    external_id: Id


class ClientIdentify(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    anonymous_id: Id | None = None
    external_id: Id | None = None
    email: Short | None = None
    phone: Short | None = None
    timezone: Short | None = None
    locale: Short | None = None
    data: dict[str, Any] | None = None


class ClientDevice(msgspec.Struct, kw_only=True):
    device_id: Id
    os: Short
    model: Short
    app_build: Short
    app_version: Short
    anonymous_id: Id | None = None
    external_id: Id | None = None
    token: Annotated[str, Meta(max_length=4096)] | None = None
    os_version: Short | None = None


class ClientEventUser(msgspec.Struct, kw_only=True):
    email: Short | None = None
    phone: Short | None = None
    timezone: Short | None = None
    locale: Short | None = None
    data: dict[str, Any] | None = None


class ClientEvent(msgspec.Struct, kw_only=True):
    name: Id
    anonymous_id: Id | None = None
    external_id: Id | None = None
    data: dict[str, Any] | None = None
    user: ClientEventUser | None = None
    # Extensions: an idempotency key and the time the event happened.
    event_id: Id | None = None
    created_at: str | float | None = None


ClientEvents = Annotated[list[ClientEvent], Meta(min_length=1)]


def alias(body: ClientAlias) -> msg.Alias:
    return msg.Alias(
        anonymous_id=body.anonymous_id,
        external_id=body.external_id,
        occurred_at=time.time(),
        source="parcelvoy",
    )


def identify(body: ClientIdentify) -> msg.Identify:
    require_identity(body.external_id, body.anonymous_id, ["body"])
    check_timezone(body.timezone, ["body", "timezone"])
    return msg.Identify(
        occurred_at=time.time(),
        external_id=body.external_id,
        anonymous_id=body.anonymous_id,
        email=body.email,
        phone=body.phone,
        timezone=body.timezone,
        locale=body.locale,
        traits=body.data or {},
        source="parcelvoy",
    )


def device(body: ClientDevice) -> msg.Device:
    require_identity(body.external_id, body.anonymous_id, ["body"])
    return msg.Device(
        device_id=body.device_id,
        occurred_at=time.time(),
        external_id=body.external_id,
        anonymous_id=body.anonymous_id,
        token=body.token,
        os=body.os,
        os_version=body.os_version,
        model=body.model,
        app_build=body.app_build,
        app_version=body.app_version,
        source="parcelvoy",
    )


def _created_at(value: str | float | None, loc: list[str | int], now: float) -> float:
    if value is None:
        return now
    if isinstance(value, (int, float)):
        return from_epoch(value)
    try:
        return parse_iso(value)
    except ValueError:
        raise ValidationFailed.single(loc, "created_at must be ISO 8601 or epoch seconds") from None


def events(body: list[ClientEvent]) -> list[msg.Message]:
    now = time.time()
    out: list[msg.Message] = []
    for index, item in enumerate(body):
        loc: list[str | int] = ["body", index]
        require_identity(item.external_id, item.anonymous_id, loc)
        user = item.user
        if user is not None:
            check_timezone(user.timezone, [*loc, "user", "timezone"])
        out.append(
            msg.Track(
                event_id=item.event_id or msg.new_event_id(),
                name=item.name,
                occurred_at=_created_at(item.created_at, [*loc, "created_at"], now),
                external_id=item.external_id,
                anonymous_id=item.anonymous_id,
                timezone=user.timezone if user else None,
                properties=item.data or {},
                source="parcelvoy",
                traits=user.data if user and user.data else None,
                email=user.email if user else None,
                phone=user.phone if user else None,
                locale=user.locale if user else None,
            )
        )
    return out
