"""Jittered, growing pauses inside a deadline: how a busy operation is retried.

One operation has one deadline (``time.monotonic()`` + the store's ``busy_budget``),
shared by every layer that retries for it: a :class:`Budget` carries it with the
number of retries made, and every retry loop asks it (``retry()``) before starting a
new attempt, so no attempt starts past the deadline and no pause runs past it.
"""

from __future__ import annotations

import random
import time

__all__ = ["Budget", "backoff"]

#: Base of the pause before the first retry, seconds (doubles per attempt, capped).
BASE_SECONDS = 0.02


def backoff(deadline: float, attempt: int) -> bool:
    """Sleep before retry ``attempt`` (1, 2, …) if the ``time.monotonic()``
    ``deadline`` leaves room; False (without sleeping) once the budget is spent."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    # Full jitter spreads the retries of operations that were turned away together.
    pause = random.uniform(0, BASE_SECONDS * 2 ** min(attempt, 6))  # noqa: S311 (not crypto)
    time.sleep(min(pause, remaining))
    return time.monotonic() < deadline


class Budget:
    """One operation's retry budget: its ``deadline`` (``time.monotonic()``) and the
    ``retries`` made so far. ``Budget.of(seconds)`` starts one now."""

    __slots__ = ("deadline", "retries")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.retries = 0

    @classmethod
    def of(cls, seconds: float) -> Budget:
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds until the deadline (negative once past it)."""
        return self.deadline - time.monotonic()

    def spent(self) -> bool:
        return self.left() <= 0

    def retry(self) -> bool:
        """Pause (jittered, growing) before the next attempt; False, without pausing
        beyond the deadline, when no attempt may start any more."""
        self.retries += 1
        return backoff(self.deadline, self.retries)
