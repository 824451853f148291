import time

import jwt
import pytest

from rapport.core import tokens


def test_a_token_carries_its_workspace_and_key() -> None:
    token, expires = tokens.issue("s" * 40, "acme", "keyid", ttl_seconds=900)
    claims = tokens.verify("s" * 40, token)
    assert (claims.workspace_id, claims.key_id) == ("acme", "keyid")
    assert claims.expires_at == expires.replace(microsecond=0)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token, _ = tokens.issue("a" * 40, "acme", "keyid", ttl_seconds=900)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify("b" * 40, token)


def test_a_tampered_token_is_refused() -> None:
    token, _ = tokens.issue("a" * 40, "acme", "keyid", ttl_seconds=900)
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "wsp": "other"},
        "g" * 40,
        algorithm="HS256",
    )
    with pytest.raises(tokens.InvalidToken):
        tokens.verify("a" * 40, forged)


def test_an_expired_token_is_refused() -> None:
    now = time.time()
    expired = jwt.encode(
        {"sub": "k", "wsp": "w", "aud": "rapport-management", "iat": now - 120, "exp": now - 60},
        "a" * 40,
        algorithm="HS256",
    )
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify("a" * 40, expired)


def test_an_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode(
        {"sub": "k", "wsp": "w", "aud": "rapport-management", "iat": 1, "exp": 2**40},
        None,
        algorithm="none",
    )
    with pytest.raises(tokens.InvalidToken):
        tokens.verify("a" * 40, unsigned)
