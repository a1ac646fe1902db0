"""Read a free-text ``preferredTime`` ("9:00 AM", "오전 9시 반", "2:00", "평일 오후") as a period.

The rule of this module: **never guess**. A text is read only when one reading is
possible; anything unreadable, ambiguous or self-contradictory abstains
(``period is None``) with a machine-readable ``reason``, and goes to manual review.
A wrong period silently moves a patient's booking to the other half of the day.

Pipeline: normalise (NFKC, case, spacing) → lex (one precompiled pattern) → group
(clocks, qualifiers, ranges, options) → resolve (24-hour / am-pm / words / clinic
hours for bare hours) → decide (options must agree). ``docs/parser.md`` has every rule,
every reason code and every decision.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from typing import Final

from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.domain.timeparse._group import Unit, group
from slotcap.domain.timeparse._hours import ClinicHours, clinic_hours
from slotcap.domain.timeparse._normalise import normalise
from slotcap.domain.timeparse._resolve import Cands, Fail, resolve_unit, settle
from slotcap.domain.timeparse._result import (
    ABSTAIN_REASONS,
    READ_REASONS,
    REASONS,
    ParsedTime,
    abstain,
    period_of_clock,
)
from slotcap.domain.timeparse._scan import lex
from slotcap.domain.timeparse._words import DayWord

__all__ = [
    "ABSTAIN_REASONS",
    "READ_REASONS",
    "REASONS",
    "ParsedTime",
    "parse_preferred_time",
    "period_of_clock",
]

#: Longer texts are notes, not times (and would bloat the cache).
MAX_LENGTH: Final = 500

_ALNUM: Final = re.compile(r"[^\W_]")
# Normalised text has single spaces, so " ?" covers every spacing the lexer accepts here
# ("14 : 00", "9시 반"); a 시 without 오전/오후 ("9시", "14시 30분") is a clock as well.
_QUICK_CLOCK: Final = re.compile(r"(\d{1,2}) ?: ?(\d{2})(?: ?([ap])\.?m\.?)?")
_QUICK_KOREAN: Final = re.compile(r"(?:(오전|오후) ?)?(\d{1,2}) ?시(?: ?(\d{1,2}) ?분| ?(반))?")
_AFTERNOON_MARKS: Final = frozenset({"p", "오후"})


def _quick_read(
    hour: int, minute: int, padded: bool, mark: str | None, hours: ClinicHours
) -> ParsedTime | None:
    """The commonest shapes without the general machinery; None = let it decide.

    Only the plain cases are answered here (hour 1-23, minutes 0-59); everything else
    (midnight, 24:00, impossible values) goes the general way. A property test checks
    that both ways give the same result.
    """
    if not 1 <= hour <= 23 or minute > 59:
        return None
    if mark is not None:
        if hour > 12:
            return None
        hour = hour % 12 + (12 if mark in _AFTERNOON_MARKS else 0)
        if hour == 0:
            return None
        reason = "korean_ampm_hour" if len(mark) > 1 else "clock_12h_ampm"
    elif hour >= 12 or padded:
        reason = "clock_24h"
    else:
        seconds = hour * 3600 + minute * 60
        read = settle(Cands((seconds, seconds + 12 * 3600), 0, "bare"), hours)
        if isinstance(read, Fail):
            return abstain(read.reason, ambiguous=read.ambiguous)
        return ParsedTime(read.period, _clock(read.seconds), False, read.reason)
    period = Period.MORNING if hour < 12 else Period.AFTERNOON
    return ParsedTime(period, dt.time(hour, minute), False, reason)


def _quick(text: str, hours: ClinicHours) -> ParsedTime | None:
    """``H:MM [am|pm]`` and ``[오전|오후] N시 [M분|반]``, the commonest shapes."""
    if m := _QUICK_CLOCK.fullmatch(text):
        hour, minute, mark = m.groups()
        padded = hour[0] == "0" and len(hour) == 2
        return _quick_read(int(hour), int(minute), padded, mark, hours)
    if m := _QUICK_KOREAN.fullmatch(text):
        word, hour, minute, half = m.groups()
        padded = hour[0] == "0" and len(hour) == 2
        return _quick_read(int(hour), 30 if half else int(minute or 0), padded, word, hours)
    return None


def _clock(seconds: int | None) -> dt.time | None:
    if seconds is None:
        return None
    return dt.time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def _words_only(context: Sequence[DayWord], no_preference: bool) -> ParsedTime:
    for word in context:
        if word.period is not None and word.word_reason is not None:
            return ParsedTime(word.period, None, False, word.word_reason)
    return abstain("no_preference" if no_preference else "unreadable")


def _finish(
    units: Sequence[Unit],
    context: Sequence[DayWord],
    hours: ClinicHours,
    *,
    no_preference: bool = False,
) -> ParsedTime:
    """Every unit must read, and all of them (and the context words) must agree."""
    if len(units) == 1 and not context:
        # The common case ("9:00 AM", "오후 2시"): nothing to agree with.
        read = resolve_unit(units[0], context, hours)
        if isinstance(read, Fail):
            return abstain(read.reason, ambiguous=read.ambiguous)
        return ParsedTime(read.period, _clock(read.seconds), False, read.reason)
    context_periods = {w.period for w in context} - {None}
    if len(context_periods) > 1:
        return abstain("conflicting", ambiguous=True)  # "오전/오후", "morning or afternoon"
    if not units:
        return _words_only(context, no_preference)
    reads = []
    for unit in units:
        read = resolve_unit(unit, context, hours)
        if isinstance(read, Fail):
            return abstain(read.reason, ambiguous=read.ambiguous)
        reads.append(read)
    if len({r.period for r in reads} | context_periods) > 1:
        return abstain("conflicting", ambiguous=True)  # "10시나 3시", "10am, afternoon"
    first = reads[0]
    if any(r.seconds != first.seconds for r in reads[1:]):
        # "9시나 10시": the period is certain, the clock is not.
        return ParsedTime(first.period, None, False, "options_agree")
    return ParsedTime(first.period, _clock(first.seconds), False, first.reason)


def _general(text: str, hours: ClinicHours) -> ParsedTime:
    lexed = lex(text)
    if lexed.negated:
        # "오전 안 돼요", "not mornings": reading the words would invert the meaning.
        return abstain("negated")
    grouped = group(text, lexed)
    return _finish(grouped.units, grouped.context, hours, no_preference=lexed.no_preference)


def _decide(text: str, hours: ClinicHours) -> ParsedTime:
    if _ALNUM.search(text) is None:
        return abstain("empty")  # "", "-", "?", "..."
    if len(text) > MAX_LENGTH:
        return abstain("too_long")
    quick = _quick(text, hours)
    if quick is not None:
        return quick
    return _general(text, hours)


@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str, hours: ClinicHours) -> ParsedTime:
    # Pure in (text, hours); ParsedTime is frozen, so sharing results is safe.
    return _decide(normalise(text), hours)


def parse_preferred_time(text: str, *, hours: Iterable[ClinicTimeSlot] | None = None) -> ParsedTime:
    """Read ``text`` as a MORNING / AFTERNOON preference, or abstain.

    ``hours`` (default: ``DEFAULT_TIME_SLOTS``) decide bare hours only: "2:00" is 14:00
    when the clinic is open at 14:00 but not at 02:00. Never raises on any ``str``.
    """
    if not isinstance(text, str):
        return abstain("not_a_string")
    reduced = clinic_hours(hours)
    if len(text) > 4 * MAX_LENGTH:
        return abstain("too_long")  # do not normalise or cache megabytes
    try:
        return _parse_cached(text, reduced)
    except Exception:  # pragma: no cover - a bug must abstain, not break a booking
        return abstain("internal_error")
