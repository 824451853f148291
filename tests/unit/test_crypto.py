"""Credentials at rest: AES-256-GCM bound to its row, with key rotation."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from rapport.config import Settings, encryption_key_bytes
from rapport.core.errors import ServiceUnavailable
from rapport.messaging import crypto
from rapport.messaging.crypto import Cipher, DecryptionFailed, provider_context

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))
ROW = provider_context("ws-1", "prov-1")


def test_round_trip_and_no_plaintext_in_the_blob() -> None:
    cipher = Cipher(KEY_A)
    blob = cipher.encrypt(b'{"private_key": "-----BEGIN PRIVATE KEY-----"}', ROW)
    assert b"PRIVATE KEY" not in blob
    assert cipher.decrypt(blob, ROW) == b'{"private_key": "-----BEGIN PRIVATE KEY-----"}'
    # A fresh nonce each time: the same secret never gives the same blob.
    assert cipher.encrypt(b"x", ROW) != cipher.encrypt(b"x", ROW)


@pytest.mark.parametrize(
    "other",
    [provider_context("ws-1", "prov-2"), provider_context("ws-2", "prov-1")],
)
def test_a_blob_moved_to_another_row_does_not_decrypt(other: bytes) -> None:
    cipher = Cipher(KEY_A)
    blob = cipher.encrypt(b"secret", ROW)
    with pytest.raises(DecryptionFailed, match="does not belong"):
        cipher.decrypt(blob, other)


def test_tampering_is_detected() -> None:
    cipher = Cipher(KEY_A)
    blob = bytearray(cipher.encrypt(b"secret", ROW))
    blob[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(bytes(blob), ROW)
    with pytest.raises(DecryptionFailed, match="not a rapport ciphertext"):
        cipher.decrypt(b"plaintext", ROW)


def test_rotation_old_keys_decrypt_new_writes_use_the_current_key() -> None:
    old_blob = Cipher(KEY_A).encrypt(b"secret", ROW)
    rotated = Cipher(KEY_B, (KEY_A,))
    assert rotated.decrypt(old_blob, ROW) == b"secret"
    assert not rotated.is_current(old_blob)
    new_blob = rotated.encrypt(b"secret", ROW)
    assert rotated.is_current(new_blob)
    with pytest.raises(DecryptionFailed, match="not configured"):
        Cipher(KEY_A).decrypt(new_blob, ROW)
    with pytest.raises(DecryptionFailed, match="not configured"):
        Cipher(KEY_B).decrypt(old_blob, ROW)


def test_development_generates_a_private_key_file_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'rapport.db'}")
    with caplog.at_level(logging.WARNING, logger="rapport.crypto"):
        first = crypto.load_cipher(settings)
    key_file = tmp_path / "rapport.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "RAPPORT_ENCRYPTION_KEY is not set" in caplog.text
    second = crypto.load_cipher(settings)
    assert first is not None
    assert second is not None
    assert second.decrypt(first.encrypt(b"kept", ROW), ROW) == b"kept"


def test_a_configured_key_wins_and_postgres_without_one_refuses() -> None:
    key = crypto.generate_key()
    configured = crypto.load_cipher(Settings(database_url="sqlite:///x.db", encryption_key=key))
    assert configured is not None
    assert configured.current == encryption_key_bytes(key)
    assert not Path("x.db.key").exists()
    assert crypto.load_cipher(Settings(database_url="postgresql://db/rapport")) is None
    with pytest.raises(ServiceUnavailable) as refused:
        crypto.require(None)
    assert refused.value.code == "encryption_key_missing"
    assert refused.value.status == 503
