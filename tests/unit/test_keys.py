from rapport.core import keys
from rapport.core.keys import KeyKind


def test_every_kind_has_its_own_prefix_and_public_keys_start_pk() -> None:
    prefixes = {kind: keys.PREFIXES[kind] for kind in KeyKind}
    assert len(set(prefixes.values())) == len(KeyKind)
    assert keys.format_key(KeyKind.PUBLIC, keys.new_key_id(), keys.new_secret()).startswith("pk_")


def test_a_formatted_key_parses_back_to_its_parts() -> None:
    key_id, secret = keys.new_key_id(), keys.new_secret()
    parsed = keys.parse_key(keys.format_key(KeyKind.SURFACES, key_id, secret))
    assert parsed == keys.ParsedKey(KeyKind.SURFACES, key_id, secret)


def test_garbage_is_not_a_key() -> None:
    for presented in ["", "pk_", "zz_abcdefghijkl_secret", "pk_short_x", "pk_abcdefghijkl-secret"]:
        assert keys.parse_key(presented) is None, presented


def test_secrets_are_random_and_only_their_hash_matches() -> None:
    key_id = keys.new_key_id()
    first, second = keys.new_secret(), keys.new_secret()
    assert first != second
    assert len(first) >= 43
    stored = keys.hash_secret(key_id, first)
    assert first not in stored
    assert keys.secret_matches(key_id, first, stored)
    assert not keys.secret_matches(key_id, second, stored)
    # The key id salts the hash: the same secret under another id does not match.
    assert not keys.secret_matches(keys.new_key_id(), first, stored)
