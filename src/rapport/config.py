"""Typed settings, read once from the environment.

Every knob is an environment variable prefixed ``RAPPORT_`` so that the same settings
work for ``rapport serve``, ``rapport worker`` and the test suite.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

DEFAULT_DATABASE_URL = "sqlite:///rapport.db"
KNOWN_REGIONS = ("us-east1", "us-west1", "europe-west3", "europe-west1", "asia-southeast1")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be a boolean (true/false), got {value!r}")


def _number(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {value!r}") from None
    if number < 0:
        raise SettingsError(f"{name} must not be negative, got {value!r}")
    return number


def encryption_key_bytes(value: str, name: str = "RAPPORT_ENCRYPTION_KEY") -> bytes:
    """The 32 raw bytes of a base64 (standard or URL-safe) AES-256 key."""
    text = value.strip()
    try:
        raw = base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        raise SettingsError(f"{name} must be base64 of 32 random bytes") from None
    if len(raw) != 32:
        raise SettingsError(f"{name} must be base64 of 32 bytes, got {len(raw)} bytes")
    return raw


def _key_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace(",", " ").split() if part.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process needs to know about its deployment."""

    database_url: str = DEFAULT_DATABASE_URL
    region: str = "us-east1"
    environment: str = "development"
    # Signs management access tokens. In development, when unset, a random secret is
    # generated once and kept in the database so that every process agrees on it.
    secret_key: str | None = None
    access_token_ttl_seconds: int = 900
    # How long a verified API key is trusted without another database read. Rotation
    # and revocation through this process take effect at once; other processes see
    # them within this many seconds.
    key_cache_seconds: float = 1.0
    # How long a process may serve a person's sticky decision it made or read without
    # reading it again (see rapport.decide.recent); merges and erasures through this
    # process take effect at once, other processes' within this many seconds. 0: off.
    decision_cache_seconds: float = 5.0
    max_body_bytes: int = 1_048_576
    auto_migrate: bool = True
    # Process ingested messages inside `rapport serve`; turn off when `rapport worker`
    # processes do it.
    process_inline: bool = True
    retention_interval_seconds: float = 3600.0
    # A MaxMind-format (.mmdb) city database for geo rules; without one they never match.
    geoip_database: str | None = None
    # How long a send being delivered is reserved for its process; when that process
    # dies, another sends it again (same send id) after this many seconds.
    send_lease_seconds: float = 60.0
    log_level: str = "INFO"
    log_format: str = "json"
    # Encrypts push provider credentials at rest (AES-256-GCM; base64 of 32 bytes).
    # Required in production; in development a key is generated once into a 0600 file
    # next to the SQLite database. Old keys still decrypt (rotation), new writes use
    # the current one.
    encryption_key: str | None = None
    encryption_old_keys: tuple[str, ...] = ()
    # Extra CA certificates (PEM) that push providers trust, for self-hosted gateways
    # behind a private CA (and the tests' fakes); the public CAs are always trusted.
    provider_ca_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``RAPPORT_*`` environment variables."""
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get("RAPPORT_DATABASE_URL", DEFAULT_DATABASE_URL),
            region=env.get("RAPPORT_REGION", "us-east1"),
            environment=env.get("RAPPORT_ENV", "development"),
            secret_key=env.get("RAPPORT_SECRET_KEY") or None,
            access_token_ttl_seconds=int(
                _number(env.get("RAPPORT_ACCESS_TOKEN_TTL", "900"), "RAPPORT_ACCESS_TOKEN_TTL")
            ),
            key_cache_seconds=_number(
                env.get("RAPPORT_KEY_CACHE_SECONDS", "1"), "RAPPORT_KEY_CACHE_SECONDS"
            ),
            decision_cache_seconds=_number(
                env.get("RAPPORT_DECISION_CACHE_SECONDS", "5"), "RAPPORT_DECISION_CACHE_SECONDS"
            ),
            max_body_bytes=int(
                _number(env.get("RAPPORT_MAX_BODY_BYTES", "1048576"), "RAPPORT_MAX_BODY_BYTES")
            ),
            auto_migrate=_bool(env.get("RAPPORT_AUTO_MIGRATE", "true"), "RAPPORT_AUTO_MIGRATE"),
            process_inline=_bool(
                env.get("RAPPORT_PROCESS_INLINE", "true"), "RAPPORT_PROCESS_INLINE"
            ),
            retention_interval_seconds=_number(
                env.get("RAPPORT_RETENTION_INTERVAL", "3600"), "RAPPORT_RETENTION_INTERVAL"
            ),
            geoip_database=env.get("RAPPORT_GEOIP_DATABASE") or None,
            send_lease_seconds=_number(
                env.get("RAPPORT_SEND_LEASE_SECONDS", "60"), "RAPPORT_SEND_LEASE_SECONDS"
            ),
            log_level=env.get("RAPPORT_LOG_LEVEL", "INFO").upper(),
            log_format=env.get("RAPPORT_LOG_FORMAT", "json"),
            encryption_key=env.get("RAPPORT_ENCRYPTION_KEY") or None,
            encryption_old_keys=_key_list(env.get("RAPPORT_ENCRYPTION_OLD_KEYS", "")),
            provider_ca_file=env.get("RAPPORT_PROVIDER_CA_FILE") or None,
        )
        settings.validate()
        return settings

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and the CLI use it)."""
        updated = replace(self, **changes)  # type: ignore[arg-type]
        updated.validate()
        return updated

    def validate(self) -> None:
        """Refuse settings that would make an unsafe or broken deployment."""
        if not self.region or not self.region.replace("-", "").isalnum():
            raise SettingsError(f"RAPPORT_REGION is not a region name: {self.region!r}")
        if self.environment not in {"development", "production", "test"}:
            raise SettingsError("RAPPORT_ENV must be development, production or test")
        if self.environment == "production":
            if not self.secret_key:
                raise SettingsError("RAPPORT_SECRET_KEY is required in production")
            if len(self.secret_key) < 32 or self.secret_key.lower() in {"changeme", "secret"}:
                raise SettingsError("RAPPORT_SECRET_KEY must be at least 32 random characters")
            if not self.encryption_key:
                raise SettingsError(
                    "RAPPORT_ENCRYPTION_KEY is required in production (base64 of 32 random "
                    "bytes, e.g. `openssl rand -base64 32`)"
                )
        if self.encryption_key:
            encryption_key_bytes(self.encryption_key)
        for old in self.encryption_old_keys:
            encryption_key_bytes(old, "RAPPORT_ENCRYPTION_OLD_KEYS")
        if self.log_format not in {"json", "text"}:
            raise SettingsError("RAPPORT_LOG_FORMAT must be json or text")
        if self.access_token_ttl_seconds < 60:
            raise SettingsError("RAPPORT_ACCESS_TOKEN_TTL must be at least 60 seconds")
