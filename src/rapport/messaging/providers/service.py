"""Managing providers: credentials checked and encrypted on save, never shown again;
a test send through the saved provider."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.config import Settings
from rapport.core.clock import from_timestamp
from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.ids import uuid7
from rapport.core.pagination import Page, PageRequest, converted
from rapport.messaging import crypto
from rapport.messaging.crypto import Cipher, provider_context
from rapport.messaging.providers import credentials, registry, storage
from rapport.messaging.providers.base import Outcome, Provider, PushMessage, Recipient
from rapport.messaging.providers.schemas import (
    ProviderCreate,
    ProviderPublic,
    ProviderUpdate,
    SendTestRequest,
    SendTestResult,
)
from rapport.messaging.providers.transport import tls_context

# The non-secret summary of the credentials lives in the settings document under
# this key, so listing providers never decrypts anything.
SUMMARY_KEY = "credentials"


@dataclass(frozen=True)
class ProviderRuntime:
    """What building providers needs in this process: the cipher and TLS trust."""

    cipher: Cipher | None
    tls: ssl.SSLContext

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderRuntime:
        return cls(crypto.load_cipher(settings), tls_context(settings.provider_ca_file))

    def require_cipher(self) -> Cipher:
        return crypto.require(self.cipher)

    def load(self, conn: Connection, workspace_id: str, provider_id: str) -> Provider:
        """The orchestrator's entry point: a ready provider (see ``registry``)."""
        return registry.load_provider(
            conn, workspace_id, provider_id, self.require_cipher(), tls=self.tls
        )


def _public(row: Any) -> ProviderPublic:
    settings = dict(row.settings)
    summary = settings.pop(SUMMARY_KEY, {})
    return ProviderPublic(
        id=row.id,
        name=row.name,
        kind=row.kind,
        settings=settings,
        credentials={"set": row.kind != "log", **summary},
        created_at=from_timestamp(row.created_at),
        updated_at=from_timestamp(row.updated_at),
    )


def _row(conn: Connection, workspace_id: str, provider_id: str) -> Any:
    row = storage.get_provider(conn, workspace_id, provider_id)
    if row is None:
        raise registry.ProviderNotFound(f"Provider {provider_id!r} does not exist")
    return row


def _seal(cipher: Cipher, workspace_id: str, provider_id: str, secret: dict[str, Any]) -> bytes:
    return cipher.encrypt(msgspec.json.encode(secret), provider_context(workspace_id, provider_id))


def create_provider(
    conn: Connection, workspace_id: str, body: ProviderCreate, cipher: Cipher
) -> ProviderPublic:
    kind = type(body).__struct_config__.tag
    assert isinstance(kind, str)
    settings, secret, summary = credentials.check(
        kind, msgspec.to_builtins(body.settings), msgspec.to_builtins(body.credentials)
    )
    now = time.time()
    provider_id = uuid7()
    storage.insert_provider(
        conn,
        {
            "id": provider_id,
            "workspace_id": workspace_id,
            "name": body.name,
            "kind": kind,
            "settings": {**settings, SUMMARY_KEY: summary},
            "secret": _seal(cipher, workspace_id, provider_id, secret),
            "created_at": now,
            "updated_at": now,
        },
    )
    return _public(_row(conn, workspace_id, provider_id))


def get_provider(conn: Connection, workspace_id: str, provider_id: str) -> ProviderPublic:
    return _public(_row(conn, workspace_id, provider_id))


def list_providers(conn: Connection, workspace_id: str, page: PageRequest) -> Page[ProviderPublic]:
    return converted(storage.list_providers(conn, workspace_id, page), _public)


def update_provider(
    conn: Connection, workspace_id: str, provider_id: str, body: ProviderUpdate, cipher: Cipher
) -> ProviderPublic:
    """Rename, merge settings, replace credentials; the kind never changes."""
    row = _row(conn, workspace_id, provider_id)
    values: dict[str, Any] = {"updated_at": time.time()}
    if body.name is not msgspec.UNSET:
        values["name"] = body.name
    if body.settings is not msgspec.UNSET or body.credentials is not msgspec.UNSET:
        saved = dict(row.settings)
        summary = saved.pop(SUMMARY_KEY, {})
        merged = saved
        if body.settings is not msgspec.UNSET:
            merged = {**saved, **body.settings}
            merged = {key: value for key, value in merged.items() if value is not None}
        if body.credentials is not msgspec.UNSET:
            secret_in: Any = body.credentials
        else:
            secret_in = None
        if secret_in is None:
            # Settings alone: the saved credentials are checked against them again
            # (an FCM project id may come from the service account).
            secret_in = registry.open_secret(cipher, row)
        settings, secret, summary = credentials.check(row.kind, merged, secret_in)
        values["settings"] = {**settings, SUMMARY_KEY: summary}
        values["secret"] = _seal(cipher, workspace_id, provider_id, secret)
    storage.update_provider(conn, workspace_id, provider_id, values)
    return _public(_row(conn, workspace_id, provider_id))


def delete_provider(conn: Connection, workspace_id: str, provider_id: str) -> None:
    _row(conn, workspace_id, provider_id)
    storage.delete_provider(conn, workspace_id, provider_id)


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """A provider row's parts and the recipient a test send goes to."""

    kind: str
    settings: dict[str, Any]
    secret: dict[str, Any]
    recipient: Recipient


def _recipient(conn: Connection, workspace_id: str, body: SendTestRequest) -> Recipient:
    named = [
        field
        for field in ("token", "device_id", "profile_id", "external_id")
        if getattr(body, field) is not None
    ]
    if len(named) > 1:
        raise ValidationFailed.single(
            ["body", named[1]],
            f"give one of token, device_id, profile_id, external_id; not {' and '.join(named)}",
        )
    if body.device_id is not None:
        device = storage.get_device(conn, workspace_id, body.device_id)
        if device is None:
            raise NotFound(f"Device {body.device_id!r} does not exist", code="device_not_found")
        return Recipient(
            profile_id=device.profile_id,
            external_id=storage.external_id_of(conn, workspace_id, device.profile_id),
            device_id=device.device_id,
            token=device.token,
            platform=device.os,
        )
    profile_id = body.profile_id
    if profile_id is None and body.external_id is not None:
        profile_id = storage.profile_of_external_id(conn, workspace_id, body.external_id)
        if profile_id is None:
            raise NotFound(
                f"No profile has external id {body.external_id!r}", code="profile_not_found"
            )
    if profile_id is None:
        return Recipient(profile_id="test", token=body.token)
    device = storage.latest_live_device(conn, workspace_id, profile_id)
    return Recipient(
        profile_id=profile_id,
        external_id=body.external_id or storage.external_id_of(conn, workspace_id, profile_id),
        device_id=device.device_id if device is not None else None,
        token=device.token if device is not None else None,
        platform=device.os if device is not None else None,
    )


def probe_target(
    conn: Connection, workspace_id: str, provider_id: str, body: SendTestRequest, cipher: Cipher
) -> ProbeTarget:
    """Everything a test send needs, read in one transaction."""
    row = _row(conn, workspace_id, provider_id)
    recipient = _recipient(conn, workspace_id, body)
    needs_token = row.kind in ("fcm", "apns")
    if needs_token and not recipient.token:
        raise ValidationFailed.single(
            ["body"],
            f"a {row.kind} provider sends to a device token: give token, device_id, or a "
            "profile with a live device",
            "missing",
        )
    settings = {k: v for k, v in row.settings.items() if k != SUMMARY_KEY}
    return ProbeTarget(row.kind, settings, registry.open_secret(cipher, row), recipient)


def probe_message(body: SendTestRequest) -> PushMessage:
    return PushMessage(
        send_id=uuid7(),
        campaign_id="test",
        title=body.title,
        body=body.body,
        deep_link=body.deep_link,
        data=body.data,
    )


def retire(conn: Connection, workspace_id: str, recipient: Recipient) -> bool:
    """Retire the recipient's token after an invalid-token answer."""
    if recipient.device_id is not None:
        changed = storage.retire_token(conn, workspace_id, device_id=recipient.device_id)
    else:
        changed = storage.retire_token(conn, workspace_id, token=recipient.token)
    return changed > 0


def result(
    outcome: Outcome, send_id: str, recipient: Recipient, sent: Any, retired: bool
) -> SendTestResult:
    return SendTestResult(
        outcome=str(outcome),
        ok=outcome is Outcome.SENT,
        send_id=send_id,
        provider_message_id=sent.provider_message_id,
        retry_after=sent.retry_after,
        code=sent.code,
        detail=sent.detail,
        device_id=recipient.device_id,
        token_retired=retired,
    )
