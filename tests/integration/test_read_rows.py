"""Hot-path reads (``Database.run_read_rows``): on SQLite the event loop's thread keeps
its connection between requests; every read must still see what was committed before
it began, and a connection whose transaction cannot be ended is not used again."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from rapport.core.db import Database, RowReader


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Any:
    database = Database(f"sqlite:///{tmp_path / 'reads.db'}")
    with database.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (value INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counter (value) VALUES (1)")
    yield database
    database.dispose()


def _read(reader: RowReader) -> tuple[int, Any]:
    """The counter, and the DB-API connection that read it."""
    row = reader.first("SELECT value FROM counter")
    assert row is not None
    return int(row[0]), reader._connection.driver_connection


def _set(database: Database, value: int) -> None:
    with database.begin() as conn:
        conn.exec_driver_sql("UPDATE counter SET value = ?", (value,))


def test_a_thread_keeps_its_connection_and_sees_every_commit(sqlite_db: Database) -> None:
    async def scenario() -> list[tuple[int, Any]]:
        seen = [await sqlite_db.run_read_rows(_read)]
        for value in (2, 3):
            _set(sqlite_db, value)  # committed by another connection meanwhile
            seen.append(await sqlite_db.run_read_rows(_read))
        return seen

    seen = asyncio.run(scenario())
    assert [value for value, _ in seen] == [1, 2, 3]
    assert seen[0][1] is seen[1][1] is seen[2][1]


def test_threads_do_not_share_a_kept_connection(sqlite_db: Database) -> None:
    found: dict[str, Any] = {}
    both_alive = threading.Barrier(2)  # so the two threads cannot share an identity

    def on_a_thread(name: str) -> None:
        both_alive.wait(timeout=10)
        found[name] = asyncio.run(sqlite_db.run_read_rows(_read))[1]
        both_alive.wait(timeout=10)

    threads = [threading.Thread(target=on_a_thread, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    here = asyncio.run(sqlite_db.run_read_rows(_read))[1]
    assert found["a"] is not found["b"]
    assert here is not found["a"]
    assert here is not found["b"]


def test_a_connection_that_cannot_end_its_transaction_is_discarded(
    sqlite_db: Database,
) -> None:
    first = asyncio.run(sqlite_db.run_read_rows(_read))[1]

    def breaks_it(reader: RowReader) -> None:
        reader.first("SELECT value FROM counter")
        reader._connection.driver_connection.close()  # the rollback will fail

    with pytest.raises(Exception, match="closed"):
        asyncio.run(sqlite_db.run_read_rows(breaks_it))
    value, second = asyncio.run(sqlite_db.run_read_rows(_read))
    assert value == 1
    assert second is not first
    assert sqlite_db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]


def test_dispose_hands_kept_connections_back(sqlite_db: Database) -> None:
    asyncio.run(sqlite_db.run_read_rows(_read))
    pool = sqlite_db.engine.pool
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    sqlite_db._kept.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert asyncio.run(sqlite_db.run_read_rows(_read))[0] == 1  # and reads go on
