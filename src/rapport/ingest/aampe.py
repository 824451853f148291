"""The Aampe-compatible Ingestion API: ``POST /v1/events`` and ``POST /v1/properties``."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from rapport.ingest import messages as msg
from rapport.ingest.common import check_timezone
from rapport.ingest.timestamps import from_epoch

NonEmpty = Annotated[str, Meta(min_length=1, max_length=255)]
Epoch = Annotated[float, Meta(ge=0)]


class AampeEvent(msgspec.Struct, kw_only=True):
    """One event: ``timestamp`` is Unix epoch seconds (decimals or milliseconds accepted)."""

    contact_id: NonEmpty
    event_name: NonEmpty
    timestamp: Epoch
    timezone: str = "UTC"
    event_id: Annotated[str, Meta(min_length=1, max_length=255)] | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class AampeProperties(msgspec.Struct, kw_only=True):
    """A property update for a contact, recorded as an event too."""

    contact_id: NonEmpty
    timestamp: Epoch
    user_properties: dict[str, Any]
    event_name: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    event_id: Annotated[str, Meta(min_length=1, max_length=255)] | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class Accepted(msgspec.Struct):
    """202: how many items were accepted (and durably stored)."""

    accepted: int


EventsBody = AampeEvent | list[AampeEvent]
PropertiesBody = AampeProperties | list[AampeProperties]


def _content_id(*parts: Any) -> str:
    # Senders that omit event_id still get idempotent retries: the same contact, name,
    # time and metadata make the same id.
    digest = hashlib.sha256(msgspec.json.encode(parts)).hexdigest()[:32]
    return f"h-{digest}"


def events(body: EventsBody) -> list[msg.Message]:
    items = body if isinstance(body, list) else [body]
    out: list[msg.Message] = []
    for index, item in enumerate(items):
        loc: list[str | int] = ["body", index] if isinstance(body, list) else ["body"]
        check_timezone(item.timezone, [*loc, "timezone"])
        occurred = from_epoch(item.timestamp)
        out.append(
            msg.Track(
                event_id=item.event_id
                or _content_id(item.contact_id, item.event_name, occurred, item.metadata),
                name=item.event_name,
                occurred_at=occurred,
                external_id=item.contact_id,
                timezone=item.timezone,
                properties=item.metadata,
                source="aampe",
            )
        )
    return out


def properties(body: PropertiesBody) -> list[msg.Message]:
    items = body if isinstance(body, list) else [body]
    out: list[msg.Message] = []
    for item in items:
        name = (
            f"aampe_property_update_{item.event_name}"
            if item.event_name
            else "aampe_property_update"
        )
        occurred = from_epoch(item.timestamp)
        out.append(
            msg.Track(
                event_id=item.event_id
                or _content_id(item.contact_id, name, occurred, item.user_properties),
                name=name,
                occurred_at=occurred,
                external_id=item.contact_id,
                properties={**item.metadata, "user_properties": item.user_properties},
                traits=item.user_properties,
                source="aampe",
            )
        )
    return out
