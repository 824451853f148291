"""Shapes of providers that cross the API boundary, one settings/credentials pair per
kind. Settings may be shown again; credentials are write-only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Url = Annotated[str, Meta(min_length=8, max_length=2000, pattern=r"^https?://[^\s/]+")]
HttpsUrl = Annotated[str, Meta(min_length=9, max_length=2000, pattern=r"^https://[^\s/]+")]
AppleId = Annotated[str, Meta(pattern=r"^[A-Z0-9]{10}$", description="10 characters, A-Z 0-9")]
BundleId = Annotated[str, Meta(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.\-]+$")]
Text = Annotated[str, Meta(max_length=4000)]
Kind = Literal["fcm", "apns", "webhook", "log"]


class FcmSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """``project_id`` defaults to the service account's; ``endpoint`` replaces
    ``https://fcm.googleapis.com`` (a self-hosted gateway, tests)."""

    project_id: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    endpoint: HttpsUrl | None = None


class FcmCredentials(Struct, forbid_unknown_fields=True, kw_only=True):
    """The service-account JSON file, as an object or as its text."""

    service_account: dict[str, Any] | str


class ApnsSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    team_id: AppleId
    key_id: AppleId
    bundle_id: BundleId
    environment: Literal["production", "sandbox"] = "production"
    priority: Literal[5, 10] = 10
    endpoint: HttpsUrl | None = None


class ApnsCredentials(Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``.p8`` key file's text (an EC P-256 private key in PEM)."""

    private_key: Annotated[str, Meta(min_length=1, max_length=10_000)]


class WebhookSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    url: Url


class WebhookCredentials(Struct, forbid_unknown_fields=True, kw_only=True):
    """The HMAC signing secret, and headers sent with every call (e.g. the gateway's
    own ``Authorization``), kept encrypted like the secret."""

    signing_secret: Annotated[str, Meta(min_length=16, max_length=500)]
    headers: dict[Annotated[str, Meta(pattern=r"^[A-Za-z0-9-]{1,64}$")], Text] = {}


class LogSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    level: Literal["debug", "info"] = "info"


class LogCredentials(Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class FcmCreate(Struct, forbid_unknown_fields=True, kw_only=True, tag="fcm", tag_field="kind"):
    name: Name
    settings: FcmSettings = field(default_factory=FcmSettings)
    credentials: FcmCredentials


class ApnsCreate(Struct, forbid_unknown_fields=True, kw_only=True, tag="apns", tag_field="kind"):
    name: Name
    settings: ApnsSettings
    credentials: ApnsCredentials


class WebhookCreate(
    Struct, forbid_unknown_fields=True, kw_only=True, tag="webhook", tag_field="kind"
):
    name: Name
    settings: WebhookSettings
    credentials: WebhookCredentials


class LogCreate(Struct, forbid_unknown_fields=True, kw_only=True, tag="log", tag_field="kind"):
    name: Name
    settings: LogSettings = field(default_factory=LogSettings)
    credentials: LogCredentials = field(default_factory=LogCredentials)


ProviderCreate = FcmCreate | ApnsCreate | WebhookCreate | LogCreate


class ProviderUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings given are merged into the saved ones (``null`` resets one to its
    default); credentials, when given, replace the saved ones whole."""

    name: Name | UnsetType = UNSET
    settings: dict[str, Any] | UnsetType = UNSET
    credentials: dict[str, Any] | UnsetType = UNSET


class ProviderPublic(Struct, kw_only=True):
    id: str
    name: str
    kind: str
    settings: dict[str, Any]
    # Never the secret: ``{"set": true}`` and non-secret parts (e.g. ``client_email``).
    credentials: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SendTestRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/providers/{id}/test``: one message to one recipient, named by a raw
    ``token``, a ``device_id``, or a profile (``profile_id`` / ``external_id``: their
    most recently updated device with a live token)."""

    token: Annotated[str, Meta(min_length=1, max_length=4096)] | None = None
    device_id: Annotated[str, Meta(min_length=1, max_length=255)] | None = None
    profile_id: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    external_id: Annotated[str, Meta(min_length=1, max_length=255)] | None = None
    title: Annotated[str, Meta(max_length=500)] = "Test message"
    body: Annotated[str, Meta(max_length=4000)] = "Sent from rapport"
    deep_link: Annotated[str, Meta(max_length=2000)] | None = None
    data: dict[str, Annotated[str, Meta(max_length=1000)]] = {}


class SendTestResult(Struct, kw_only=True):
    """The provider's answer, mapped; ``token_retired`` when rapport retired it."""

    outcome: str
    ok: bool
    send_id: str
    provider_message_id: str | None = None
    retry_after: float | None = None
    code: str | None = None
    detail: str | None = None
    device_id: str | None = None
    token_retired: bool = False
