"""Apply the schema migrations, safely when several processes start at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from rapport.core.db import Database

_MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same in every rapport process.
_PG_LOCK_ID = 0x7261_7070


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (the latest by default)."""
    with database.begin() as connection:
        if database.dialect == "postgresql":
            # Serialises concurrent `rapport serve` / `worker` start-ups on one database.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        command.upgrade(_config(connection), revision)


def downgrade(database: Database, revision: str) -> None:
    """Step the schema back to ``revision`` (``base`` removes every table)."""
    with database.begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        command.downgrade(_config(connection), revision)


def current_revision(database: Database) -> str | None:
    """The schema revision the database is at, or None when it has none."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision this code knows."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()
