"""What every store does with the clinic's closures once it has read them: pick those
of one (date, period) for the facts, and apply them to a calendar. Pure (the stores
read the rows; ``slotcap.domain.closures`` decides)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from slotcap.domain.closures import Closure, applying, effective
from slotcap.domain.model import Period
from slotcap.ports import CalendarEntry

__all__ = ["closures_for", "with_closures"]


def closures_for(
    closures: Sequence[Closure], day: dt.date, period: Period
) -> tuple[Closure, ...]:
    """The closures of ``day``'s ``period`` (empty at once when there are none)."""
    return applying(closures, day, period) if closures else ()


def with_closures(
    entries: list[CalendarEntry], closures: Sequence[Closure]
) -> list[CalendarEntry]:
    """``entries`` with each date's closures applied: a closure shuts the period
    (capacity 0, its reason in ``closed_reason``), an override sets its capacity."""
    if not closures:
        return entries
    out = []
    for entry in entries:
        applied = applying(closures, entry.day, entry.period)
        result = effective(entry.capacity if entry.is_open else None, applied) if applied \
            else None
        if result is None:
            out.append(entry)
        elif result.closed_reason is not None:
            out.append(attrs.evolve(entry, is_open=False, capacity=0,
                                    closed_reason=result.closed_reason))
        else:
            out.append(attrs.evolve(entry, capacity=result.capacity))
    return out
