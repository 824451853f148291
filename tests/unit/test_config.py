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
    settings = Settings.from_env({"RAPPORT_ENV": "production", "RAPPORT_SECRET_KEY": "k" * 40})
    assert settings.secret_key == "k" * 40


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RAPPORT_AUTO_MIGRATE", "perhaps"),
        ("RAPPORT_KEY_CACHE_SECONDS", "soon"),
        ("RAPPORT_ACCESS_TOKEN_TTL", "5"),
        ("RAPPORT_LOG_FORMAT", "xml"),
    ],
)
def test_bad_values_name_their_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
