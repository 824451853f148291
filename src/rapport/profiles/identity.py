"""How identifiers are normalised, hashed and compared."""

from __future__ import annotations

import hashlib

EXTERNAL = "external_id"
ANONYMOUS = "anonymous_id"
EMAIL = "email"
PHONE = "phone"


def normalize_email(value: str) -> str:
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    kept = "".join(ch for ch in value if ch.isdigit() or ch == "+")
    return kept or value.strip()


def digest(value: str) -> str:
    """SHA-256 hex of a value: used for suppressions and hashed PII."""
    return hashlib.sha256(value.encode()).hexdigest()
