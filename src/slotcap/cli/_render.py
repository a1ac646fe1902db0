"""Text output: aligned tables (Korean-aware), JSON documents, a progress line.

Results go to stdout, progress and errors to stderr, so ``--json`` output can be
piped to ``jq`` while a long backfill still shows where it is.
"""

from __future__ import annotations

import json
import sys
import time
import unicodedata
from collections.abc import Sequence
from typing import Any, TextIO

from slotcap.migration.backfill_report import BackfillProgress

__all__ = ["ProgressPrinter", "emit_json", "format_duration", "print_table", "width"]


def width(text: str) -> int:
    """Terminal columns ``text`` takes: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, size: int, right: bool) -> str:
    fill = " " * max(size - width(text), 0)
    return fill + text if right else text + fill


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    out: TextIO | None = None,
    right: Sequence[int] = (),
    indent: str = "",
) -> None:
    """Print ``rows`` under ``headers``; columns listed in ``right`` are right-aligned."""
    out = out or sys.stdout
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    sizes = [width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            sizes[i] = max(sizes[i], width(cell))
    print(indent + "  ".join(_pad(h, sizes[i], i in right) for i, h in enumerate(headers)).rstrip(),
          file=out)
    print(indent + "  ".join("-" * s for s in sizes), file=out)
    for row in cells:
        print(indent + "  ".join(_pad(c, sizes[i], i in right) for i, c in enumerate(row)).rstrip(),
              file=out)


def emit_json(document: Any, *, out: TextIO | None = None) -> None:
    """One JSON document on stdout. Korean stays readable (no ``\\uXXXX``)."""
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str), file=out or sys.stdout)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressPrinter:
    """Backfill progress on stderr: one rewritten line on a terminal, otherwise a
    line every ``interval`` seconds (logs and CI stay readable)."""

    def __init__(self, *, out: TextIO | None = None, interval: float = 2.0) -> None:
        self._out = out or sys.stderr
        self._tty = self._out.isatty()
        self._interval = interval
        self._last = 0.0
        self._pending = ""

    def __call__(self, progress: BackfillProgress) -> None:
        total = max(progress.rows_total, 1)
        line = (
            f"backfill{' (dry run)' if progress.dry_run else ''}: "
            f"{progress.rows_done:,}/{progress.rows_total:,} rows "
            f"({100.0 * progress.rows_done / total:.0f}%), "
            f"{progress.rows_written:,} {'to write' if progress.dry_run else 'written'}, "
            f"{progress.rows_per_second:,.0f} rows/s, ETA {format_duration(progress.eta_seconds)}"
            + (f" — throttled: {progress.throttled}" if progress.throttled else "")
        )
        now = time.monotonic()
        if self._tty:
            self._out.write("\r" + line + "\x1b[K")
            self._out.flush()
            self._pending = "\n"
        elif now - self._last >= self._interval:
            print(line, file=self._out, flush=True)
            self._pending = ""
        else:
            self._pending = line
            return
        self._last = now

    def finish(self) -> None:
        """End the progress output (the last line, if it was throttled)."""
        if self._pending == "\n":
            self._out.write("\n")
        elif self._pending:
            print(self._pending, file=self._out)
        self._out.flush()
        self._pending = ""
