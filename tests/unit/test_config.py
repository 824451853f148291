import base64

import pytest

from rapport.config import Settings, SettingsError


def test_defaults_are_the_embedded_sqlite_setup() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///rapport.db"
    assert settings.region == "us-east1"


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        {"RAPPORT_REGION": "europe-west3", "RAPPORT_DATABASE_URL": "postgresql://x/y"}
    )
    assert (settings.region, settings.database_url) == ("europe-west3", "postgresql://x/y")


@pytest.mark.parametrize("secret", [None, "changeme", "short"])
def test_production_refuses_missing_or_placeholder_secrets(secret: str | None) -> None:
    env = {"RAPPORT_ENV": "production"}
    if secret:
        env["RAPPORT_SECRET_KEY"] = secret
    with pytest.raises(SettingsError, match="RAPPORT_SECRET_KEY"):
        Settings.from_env(env)


def test_production_accepts_a_real_secret() -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    settings = Settings.from_env(
        {"RAPPORT_ENV": "production", "RAPPORT_SECRET_KEY": "k" * 40, "RAPPORT_ENCRYPTION_KEY": key}
    )
    assert settings.secret_key == "k" * 40
    assert settings.encryption_key == key


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RAPPORT_AUTO_MIGRATE", "perhaps"),
        ("RAPPORT_KEY_CACHE_SECONDS", "soon"),
        ("RAPPORT_ACCESS_TOKEN_TTL", "5"),
        ("RAPPORT_LOG_FORMAT", "xml"),
        ("RAPPORT_ENCRYPTION_KEY", "not base64!"),
        ("RAPPORT_ENCRYPTION_KEY", "c2hvcnQ="),  # "short": not 32 bytes
        ("RAPPORT_ENCRYPTION_OLD_KEYS", "c2hvcnQ="),
    ],
)
def test_bad_values_name_their_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_production_requires_an_encryption_key() -> None:
    with pytest.raises(SettingsError, match="RAPPORT_ENCRYPTION_KEY"):
        Settings.from_env({"RAPPORT_ENV": "production", "RAPPORT_SECRET_KEY": "k" * 40})


def test_old_encryption_keys_are_a_list() -> None:
    one, two = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    settings = Settings.from_env({"RAPPORT_ENCRYPTION_OLD_KEYS": f"{one}, {two}"})
    assert settings.encryption_old_keys == (one, two)
