"""The canonical messages every dialect is translated into.

They are what the inbox stores (msgspec JSON) and what processing consumes; a dialect
module's only job is to validate its request and produce these.
"""

from __future__ import annotations

from typing import Any

import msgspec

from rapport.core.ids import uuid7


class Track(msgspec.Struct, tag="track", omit_defaults=True, kw_only=True):
    """Something a user did."""

    event_id: str
    name: str
    occurred_at: float
    external_id: str | None = None
    anonymous_id: str | None = None
    timezone: str | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    source: str
    # Profile data sent along with the event (Aampe properties, Parcelvoy inline user).
    traits: dict[str, Any] | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None


class Identify(msgspec.Struct, tag="identify", omit_defaults=True, kw_only=True):
    """Who a user is: identifiers and traits."""

    occurred_at: float
    external_id: str | None = None
    anonymous_id: str | None = None
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    locale: str | None = None
    traits: dict[str, Any] = msgspec.field(default_factory=dict)
    source: str


class Alias(msgspec.Struct, tag="alias", kw_only=True):
    """An anonymous visitor turned out to be a known user: merge the two."""

    anonymous_id: str
    external_id: str
    occurred_at: float
    source: str


class Device(msgspec.Struct, tag="device", omit_defaults=True, kw_only=True):
    """A device of a user, with its push token."""

    device_id: str
    occurred_at: float
    external_id: str | None = None
    anonymous_id: str | None = None
    token: str | None = None
    os: str | None = None
    os_version: str | None = None
    model: str | None = None
    app_build: str | None = None
    app_version: str | None = None
    source: str


class Learn(msgspec.Struct, tag="learn", kw_only=True):
    """Evidence for the agents: the trials that decisions counted.

    Decisions queue it rather than write it, so the Content API's transaction stays one
    small insert and processing applies the evidence exactly once, summed per batch.
    Each increment is ``(scope, dimension, label, trials, successes)``.
    """

    increments: list[tuple[str, str, str, float, float]]
    occurred_at: float
    source: str = "decide"


Message = Track | Identify | Alias | Device
# What the inbox holds: what users did, and evidence for the agents.
Queued = Message | Learn

encoder = msgspec.json.Encoder()
decoder = msgspec.json.Decoder(Queued)


def new_event_id() -> str:
    """An id for events whose sender gave none (they cannot be deduplicated)."""
    return uuid7()


def message_id(message: Queued) -> str | None:
    """The idempotency key a message is stored under, if it has one."""
    return message.event_id if isinstance(message, Track) else None
