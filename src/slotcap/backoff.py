"""Jittered, growing pauses inside a deadline: how a busy operation is retried."""

from __future__ import annotations

import random
import time

__all__ = ["backoff"]

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
