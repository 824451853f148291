"""Checking credentials when they are saved, so a provider that exists can send.

Each kind turns its validated settings and credentials into three JSON documents: the
settings to store (shown again), the secret to encrypt, and a summary of the
non-secret parts of the credentials (shown as ``credentials``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from rapport.api.validation import validation_failed
from rapport.core.errors import ValidationFailed
from rapport.messaging.providers import schemas

Loc = Sequence[str | int]
SETTINGS: dict[str, type[msgspec.Struct]] = {
    "fcm": schemas.FcmSettings,
    "apns": schemas.ApnsSettings,
    "webhook": schemas.WebhookSettings,
    "log": schemas.LogSettings,
}
CREDENTIALS: dict[str, type[msgspec.Struct]] = {
    "fcm": schemas.FcmCredentials,
    "apns": schemas.ApnsCredentials,
    "webhook": schemas.WebhookCredentials,
    "log": schemas.LogCredentials,
}
SERVICE_ACCOUNT_KEYS = ("client_email", "private_key", "token_uri")
# Headers the webhook sets itself; a configured header may not replace them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "idempotency-key", "rapport-signature"}
)


def _fail(loc: Loc, msg: str) -> ValidationFailed:
    return ValidationFailed.single(list(loc), msg)


def convert(kind: str, document: object, table: dict[str, type[msgspec.Struct]], loc: Loc) -> Any:
    """A settings or credentials document of ``kind`` as its Struct, or a 422."""
    try:
        return msgspec.convert(document, table[kind])
    except msgspec.ValidationError as exc:
        raise validation_failed(exc, list(loc)) from None


def _private_key(pem: str, loc: Loc) -> Any:
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise _fail(loc, f"not a PEM private key without a password: {exc}") from None


def _fingerprint(key: Any) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(public).hexdigest()[:16]


def service_account(value: dict[str, Any] | str, loc: Loc) -> dict[str, Any]:
    """A service-account document with what FCM needs, its key an RSA key."""
    if isinstance(value, str):
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError:
            raise _fail(loc, "service_account is not valid JSON") from None
        if not isinstance(value, dict):
            raise _fail(loc, "service_account must be a JSON object")
    if value.get("type", "service_account") != "service_account":
        raise _fail([*loc, "type"], "expected a service account (type: service_account)")
    for key in SERVICE_ACCOUNT_KEYS:
        if not isinstance(value.get(key), str) or not value[key]:
            raise ValidationFailed.single([*loc, key], "Field required", "missing")
    if not value["token_uri"].startswith("https://"):
        raise _fail([*loc, "token_uri"], "token_uri must be an https URL")
    if not isinstance(_private_key(value["private_key"], [*loc, "private_key"]), rsa.RSAPrivateKey):
        raise _fail([*loc, "private_key"], "a service account's private key is an RSA key")
    return {
        key: value[key]
        for key in ("project_id", "client_email", "private_key", "private_key_id", "token_uri")
        if isinstance(value.get(key), str)
    }


def check(
    kind: str, settings: object, credentials: object, root: Loc = ("body",)
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(settings, secret, summary)`` of valid input, or a 422 pointing at the field."""
    parsed_settings = convert(kind, settings, SETTINGS, [*root, "settings"])
    parsed = convert(kind, credentials, CREDENTIALS, [*root, "credentials"])
    stored: dict[str, Any] = msgspec.to_builtins(parsed_settings)
    cred_loc = [*root, "credentials"]
    if kind == "fcm":
        account = service_account(parsed.service_account, [*cred_loc, "service_account"])
        project = parsed_settings.project_id or account.get("project_id")
        if not project:
            raise ValidationFailed.single(
                [*root, "settings", "project_id"],
                "project_id is required when the service account has none",
                "missing",
            )
        stored["project_id"] = project
        summary = {
            "client_email": account["client_email"],
            "private_key_id": account.get("private_key_id"),
            "token_uri": account["token_uri"],
        }
        return stored, {"service_account": account}, summary
    if kind == "apns":
        key = _private_key(parsed.private_key, [*cred_loc, "private_key"])
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"):
            raise _fail([*cred_loc, "private_key"], "an APNs .p8 key is an EC P-256 key")
        return stored, {"private_key": parsed.private_key}, {"key_fingerprint": _fingerprint(key)}
    if kind == "webhook":
        for name in parsed.headers:
            if name.lower() in RESERVED_HEADERS:
                raise _fail([*cred_loc, "headers", name], f"{name} is set by rapport")
        secret = {"signing_secret": parsed.signing_secret, "headers": parsed.headers}
        return stored, secret, {"headers": sorted(parsed.headers)}
    return stored, {}, {}
