"""Test hooks at every step boundary of a migration transition.

The runner calls :func:`checkpoint` before and after every step
(``"<from>-><to>:<step>:before"`` / ``":after"``) and batch loops call it after each
committed batch (``":batch"``). Two environment variables act on it:

* ``SLOTCAP_CHECKPOINT_LOG=<file>``: append every label reached, one per line
  (flushed and fsynced, so a SIGKILL right after loses nothing);
* ``SLOTCAP_KILL_AT=<label>`` or ``<label>#N``: SIGKILL this process the first (or
  N-th) time that label is reached — what the kill-point tests use to die at an exact
  place. Unset in production, both cost one dictionary lookup per step or batch.
"""

from __future__ import annotations

import os
import signal

__all__ = ["KILL_ENV", "LOG_ENV", "checkpoint", "reset_counts"]

LOG_ENV = "SLOTCAP_CHECKPOINT_LOG"
KILL_ENV = "SLOTCAP_KILL_AT"

#: How often each label has been reached in this process (for ``label#N``).
_COUNTS: dict[str, int] = {}


def reset_counts() -> None:
    """Forget the per-label counts (tests that run several transitions in one process)."""
    _COUNTS.clear()


def _wanted(spec: str) -> tuple[str, int]:
    label, sep, nth = spec.rpartition("#")
    if sep and nth.isdigit() and int(nth) >= 1:
        return label, int(nth)
    return spec, 1


def checkpoint(label: str) -> None:
    """Log ``label`` and die here if ``SLOTCAP_KILL_AT`` names it (see module doc)."""
    log = os.environ.get(LOG_ENV)
    kill = os.environ.get(KILL_ENV)
    if not log and not kill:
        return
    count = _COUNTS[label] = _COUNTS.get(label, 0) + 1
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(label + "\n")
            out.flush()
            os.fsync(out.fileno())
    if kill:
        wanted, nth = _wanted(kill)
        if wanted == label and count == nth:
            os.kill(os.getpid(), signal.SIGKILL)
