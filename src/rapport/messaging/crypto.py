"""Provider credentials at rest: AES-256-GCM with a key the database never sees.

A blob is ``version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag``.
The key id (the first bytes of the key's SHA-256) picks the key that decrypts it, so
after a rotation (``RAPPORT_ENCRYPTION_KEY`` new, the previous one in
``RAPPORT_ENCRYPTION_OLD_KEYS``) old rows still open and new writes use the new key.
The associated data names the row (workspace and provider id): a blob copied into
another row, or another workspace, fails authentication instead of decrypting.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

from rapport.config import Settings, encryption_key_bytes
from rapport.core.errors import ServiceUnavailable

log = logging.getLogger("rapport.crypto")

VERSION = b"\x01"
NONCE_BYTES = 12
KEY_ID_BYTES = 4
HEADER = len(VERSION) + KEY_ID_BYTES + NONCE_BYTES


class DecryptionFailed(Exception):
    """The blob was not written for this row, or with none of the configured keys."""


class EncryptionUnavailable(ServiceUnavailable):
    """No key is configured, so credentials can be neither stored nor read."""

    code = "encryption_key_missing"


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


def provider_context(workspace_id: str, provider_id: str) -> bytes:
    """The associated data that binds a provider's secret to its row."""
    return f"rapport/provider/v1\x00{workspace_id}\x00{provider_id}".encode()


@dataclass(frozen=True, slots=True)
class Cipher:
    """Encrypts with the current key; decrypts with it or any old one."""

    current: bytes
    old: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        for key in (self.current, *self.old):
            if len(key) != 32:
                raise ValueError("AES-256 keys are 32 bytes")

    def encrypt(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.current).encrypt(nonce, plaintext, context)
        return VERSION + key_id(self.current) + nonce + sealed

    def decrypt(self, blob: bytes, context: bytes) -> bytes:
        if len(blob) < HEADER + 16 or blob[:1] != VERSION:
            raise DecryptionFailed("not a rapport ciphertext")
        wanted = blob[1 : 1 + KEY_ID_BYTES]
        nonce = blob[1 + KEY_ID_BYTES : HEADER]
        for key in (self.current, *self.old):
            if key_id(key) != wanted:
                continue
            try:
                return AESGCM(key).decrypt(nonce, blob[HEADER:], context)
            except InvalidTag:
                raise DecryptionFailed("the ciphertext does not belong to this row") from None
        raise DecryptionFailed("encrypted with a key that is not configured")

    def is_current(self, blob: bytes) -> bool:
        """Whether ``blob`` was written with the current key (else worth re-encrypting)."""
        return blob[1 : 1 + KEY_ID_BYTES] == key_id(self.current)


def generate_key() -> str:
    """A fresh key in the form ``RAPPORT_ENCRYPTION_KEY`` takes."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def key_file_for(database_url: str) -> Path | None:
    """Where development keeps its generated key: beside a SQLite file database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database)).with_name(Path(str(url.database)).name + ".key")


def _read_or_create(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = generate_key()
    # O_EXCL: when two processes start at once, one creates and the other reads.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def load_cipher(settings: Settings) -> Cipher | None:
    """The process's cipher, or None (with a warning) when no key can be had.

    Production requires ``RAPPORT_ENCRYPTION_KEY`` (settings refuse to load without
    it). Development without one generates a key once into ``<database>.key`` (mode
    0600) beside a SQLite file; elsewhere (PostgreSQL) providers cannot be saved
    until a key is configured.
    """
    old = tuple(
        encryption_key_bytes(k, "RAPPORT_ENCRYPTION_OLD_KEYS") for k in settings.encryption_old_keys
    )
    if settings.encryption_key:
        return Cipher(encryption_key_bytes(settings.encryption_key), old)
    path = key_file_for(settings.database_url)
    if path is None:
        log.warning(
            "RAPPORT_ENCRYPTION_KEY is not set: push providers cannot be saved or used until it is"
        )
        return None
    key = _read_or_create(path)
    log.warning(
        "RAPPORT_ENCRYPTION_KEY is not set: provider credentials are encrypted with a "
        "development key kept in %s; set the variable (and keep it safe) in production",
        path,
        extra={"key_file": str(path)},
    )
    return Cipher(encryption_key_bytes(key, str(path)), old)


def require(cipher: Cipher | None) -> Cipher:
    """The cipher, or the 503 that says how to configure one."""
    if cipher is None:
        raise EncryptionUnavailable(
            "Provider credentials are encrypted at rest and no key is configured: set "
            "RAPPORT_ENCRYPTION_KEY (base64 of 32 random bytes)"
        )
    return cipher
