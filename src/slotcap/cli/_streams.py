"""stdout and stderr that a closed reader cannot break.

``slotcap migrate --to phase1 2>&1 | head -1``: once ``head`` exits, every write raises
``BrokenPipeError``. Letting that exception unwind a command would abort a migration
half-way — and the old ``except BrokenPipeError: return 0`` then reported success.
Output that cannot be written must change neither what a command does nor what it
reports, so each stream swallows the failure, drops what follows, and the command runs
to its end and returns its own exit code (a deploy script with ``set -o pipefail`` sees
the truth). The file descriptor is pointed at ``/dev/null`` at the same moment, so the
interpreter's last flush at exit prints no "Exception ignored" either.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["GuardedStream", "guarded_streams"]

#: A write to a reader that went away: a pipe (EPIPE), a socket (ECONNRESET).
_GONE = frozenset({errno.EPIPE, errno.ECONNRESET})


class GuardedStream:
    """A text stream whose writes never raise because the reader left; ``lost`` tells
    whether output was dropped. Everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.lost = False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._lose(exc)
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._stream.flush()
            except OSError as exc:
                self._lose(exc)

    def _lose(self, exc: OSError) -> None:
        if exc.errno not in _GONE:
            raise exc
        self.lost = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def guarded_streams() -> Iterator[tuple[GuardedStream, GuardedStream]]:
    """``sys.stdout`` and ``sys.stderr`` guarded for the block, restored after it."""
    saved = sys.stdout, sys.stderr
    out, err = GuardedStream(sys.stdout), GuardedStream(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        for guarded in (out, err):
            guarded.flush()
        sys.stdout, sys.stderr = saved
