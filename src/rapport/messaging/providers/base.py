"""What every provider implements, and the outcomes the orchestrator acts on.

Providers never retry on their own: they map one attempt's answer to an ``Outcome``
and the orchestrator, which keeps its state in the database, decides what happens
next (retry later, retire a token, record a failure). That way a retry survives a
restart and every attempt is accounted for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """How one attempt ended, from the orchestrator's point of view."""

    SENT = "sent"  # accepted by the provider
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (an outcome name) unregistered or malformed device token: retire it
    RATE_LIMITED = "rate_limited"  # try again after ``retry_after`` (or a backoff)
    TRANSIENT = "transient"  # provider or network trouble: retry with backoff, bounded
    PERMANENT = "permanent"  # will never succeed as is (bad payload, bad credentials)


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One rendered message for one recipient.

    ``send_id`` is the idempotency key: providers pass it on where the protocol has a
    place for it (APNs ``apns-id`` and collapse id, FCM data and collapse key, the
    webhook's ``Idempotency-Key``), so a retry after a crash collapses into one
    notification on the device.
    """

    send_id: str
    campaign_id: str
    title: str
    body: str
    deep_link: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)
    ttl_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who receives it: the profile, and the device when the channel is a push token."""

    profile_id: str
    external_id: str | None = None
    device_id: str | None = None
    token: str | None = None
    platform: str | None = None  # "ios", "android", "web", ... as the device reported
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """One attempt's result: its outcome and what the provider said."""

    outcome: Outcome
    provider_message_id: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After when the provider gave it
    code: str | None = None  # the provider's own error code, e.g. "Unregistered"
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SENT


class Provider(Protocol):
    """A configured provider of one workspace, ready to send."""

    kind: str
    # Push providers need a device token; the webhook and log providers do not.
    needs_token: bool

    async def send(self, message: PushMessage, recipient: Recipient) -> SendResult:
        """Attempt one delivery; never raises for a provider's answer or a network error."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
