"""Reading warehouse exports (JSON lines, CSV, Parquet) as a stream of dict rows.

Exports are routinely larger than memory, so every reader streams: text formats line by
line, Parquet by record batch. Each row keeps its position in the file (the physical
line for text formats, the 1-based row number for Parquet) so that rejected rows can be
found again. A row that cannot even be decoded (a bad JSON line) is still yielded, with
its problem, so that it is reported like any other rejected row rather than aborting
the import.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import msgspec

FORMATS = ("jsonl", "csv", "parquet")
_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# How many JSON lines are looked at to learn the columns of a file that declares none.
_PEEK_ROWS = 100
_PARQUET_BATCH_ROWS = 4096
_JSON_ARRAY = "the file holds a JSON array; expected JSON lines (one object per line)"


class InputError(Exception):
    """The file cannot be imported at all (exit status 2): nothing row-level about it."""


@dataclass(slots=True)
class RawRow:
    """One row as read: its values, or why it could not be decoded."""

    line: int
    values: dict[str, Any] | None
    # (reason, detail) when the row could not be decoded; values is then None.
    problem: tuple[str, str] | None = None
    raw: Any = None


def detect_format(path: Path, override: str | None = None) -> str:
    """The format named by ``override`` or by the file's extension (``.gz`` allowed)."""
    if override is not None:
        if override not in FORMATS:
            raise InputError(f"unknown format {override!r}; use one of {', '.join(FORMATS)}")
        return override
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    found = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise InputError(
            f"cannot tell the format of {path.name!r} from its extension; "
            f"name it .jsonl, .csv or .parquet (optionally .gz) or pass --format"
        )
    return found


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as probe:
        return probe.read(2) == b"\x1f\x8b"


class Source:
    """An open input file: its columns (when the format declares them) and its rows."""

    def __init__(self, path: Path, raw: IO[bytes]) -> None:
        self.path = path
        self.size = max(path.stat().st_size, 1)
        self.columns: list[str] | None = None
        self._raw = raw

    def _binary(self) -> IO[bytes]:
        """The decompressed byte stream (gzip is recognised by its magic number)."""
        if _is_gzip(self.path):
            return cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb"))
        return self._raw

    def rows(self) -> Iterator[RawRow]:
        raise NotImplementedError

    def done_fraction(self) -> float | None:
        """How far through the file reading is, for the progress bar."""
        try:
            return min(self._raw.tell() / self.size, 1.0)
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        self._raw.close()


class JsonLines(Source):
    """One JSON object per line; blank lines are skipped."""

    def __init__(self, path: Path, raw: IO[bytes]) -> None:
        super().__init__(path, raw)
        self._stream = self._binary()
        self._peeked: list[RawRow] = []
        self._lines = self._read()
        # JSON lines declare no columns: learn them from the first rows (kept for rows()).
        for row in self._lines:
            self._peeked.append(row)
            if len(self._peeked) >= _PEEK_ROWS:
                break
        names: dict[str, None] = {}
        for row in self._peeked:
            names.update(dict.fromkeys(row.values or {}))
        self.columns = list(names)

    def _read(self) -> Iterator[RawRow]:
        decoder = msgspec.json.Decoder()
        first = True
        for number, line in enumerate(self._stream, start=1):
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # a UTF-8 byte order mark, as some exporters write
            if not line.strip():
                continue
            was_first, first = first, False
            try:
                value = decoder.decode(line)
            except msgspec.DecodeError as exc:
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                if was_first and text.lstrip().startswith("["):
                    raise InputError(_JSON_ARRAY) from exc
                yield RawRow(number, None, ("invalid JSON", str(exc)), text)
                continue
            if was_first and isinstance(value, list):
                raise InputError(_JSON_ARRAY)
            if not isinstance(value, dict):
                yield RawRow(number, None, ("not a JSON object", type(value).__name__), value)
                continue
            yield RawRow(number, value, raw=value)

    def rows(self) -> Iterator[RawRow]:
        yield from self._peeked
        self._peeked = []
        yield from self._lines


class CsvRows(Source):
    """Comma-separated values with a header line; empty cells count as missing."""

    def __init__(self, path: Path, raw: IO[bytes]) -> None:
        super().__init__(path, raw)
        self._text = io.TextIOWrapper(self._binary(), encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._text)
        try:
            header = next(self._reader)
        except StopIteration:
            header = []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the CSV header: {exc}") from exc
        self.columns = [name.strip() for name in header]
        if not self.columns:
            raise InputError("the CSV file has no header line")

    def rows(self) -> Iterator[RawRow]:
        columns = self.columns or []
        while True:
            line = self._reader.line_num + 1
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read the CSV file near line {line}: {exc}") from exc
            if not cells:  # a blank line
                continue
            raw = dict(zip(columns, cells, strict=False))
            if len(cells) > len(columns):
                problem = ("malformed CSV row", f"{len(cells)} values for {len(columns)} columns")
                yield RawRow(line, None, problem, cells)
                continue
            values = {name: (cell if cell != "" else None) for name, cell in raw.items()}
            yield RawRow(line, values, raw=raw)


class ParquetRows(Source):
    """Parquet, read one record batch at a time; ``line`` is the 1-based row number."""

    def __init__(self, path: Path, raw: IO[bytes]) -> None:
        super().__init__(path, raw)
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(self._raw)
        except Exception as exc:  # pyarrow raises its own ArrowInvalid and OSError kinds
            raise InputError(f"not a readable Parquet file: {exc}") from exc
        self.columns = list(self._file.schema_arrow.names)
        self._total = max(int(self._file.metadata.num_rows), 1)
        self._done = 0

    def rows(self) -> Iterator[RawRow]:
        batches = iter(self._file.iter_batches(batch_size=_PARQUET_BATCH_ROWS))
        while True:
            try:
                batch = next(batches, None)
            except Exception as exc:  # a corrupt page: pyarrow's own error kinds
                problem = f"cannot read the Parquet file after row {self._done}: {exc}"
                raise InputError(problem) from exc
            if batch is None:
                return
            for values in batch.to_pylist():
                self._done += 1
                yield RawRow(self._done, values, raw=values)

    def done_fraction(self) -> float | None:
        return min(self._done / self._total, 1.0)


def open_source(path: Path, fmt: str) -> Source:
    """Open ``path`` for reading as ``fmt``; :class:`InputError` when it cannot be."""
    if not path.is_file():
        raise InputError(f"no such file: {os.fspath(path)}")
    readers: dict[str, type[Source]] = {
        "jsonl": JsonLines,
        "csv": CsvRows,
        "parquet": ParquetRows,
    }
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open {path.name}: {exc}") from exc
    try:
        return readers[fmt](path, raw)
    except BaseException as exc:
        raw.close()
        if isinstance(exc, (OSError, EOFError, zlib.error)):  # e.g. a corrupt gzip stream
            raise InputError(f"cannot read {path.name}: {exc}") from exc
        raise
