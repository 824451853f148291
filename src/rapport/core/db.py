"""Database engine: SQLite (embedded default, WAL) or PostgreSQL, behind one interface.

Services never hold a connection across an ``await``: async code calls
:meth:`Database.run` with a function of a connection, which runs in a worker thread
inside one transaction. Synchronous callers (CLI, workers) use :meth:`Database.begin`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from rapport.core.sql import driver_sql, pyformat
from rapport.core.writelock import FairLock

T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for ``postgresql://`` URLs and accept ``postgres://``."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the single writer; FULL makes each commit survive
    # power loss, which is what "acknowledged" promises.
    # The driver's own transaction handling is switched off: rapport emits BEGIN itself
    # (see _begin_sqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    # A transaction that may write takes SQLite's write lock up front (IMMEDIATE): a
    # deferred one that reads first and writes later can fail with SQLITE_BUSY when
    # another writer got in between, and busy_timeout cannot help it. Read-only work
    # asks for a deferred transaction with the `readonly` execution option.
    if connection.get_execution_options().get("readonly"):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


# JSON columns (properties, traits) are encoded on every write: msgspec does it several
# times faster than the standard library.
_JSON = {"json_serializer": _json_dumps, "json_deserializer": msgspec.json.decode}


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings rapport relies on."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=8,
            max_overflow=8,
            **_JSON,
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **_JSON)
    raise ValueError(f"Unsupported database URL scheme: {parsed.drivername}")


class Database:
    """The process's handle on its database."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        # Bound the threads that may hold a connection at once to the pool's size.
        self._limiter = anyio.CapacityLimiter(16)
        # SQLite has one writer: queue this process's writers in order (see writelock).
        self._writer: AbstractContextManager[object] = (
            FairLock() if self.dialect == "sqlite" else nullcontext()
        )
        self._kept = KeptConnections(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside a transaction, committed on success."""
        with self._writer, self.engine.begin() as connection:
            yield connection

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(connection, *args)`` in one transaction in a worker thread."""

        def call() -> T:
            with self.begin() as connection:
                return fn(connection, *args)

        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (no write lock on SQLite)."""
        connection = self.engine.connect().execution_options(readonly=True)
        with connection, connection.begin():
            yield connection

    async def run_read(self, fn: Callable[..., T], *args: Any) -> T:
        """Like :meth:`run`, for work that only reads."""

        def call() -> T:
            with self.read() as connection:
                return fn(connection, *args)

        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    async def run_read_local(self, fn: Callable[..., T], *args: Any) -> T:
        """Like :meth:`run_read`, but on SQLite in the calling thread: reading a few
        indexed rows of a local file takes less time than handing the work to a thread.
        PostgreSQL answers over the network, so its reads still leave the event loop."""
        if not self.is_sqlite:
            return await self.run_read(fn, *args)
        with self.read() as connection:
            return fn(connection, *args)

    @contextmanager
    def read_rows(self) -> Iterator[RowReader]:
        """A read-only transaction beneath SQLAlchemy: plain SQL on a DB-API cursor.

        For the per-request reads of the hot paths (a handful of indexed rows), where
        SQLAlchemy's statement and result layers cost several times what SQLite takes
        to answer. Statements are written with ``?`` placeholders; rows are tuples. The
        transaction begins at the first statement: a request answered from memory
        takes no connection at all.
        """
        with self._rows(None) as reader:
            yield reader

    @contextmanager
    def _rows(self, kept: KeptConnections | None) -> Iterator[RowReader]:
        reader = RowReader(self.engine, self.is_sqlite, kept)
        try:
            yield reader
        finally:
            reader.close()

    async def run_read_rows(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(reader, *args)`` in :meth:`read_rows`: on SQLite in the calling thread
        (see :meth:`run_read_local`), on PostgreSQL in a worker thread."""

        if self.is_sqlite:
            # The calling thread (an event loop) keeps its connection between requests:
            # taking one from the pool and handing it back costs more than the reads.
            with self._rows(self._kept) as reader:
                return fn(reader, *args)

        def call() -> T:
            with self.read_rows() as reader:
                return fn(reader, *args)

        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self._kept.close()
        self.engine.dispose()


def driver_rows(
    conn: Connection, statement: str, parameters: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Plain SQL (``?`` placeholders) on the DB-API cursor of ``conn``'s transaction:
    for reads of many small rows, where SQLAlchemy's result layer costs more than the
    query."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(driver_sql(conn, statement), parameters)
        return list(cursor.fetchall())
    finally:
        cursor.close()


class KeptConnections:
    """One pooled connection per thread, kept between transactions rather than handed
    back to the pool each time (SQLite's per-request reads on an event loop thread).

    Between transactions a kept connection holds no transaction, so it pins no WAL
    snapshot; a connection whose transaction could not be ended is discarded."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._by_thread: dict[int, Any] = {}
        self._lock = threading.Lock()

    def acquire(self) -> Any:
        connection = self._by_thread.get(threading.get_ident())
        if connection is None:
            connection = self._engine.raw_connection()
            with self._lock:
                self._by_thread[threading.get_ident()] = connection
        return connection

    def discard(self, connection: Any) -> None:
        """Stop keeping ``connection`` and close it for good (never back to the pool)."""
        with self._lock:
            if self._by_thread.get(threading.get_ident()) is connection:
                del self._by_thread[threading.get_ident()]
        connection.invalidate()

    def close(self) -> None:
        """Hand every kept connection back (the database is being disposed of)."""
        with self._lock:
            kept, self._by_thread = list(self._by_thread.values()), {}
        for connection in kept:
            connection.close()


class RowReader:
    """Plain SQL on a DB-API cursor in a read transaction begun on first use (see
    :meth:`Database.read_rows`), on a pooled connection or one the thread keeps."""

    __slots__ = ("_connection", "_cursor", "_engine", "_kept", "_qmark")

    def __init__(self, engine: Engine, qmark: bool, kept: KeptConnections | None = None) -> None:
        self._engine = engine
        self._qmark = qmark
        self._kept = kept
        self._connection: Any = None
        self._cursor: Any = None

    def _begin(self) -> Any:
        kept = self._kept
        self._connection = kept.acquire() if kept is not None else self._engine.raw_connection()
        self._cursor = self._connection.cursor()
        if self._qmark:  # the SQLite driver's own transaction handling is off
            self._cursor.execute("BEGIN")
        return self._cursor

    def close(self) -> None:
        """End the transaction (if one began) and hand the connection back (or keep it)."""
        connection, cursor = self._connection, self._cursor
        if connection is None:
            return
        self._connection = self._cursor = None
        try:
            cursor.close()
            connection.rollback()
        except BaseException:
            if self._kept is not None:
                self._kept.discard(connection)
            else:
                connection.close()
            raise
        if self._kept is None:
            connection.close()

    def all(self, statement: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of ``statement`` (written with ``?`` placeholders)."""
        cursor = self._begin() if self._cursor is None else self._cursor
        cursor.execute(statement if self._qmark else pyformat(statement), parameters)
        return list(cursor.fetchall())

    def first(self, statement: str, parameters: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of ``statement``, or None."""
        cursor = self._begin() if self._cursor is None else self._cursor
        cursor.execute(statement if self._qmark else pyformat(statement), parameters)
        row = cursor.fetchone()
        return None if row is None else tuple(row)
