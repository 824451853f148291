"""The Segment Tracking API: ``/v1/{batch,track,identify,alias,page,screen,group}``.

Follows the Segment spec: ``messageId`` is the idempotency key; when ``sentAt`` is
given, ``timestamp = receivedAt - (sentAt - timestamp)`` corrects the device's clock;
32 KB per message and 500 KB per batch.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from rapport.api.validation import decode_json
from rapport.core.errors import PayloadTooLarge, ValidationFailed
from rapport.ingest import messages as msg
from rapport.ingest.timestamps import parse_iso, skew_corrected

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
TYPES = ("track", "identify", "alias", "page", "screen", "group")

Id = str | int | None


class SegmentMessage(msgspec.Struct, kw_only=True):
    """Any Segment call; which fields are required depends on ``type``."""

    type: str | None = None
    messageId: str | None = None
    userId: Id = None
    anonymousId: Id = None
    event: str | None = None
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    timestamp: str | None = None
    originalTimestamp: str | None = None
    sentAt: str | None = None
    previousId: Id = None
    groupId: Id = None
    integrations: dict[str, Any] | None = None


class SegmentBatch(msgspec.Struct, kw_only=True):
    batch: list[msgspec.Raw]
    sentAt: str | None = None
    context: dict[str, Any] | None = None


class Success(msgspec.Struct):
    success: bool = True


def _text(value: Id) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:255] or None


def _time(value: str | None, loc: list[str | int]) -> float | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise ValidationFailed.single(loc, "Not an ISO 8601 timestamp", "value_error") from None


def _missing(loc: list[str | int], field: str, why: str = "Field required") -> ValidationFailed:
    return ValidationFailed.single([*loc, field], why, "missing")


def convert(
    message: SegmentMessage,
    kind: str,
    loc: list[str | int],
    received_at: float,
    batch_sent_at: float | None = None,
    batch_context: dict[str, Any] | None = None,
) -> msg.Message:
    """One Segment call as a canonical message (422 on a missing required field)."""
    if kind not in TYPES:
        raise ValidationFailed.single([*loc, "type"], f"type must be one of {', '.join(TYPES)}")
    user_id, anonymous_id = _text(message.userId), _text(message.anonymousId)
    stamp = _time(message.timestamp, [*loc, "timestamp"])
    if stamp is None:
        stamp = _time(message.originalTimestamp, [*loc, "originalTimestamp"])
    sent_at = _time(message.sentAt, [*loc, "sentAt"]) or batch_sent_at
    occurred = received_at if stamp is None else skew_corrected(stamp, sent_at, received_at)
    context = {**(batch_context or {}), **(message.context or {})}
    timezone = context.get("timezone") if isinstance(context.get("timezone"), str) else None
    locale = context.get("locale") if isinstance(context.get("locale"), str) else None

    if kind == "alias":
        previous = _text(message.previousId)
        if previous is None:
            raise _missing(loc, "previousId")
        if user_id is None:
            raise _missing(loc, "userId")
        return msg.Alias(
            anonymous_id=previous, external_id=user_id, occurred_at=occurred, source="segment"
        )
    if user_id is None and anonymous_id is None:
        raise _missing(loc, "userId", "userId or anonymousId is required")
    if kind in {"identify", "group"}:
        traits = dict(message.traits or {})
        if kind == "identify" and isinstance(context.get("traits"), dict):
            # RudderStack's clients send identify traits in context.traits only.
            traits = {**context["traits"], **traits}
        if kind == "group":
            group_id = _text(message.groupId)
            if group_id is None:
                raise _missing(loc, "groupId")
            traits = {"group_id": group_id, "group_traits": traits}
        email, phone = traits.get("email"), traits.get("phone")
        return msg.Identify(
            occurred_at=occurred,
            external_id=user_id,
            anonymous_id=anonymous_id,
            email=email if isinstance(email, str) else None,
            phone=phone if isinstance(phone, str) else None,
            timezone=timezone,
            locale=locale,
            traits=traits,
            source="segment",
        )
    properties = dict(message.properties or {})
    if kind == "track":
        if not message.event:
            raise _missing(loc, "event")
        name = message.event[:255]
    else:
        name = "Page Viewed" if kind == "page" else "Screen Viewed"
        if message.name is not None:
            properties.setdefault("name", message.name)
        if message.category is not None:
            properties.setdefault("category", message.category)
    return msg.Track(
        event_id=(message.messageId or "")[:255] or msg.new_event_id(),
        name=name,
        occurred_at=occurred,
        external_id=user_id,
        anonymous_id=anonymous_id,
        timezone=timezone,
        properties=properties,
        context=context,
        locale=locale,
        source="segment",
    )


def single(body: bytes, kind: str) -> list[msg.Message]:
    """A ``/v1/<type>`` call."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"A message may not exceed {MAX_MESSAGE_BYTES} bytes")
    message: SegmentMessage = decode_json(body, SegmentMessage)
    return [convert(message, kind, ["body"], time.time())]


def batch(body: bytes) -> list[msg.Message]:
    """A ``/v1/batch`` call: every message is checked before any is accepted."""
    parsed: SegmentBatch = decode_json(body, SegmentBatch)
    received = time.time()
    sent_at = _time(parsed.sentAt, ["body", "sentAt"])
    out: list[msg.Message] = []
    for index, raw in enumerate(parsed.batch):
        loc: list[str | int] = ["body", "batch", index]
        if len(raw) > MAX_MESSAGE_BYTES:
            raise PayloadTooLarge(f"Message {index} of the batch exceeds {MAX_MESSAGE_BYTES} bytes")
        message: SegmentMessage = decode_json(bytes(raw), SegmentMessage, loc)
        if message.type is None:
            raise _missing(loc, "type")
        out.append(convert(message, message.type, loc, received, sent_at, parsed.context))
    return out
