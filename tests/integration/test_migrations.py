"""The migrations build exactly the schema the code declares, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from rapport.core import migrate
from rapport.core.db import Database
from rapport.core.tables import metadata


def test_migrations_produce_the_declared_schema(fresh_database_url: str) -> None:
    database = Database(fresh_database_url)
    try:
        assert migrate.current_revision(database) is None
        migrate.upgrade(database)
        assert migrate.current_revision(database) == migrate.head_revision()
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        database.dispose()


def test_upgrade_is_idempotent_and_downgrade_removes_everything(fresh_database_url: str) -> None:
    database = Database(fresh_database_url)
    try:
        migrate.upgrade(database)
        migrate.upgrade(database)
        migrate.downgrade(database, "base")
        tables = set(inspect(database.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        migrate.upgrade(database)
        assert {"workspaces", "api_keys"} <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()


def test_sqlite_runs_in_wal_mode_with_full_sync(fresh_database_url: str, backend: str) -> None:
    database = Database(fresh_database_url)
    try:
        with database.engine.connect() as connection:
            if backend == "sqlite":
                mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
                assert (mode, sync) == ("wal", 2)
            else:
                assert connection.exec_driver_sql("SHOW server_version").scalar()
    finally:
        database.dispose()
