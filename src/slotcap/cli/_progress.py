"""Progress of a long step, on stderr: a bar with rate and ETA on a terminal, plain lines
elsewhere.

On a terminal, with the ``cli`` extra installed, the bar is rich's (``pip install
'slotcap[cli]'``): it redraws in place, fits the terminal's width and shows the rate
and the time left. Without rich, or when stderr is not a terminal (a pipe, a log, CI),
the same facts are one plain line every ``interval`` seconds and a last one at the end,
so logs stay readable. rich is imported only here and only when a bar is drawn, so
``slotcap --help`` and every command without a long step never load it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Bar", "format_duration", "rich_available"]


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


def rich_available() -> bool:
    try:
        import rich.progress  # noqa: F401
    except ImportError:
        return False
    return True


class Bar:
    """``update(done)`` as a step advances, ``finish()`` at its end (also on error).

    ``rate``/``eta`` may be given by a caller that measures them itself (the backfill,
    which sleeps between batches on purpose); otherwise they come from the elapsed time.
    """

    def __init__(self, label: str, total: int, *, unit: str = "rows",
                 out: TextIO | None = None, interval: float = 2.0) -> None:
        self._label, self._total, self._unit = label, max(total, 0), unit
        self._out = out or sys.stderr
        self._interval = interval
        self._started = time.monotonic()
        self._last_line = 0.0
        self._pending = ""
        self._rich: Any = None
        self._task: Any = None
        if self._out.isatty() and rich_available():
            self._start_rich()

    def _start_rich(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        console = Console(file=self._out)  # honours NO_COLOR and TERM=dumb by itself
        self._rich = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), TextColumn("{task.fields[rate]}"),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
            console=console,
        )
        self._rich.start()
        self._task = self._rich.add_task(self._label, total=self._total or None,
                                          rate="", note="")

    def update(self, done: int, *, rate: float | None = None, eta: float | None = None,
               note: str = "") -> None:
        elapsed = time.monotonic() - self._started
        if rate is None:
            rate = done / elapsed if elapsed > 0 else 0.0
        if eta is None and rate > 0:
            eta = max(self._total - done, 0) / rate
        if self._rich is not None:
            self._rich.update(self._task, completed=done,
                              rate=f"{rate:,.0f} {self._unit}/s",
                              note=f"— {note}" if note else "")
            return
        share = 100.0 * done / self._total if self._total else 100.0
        line = (f"{self._label}: {done:,}/{self._total:,} {self._unit} ({share:.0f}%), "
                f"{rate:,.0f} {self._unit}/s, ETA {format_duration(eta)}"
                + (f" — {note}" if note else ""))
        now = time.monotonic()
        if now - self._last_line >= self._interval:
            print(line, file=self._out, flush=True)
            self._last_line, self._pending = now, ""
        else:
            self._pending = line

    def finish(self) -> None:
        """The last state stays on screen (or is printed, if it was held back)."""
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
        elif self._pending:
            print(self._pending, file=self._out, flush=True)
            self._pending = ""
