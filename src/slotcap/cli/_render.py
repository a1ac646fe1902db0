"""Text output: aligned tables (Korean-aware), JSON documents, a progress line.

Results go to stdout, progress and errors to stderr, so ``--json`` output can be
piped to ``jq`` while a long backfill still shows where it is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TextIO, TypeVar

from slotcap.cli._progress import Bar, format_duration, rich_available
from slotcap.migration.backfill_report import BackfillProgress

__all__ = [
    "VERDICTS",
    "ProgressPrinter",
    "colour_enabled",
    "emit_json",
    "format_duration",
    "paint",
    "print_table",
    "show",
    "table_width",
    "width",
]


def width(text: str) -> int:
    """Terminal columns ``text`` takes: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, size: int, right: bool) -> str:
    fill = " " * max(size - width(text), 0)
    return fill + text if right else text + fill


#: SGR colours for the words that carry a verdict (PASS/FAIL, healthy/look at this).
_SGR = {"green": "32", "red": "31", "yellow": "33", "bold": "1"}
#: A verdict cell's colour in a table.
VERDICTS = {"PASS": "green", "FAIL": "red", "warn": "yellow"}


def colour_enabled(out: TextIO) -> bool:
    """Colour only for a person at a terminal: never in a pipe or a file (and so never
    in ``--json``, which is meant for one), never with ``NO_COLOR`` set to anything
    (no-color.org) or ``TERM=dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty is not None and isatty())


def paint(text: str, colour: str, out: TextIO | None = None) -> str:
    """``text`` in ``colour`` when :func:`colour_enabled` for ``out`` (stdout by default)."""
    if not colour_enabled(out or sys.stdout):
        return text
    return f"\x1b[{_SGR[colour]}m{text}\x1b[0m"


def table_width(out: TextIO) -> int | None:
    """Columns a table must fit: the terminal's, or ``COLUMNS`` when set; None (no
    folding) for a pipe or a file, where each row stays one line for grep and awk."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        return shutil.get_terminal_size().columns
    return None


def _wrap(text: str, size: int) -> list[str]:
    """``text`` in lines of at most ``size`` columns (wide characters count two), broken
    at spaces or commas where it can be, anywhere where it cannot."""
    lines: list[str] = []
    line = ""
    for word in re.findall(r"\S+,?\s*|\s+", text):
        if line and width(line + word.rstrip()) > size:
            lines.append(line.rstrip())
            line = ""
        while width(word.rstrip()) > size:  # one word longer than the column
            cut = size
            while width(word[:cut]) > size:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line += word
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    out: TextIO | None = None,
    right: Sequence[int] = (),
    indent: str = "",
    colours: dict[str, str] | None = None,
) -> None:
    """Print ``rows`` under ``headers``; columns listed in ``right`` are right-aligned.

    On a narrow terminal (:func:`table_width`) the widest column is folded onto more
    lines so that the table fits; a cell whose whole text is a key of ``colours`` is
    painted (:func:`paint`), padding measured on the plain text."""
    out = out or sys.stdout
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    sizes = [width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            sizes[i] = max(sizes[i], width(cell))
    limit = table_width(out)
    total = width(indent) + sum(sizes) + 2 * (len(sizes) - 1)
    if limit is not None and total > limit and sizes:
        widest = max(range(len(sizes)), key=lambda i: sizes[i])
        sizes[widest] = max(sizes[widest] - (total - limit), width(headers[widest]), 12)
    fold = {i for i, size in enumerate(sizes)
            if any(width(row[i]) > size for row in cells if i < len(row))}

    def line(values: Sequence[str], *, paint_cells: bool) -> str:
        parts = []
        for i, value in enumerate(values):
            padded = _pad(value, sizes[i], i in right)
            if paint_cells and colours and value in colours:
                padded = paint(value, colours[value], out) + padded[len(value):]
            parts.append(padded)
        return (indent + "  ".join(parts)).rstrip()

    print(line(list(headers), paint_cells=False), file=out)
    print(indent + "  ".join("-" * s for s in sizes), file=out)
    for row in cells:
        pieces = [_wrap(cell, sizes[i]) if i in fold else [cell] for i, cell in enumerate(row)]
        for n in range(max(len(p) for p in pieces)):
            print(line([p[n] if n < len(p) else "" for p in pieces], paint_cells=n == 0),
                  file=out)


def emit_json(document: Any, *, out: TextIO | None = None) -> None:
    """One JSON document on stdout. Korean stays readable (no ``\\uXXXX``)."""
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str), file=out or sys.stdout)


class _Report(Protocol):
    def to_dict(self) -> Any: ...


_R = TypeVar("_R", bound=_Report)


def show(args: Any, report: _R, text: Callable[[_R], object]) -> None:
    """A command's report: its ``to_dict()`` as JSON under ``--json``, else ``text``."""
    if args.json:
        emit_json(report.to_dict())
    else:
        text(report)


class ProgressPrinter:
    """Backfill progress on stderr: one rewritten line on a terminal, otherwise a
    line every ``interval`` seconds (logs and CI stay readable)."""

    def __init__(self, *, out: TextIO | None = None, interval: float = 2.0) -> None:
        self._out = out or sys.stderr
        self._tty = self._out.isatty()
        self._interval = interval
        self._last = 0.0
        self._pending = ""
        # On a terminal with the cli extra: rich's bar (slotcap.cli._progress).
        self._bar: Bar | None = None
        self._use_bar = self._tty and rich_available()

    def __call__(self, progress: BackfillProgress) -> None:
        if self._use_bar:
            if self._bar is None:
                label = "backfill (dry run)" if progress.dry_run else "backfill"
                self._bar = Bar(label, progress.rows_total, out=self._out)
            verb = "to write" if progress.dry_run else "written"
            note = f"{progress.rows_written:,} {verb}" + (
                f", throttled: {progress.throttled}" if progress.throttled else "")
            self._bar.update(progress.rows_done, rate=progress.rows_per_second,
                             eta=progress.eta_seconds, note=note)
            return
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
        if self._bar is not None:
            self._bar.finish()
            self._bar = None
            return
        if self._pending == "\n":
            self._out.write("\n")
        elif self._pending:
            print(self._pending, file=self._out)
        self._out.flush()
        self._pending = ""
