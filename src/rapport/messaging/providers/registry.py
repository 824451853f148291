"""From a saved provider row to a ready ``Provider``.

``build_provider`` is pure (kind, settings, decrypted secret); ``load_provider`` reads
the row, decrypts it with the row-bound associated data and builds. Construction does
no I/O and opens no connection (clients are created on first send), so callers can
build freely; they should still cache instances, which keep their access tokens and
HTTP/2 connections.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.core.errors import NotFound, ServiceUnavailable
from rapport.messaging.crypto import Cipher, DecryptionFailed, provider_context
from rapport.messaging.providers import storage
from rapport.messaging.providers.apns import ApnsKey, ApnsProvider
from rapport.messaging.providers.base import Provider
from rapport.messaging.providers.fcm import DEFAULT_ENDPOINT, FcmProvider, ServiceAccount
from rapport.messaging.providers.log import LogProvider
from rapport.messaging.providers.webhook import WebhookProvider

KINDS = ("fcm", "apns", "webhook", "log")


class ProviderNotFound(NotFound):
    code = "provider_not_found"


class CredentialsUnreadable(ServiceUnavailable):
    """The row's secret does not decrypt: the key changed without keeping the old one
    in ``RAPPORT_ENCRYPTION_OLD_KEYS``, or the blob was moved from another row."""

    code = "provider_credentials_unreadable"


def build_provider(
    kind: str,
    settings: Mapping[str, Any],
    secret: Mapping[str, Any],
    *,
    tls: ssl.SSLContext | None = None,
) -> Provider:
    """A provider of ``kind`` from validated settings and its decrypted secret."""
    if kind == "fcm":
        account = secret["service_account"]
        return FcmProvider(
            ServiceAccount(
                project_id=str(settings.get("project_id") or account["project_id"]),
                client_email=account["client_email"],
                private_key=account["private_key"],
                token_uri=account["token_uri"],
                private_key_id=account.get("private_key_id"),
            ),
            endpoint=settings.get("endpoint") or DEFAULT_ENDPOINT,
            tls=tls,
        )
    if kind == "apns":
        return ApnsProvider(
            ApnsKey(
                team_id=settings["team_id"],
                key_id=settings["key_id"],
                private_key=secret["private_key"],
                bundle_id=settings["bundle_id"],
            ),
            environment=settings.get("environment", "production"),
            endpoint=settings.get("endpoint"),
            priority=int(settings.get("priority", 10)),
            tls=tls,
        )
    if kind == "webhook":
        return WebhookProvider(
            settings["url"], secret["signing_secret"], headers=secret.get("headers"), tls=tls
        )
    if kind == "log":
        return LogProvider(settings.get("level", "info"))
    raise ValueError(f"unknown provider kind {kind!r}")


def open_secret(cipher: Cipher, row: Any) -> dict[str, Any]:
    """The decrypted credentials of a provider row."""
    try:
        plain = cipher.decrypt(bytes(row.secret), provider_context(row.workspace_id, row.id))
    except DecryptionFailed as exc:
        raise CredentialsUnreadable(
            f"The credentials of provider {row.id!r} cannot be decrypted ({exc}); "
            "save them again or configure the key they were written with"
        ) from None
    secret: dict[str, Any] = msgspec.json.decode(plain)
    return secret


def load_provider(
    conn: Connection,
    workspace_id: str,
    provider_id: str,
    cipher: Cipher,
    *,
    tls: ssl.SSLContext | None = None,
) -> Provider:
    """The workspace's provider ``provider_id``, ready to send.

    Raises ``ProviderNotFound`` (404 ``provider_not_found``) or
    ``CredentialsUnreadable`` (503 ``provider_credentials_unreadable``).
    """
    row = storage.get_provider(conn, workspace_id, provider_id)
    if row is None:
        raise ProviderNotFound(f"Provider {provider_id!r} does not exist")
    return build_provider(row.kind, row.settings, open_secret(cipher, row), tls=tls)
