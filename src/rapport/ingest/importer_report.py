"""What ``rapport import`` tells its user: a progress bar, the summary, the rejects file.

The progress bar is a dozen lines rather than a dependency: it only has to redraw one
line on stderr a few times a second, and only when stderr is a terminal (in a pipeline
or a log it would be noise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TextIO

import msgspec

EXAMPLE_LINES = 5


@dataclass(slots=True)
class Reason:
    """Rejected rows sharing one reason: how many, and the first few line numbers."""

    count: int = 0
    lines: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Summary:
    """The outcome of an import, printed at the end (as text or JSON)."""

    file: str
    format: str
    kind: str
    workspace: str
    dry_run: bool
    rows_read: int = 0
    imported: int = 0
    rejected: int = 0
    skipped_erased: int = 0
    # Messages this command processed into profiles; None when it left that to others.
    processed: int | None = None
    reasons: dict[str, Reason] = field(default_factory=dict)

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        entry = self.reasons.setdefault(reason, Reason())
        entry.count += 1
        if len(entry.lines) < EXAMPLE_LINES:
            entry.lines.append(line)

    @property
    def exit_code(self) -> int:
        """0 when every row was imported, 1 when some were rejected."""
        return 1 if self.rejected else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "kind": self.kind,
            "workspace": self.workspace,
            "dry_run": self.dry_run,
            "rows_read": self.rows_read,
            "imported": self.imported,
            "rejected": self.rejected,
            "skipped_erased": self.skipped_erased,
            "processed": self.processed,
            "rejected_by_reason": {
                reason: {"count": entry.count, "lines": entry.lines}
                for reason, entry in sorted(self.reasons.items(), key=lambda r: -r[1].count)
            },
        }

    def render(self) -> str:
        where = "row" if self.format == "parquet" else "line"
        figures = [
            ("rows read", f"{self.rows_read:,}"),
            ("would import" if self.dry_run else "imported", f"{self.imported:,}"),
            ("rejected", f"{self.rejected:,}"),
        ]
        if self.skipped_erased:
            figures.append(
                ("skipped", f"{self.skipped_erased:,} (users erased from the workspace)")
            )
        if self.processed is not None:
            figures.append(("processed", f"{self.processed:,} messages into profiles and events"))
        elif not self.dry_run:
            figures.append(("processing", "left to a running `rapport serve` or `rapport worker`"))
        header = f"{self.file} ({self.format}, {self.kind}) -> workspace {self.workspace!r}"
        out = [header + (" [dry run: nothing written]" if self.dry_run else "")]
        out += [f"  {label + ':':<14}{value}" for label, value in figures]
        if self.reasons:
            out.append("  rejected rows by reason (every one in --rejects FILE):")
        for reason, entry in sorted(self.reasons.items(), key=lambda r: -r[1].count):
            lines = ", ".join(str(n) for n in entry.lines)
            more = ", …" if entry.count > len(entry.lines) else ""
            s = "s" if entry.count != 1 else ""
            out.append(f"    - {reason}: {entry.count:,} row{s} ({where}{s} {lines}{more})")
        return "\n".join(out)


class RejectsFile:
    """Every rejected row as one JSON line: ``{"line", "reason", "detail", "row"}``."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.encoder = msgspec.json.Encoder(enc_hook=str)

    def write(self, line: int, reason: str, detail: str, row: Any) -> None:
        record = {"line": line, "reason": reason, "detail": detail, "row": row}
        self.stream.write(self.encoder.encode(record) + b"\n")


class Progress:
    """Rows read, rows per second and how far through the file, redrawn on one line."""

    def __init__(self, stream: TextIO, interval: float = 0.2) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.interval = interval
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._width = 0
        self._rows = self._rejected = 0
        self._fraction: Callable[[], float | None] = lambda: None

    def update(
        self, rows: int, rejected: int, fraction: Callable[[], float | None] = lambda: None
    ) -> None:
        """Redraw, at most every ``interval`` seconds (``fraction`` is only asked then)."""
        self._rows, self._rejected, self._fraction = rows, rejected, fraction
        now = time.monotonic()
        if self.enabled and now - self._drawn_at >= self.interval:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        rows, rejected, fraction = self._rows, self._rejected, self._fraction()
        rate = rows / max(now - self.started, 1e-6)
        text = f"importing: {rows:,} rows  {rate:,.0f} rows/s"
        if fraction is not None:
            text += f"  {fraction:4.0%}"
        if rejected:
            text += f"  {rejected:,} rejected"
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Draw the final figures and move to a new line."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
