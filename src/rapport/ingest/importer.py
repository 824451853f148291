"""``rapport import``: bulk import of warehouse exports through the inbox.

Imported rows take the same road as HTTP ingestion: each becomes canonical messages
(:mod:`rapport.ingest.importer_rows`), written to the inbox in transactions of
``chunk_rows`` rows, and processing turns them into events, profiles and devices. So
an import follows every rule live data follows (identity resolution, merges, event
categories, PII policy, "last write by event time wins", erased users staying erased)
without a second implementation of any of them.

Re-running an import is harmless: event rows keep their event id or get one derived
from their content, and both the inbox and the events table store an event id once;
user attribute rows carry the export's time, so applying them again changes nothing.

Rows of users erased from the workspace are skipped here (and would be dropped by
processing anyway), so the summary can say how many there were.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from sqlalchemy import Connection

from rapport.core.db import Database
from rapport.ingest import messages as msg
from rapport.ingest.common import inbox_rows
from rapport.ingest.import_formats import InputError, RawRow, Source, detect_format, open_source
from rapport.ingest.importer_report import Progress, RejectsFile, Summary
from rapport.ingest.importer_rows import Kind, Layout, RowRejected, detect_kind, row_messages
from rapport.ingest.storage import write_inbox
from rapport.profiles import identity as ident
from rapport.profiles import storage as profile_storage
from rapport.workspaces import storage as workspace_storage

__all__ = ["ImportFile", "InputError", "resolve_workspace"]

CHUNK_ROWS = 1000
_MAX_LAYOUTS = 1000
# A callable that processes queued messages until the inbox is empty; returns how many.
Drain = Callable[[], int]


def resolve_workspace(conn: Connection, requested: str | None) -> str:
    """The named workspace, or the database's only one (the rule of ``rapport keys``)."""
    if requested is not None:
        if workspace_storage.get_workspace(conn, requested) is None:
            raise InputError(f"workspace {requested!r} does not exist")
        return requested
    ids = workspace_storage.workspace_ids(conn, limit=2)
    if not ids:
        raise InputError("the database has no workspace yet; run `rapport init` first")
    if len(ids) > 1:
        raise InputError("the database has several workspaces; name one with --workspace")
    return str(ids[0])


def _guarded(rows: Iterator[RawRow]) -> Iterator[RawRow]:
    """Reading errors in the middle of a file (a truncated gzip stream) make it unusable."""
    try:
        yield from rows
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read the rest of the file: {exc}") from exc


@dataclass(slots=True)
class _Pending:
    line: int
    messages: list[msg.Message]


class ImportFile:
    """An export opened and understood (format, kind, columns), ready to import.

    Opening checks everything that makes the file unusable as a whole, before the
    database is touched; :meth:`run` then reads it once, streaming.
    """

    def __init__(self, path: Path, fmt: str | None = None, kind: Kind | None = None) -> None:
        self.path = path
        self.format = detect_format(path, fmt)
        self.source: Source = open_source(path, self.format)
        try:
            columns = self.source.columns or []
            self.kind: Kind = kind or detect_kind(columns)
            layout = Layout.of(self.kind, columns)
            missing = layout.missing()
            if missing and (columns or self.format != "jsonl"):
                names = ", ".join(name.replace("_", " ") for name in missing)
                raise InputError(f"no {names} column in {path.name} (columns: {columns})")
        except BaseException:
            self.source.close()
            raise
        self._layouts = {tuple(columns): layout}
        # User attributes without a time of their own are as of the export.
        self.as_of = path.stat().st_mtime

    def __enter__(self) -> ImportFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.source.close()

    def _layout(self, values: dict[str, object]) -> Layout:
        # JSON lines may differ in their keys from one line to the next.
        key = tuple(values)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= _MAX_LAYOUTS:  # sparse lines: do not grow without end
                self._layouts.clear()
            layout = self._layouts[key] = Layout.of(self.kind, list(key))
        return layout

    def run(
        self,
        database: Database,
        *,
        workspace: str | None = None,
        dry_run: bool = False,
        drain: Drain | None = None,
        rejects: IO[bytes] | None = None,
        progress: Progress | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> Summary:
        """Import every row; ``drain`` (unless ``dry_run``) processes after each chunk."""
        with database.read() as conn:
            workspace_id = resolve_workspace(conn, workspace)
        summary = Summary(
            file=self.path.name,
            format=self.format,
            kind=self.kind,
            workspace=workspace_id,
            dry_run=dry_run,
            processed=0 if drain is not None and not dry_run else None,
        )
        writer = _ChunkWriter(database, workspace_id, summary, dry_run, drain)
        rejected = RejectsFile(rejects) if rejects is not None else None
        pending: list[_Pending] = []
        try:
            for row in _guarded(self.source.rows()):
                summary.rows_read += 1
                try:
                    if row.problem is not None:
                        raise RowRejected(*row.problem)
                    assert row.values is not None
                    values = row.values
                    messages = row_messages(values, self._layout(values), self.as_of)
                except RowRejected as exc:
                    summary.reject(row.line, exc.reason)
                    if rejected is not None:
                        rejected.write(row.line, exc.reason, exc.detail, row.raw)
                else:
                    pending.append(_Pending(row.line, messages))
                    if len(pending) >= chunk_rows:
                        writer.write(pending)
                        pending = []
                if progress is not None:
                    progress.update(summary.rows_read, summary.rejected, self.source.done_fraction)
        except InputError:
            # What was read before an unreadable part is still imported: a re-run after
            # fixing the file is idempotent.
            writer.write(pending)
            raise
        finally:
            if progress is not None:
                progress.close()
        writer.write(pending)
        return summary


class _ChunkWriter:
    """Writes rows to the inbox, one transaction per chunk, then lets processing run."""

    def __init__(
        self,
        database: Database,
        workspace_id: str,
        summary: Summary,
        dry_run: bool,
        drain: Drain | None,
    ) -> None:
        self.database = database
        self.workspace_id = workspace_id
        self.summary = summary
        self.dry_run = dry_run
        self.drain = drain

    def write(self, pending: list[_Pending]) -> None:
        if not pending:
            return
        if self.dry_run:
            with self.database.read() as conn:
                kept = self._not_erased(conn, pending)
        else:
            with self.database.begin() as conn:
                kept = self._not_erased(conn, pending)
                messages = [m for p in kept for m in p.messages]
                write_inbox(conn, inbox_rows(self.workspace_id, messages))
        self.summary.imported += len(kept)
        self.summary.skipped_erased += len(pending) - len(kept)
        if self.drain is not None and not self.dry_run and self.summary.processed is not None:
            self.summary.processed += self.drain()

    def _not_erased(self, conn: Connection, pending: list[_Pending]) -> list[_Pending]:
        """The rows whose user has not been erased from the workspace."""
        keys = {id(p): _suppression_keys(p.messages[0]) for p in pending}
        wanted = [key for ks in keys.values() for key in ks]
        erased = profile_storage.suppressed(conn, self.workspace_id, wanted)
        if not erased:
            return pending
        return [p for p in pending if not any(k in erased for k in keys[id(p)])]


def _suppression_keys(message: msg.Message) -> list[tuple[str, str]]:
    keys = []
    if message.external_id:
        keys.append((ident.EXTERNAL, ident.digest(message.external_id)))
    if message.anonymous_id:
        keys.append((ident.ANONYMOUS, ident.digest(message.anonymous_id)))
    return keys
