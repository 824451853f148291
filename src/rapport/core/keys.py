"""API key format, generation and verification (pure functions, no storage).

A key reads ``<kind prefix><key id>_<secret>``, e.g. ``pk_3kq7m2x9a4bc_Vh2…``. The key id
is public (it names the key in listings and locates its row); only a SHA-256 hash of
the secret is stored. Secrets carry 256 bits of entropy, so a fast hash is the right
tool (a slow password hash protects low-entropy secrets, which these are not), and the
stored and presented hashes are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from rapport.core.ids import short_id

KEY_ID_LENGTH = 12


class KeyKind(StrEnum):
    """What a key may do; each kind opens exactly one set of endpoints."""

    INGEST = "ingest"  # server-side ingestion, Segment write key
    PUBLIC = "public"  # client ingestion only, safe to ship inside an app
    SURFACES = "surfaces"  # Content API
    PERSONALIZE = "personalize"  # Experiences API secret
    ADMIN = "admin"  # exchanged for Management API access tokens


PREFIXES: dict[KeyKind, str] = {
    KeyKind.INGEST: "ik_",
    KeyKind.PUBLIC: "pk_",
    KeyKind.SURFACES: "sk_",
    KeyKind.PERSONALIZE: "xk_",
    KeyKind.ADMIN: "ak_",
}
_KIND_BY_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A presented key split into its parts. Says nothing about validity yet."""

    kind: KeyKind
    key_id: str
    secret: str


def new_secret() -> str:
    """A fresh random secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def new_key_id() -> str:
    return short_id(KEY_ID_LENGTH)


def format_key(kind: KeyKind, key_id: str, secret: str) -> str:
    """The full key string shown once to its owner."""
    return f"{PREFIXES[kind]}{key_id}_{secret}"


def display_prefix(kind: KeyKind, key_id: str) -> str:
    """The non-secret start of a key, safe to show in listings."""
    return f"{PREFIXES[kind]}{key_id}"


def parse_key(presented: str) -> ParsedKey | None:
    """Split a presented key, or None when it cannot be one of ours."""
    kind = _KIND_BY_PREFIX.get(presented[:3])
    if kind is None:
        return None
    body = presented[3:]
    key_id, sep, secret = (
        body[:KEY_ID_LENGTH],
        body[KEY_ID_LENGTH : KEY_ID_LENGTH + 1],
        body[KEY_ID_LENGTH + 1 :],
    )
    if sep != "_" or len(key_id) != KEY_ID_LENGTH or not secret or len(secret) > 128:
        return None
    return ParsedKey(kind=kind, key_id=key_id, secret=secret)


def hash_secret(key_id: str, secret: str) -> str:
    """The stored form of a secret; the key id salts it."""
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def secret_matches(key_id: str, secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(key_id, secret), stored_hash)
