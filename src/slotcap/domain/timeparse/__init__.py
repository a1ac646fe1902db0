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
import re
from collections.abc import Iterable, Sequence
from typing import Final

from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.domain.timeparse._group import Unit, group
from slotcap.domain.timeparse._hours import DEFAULT_HOURS, ClinicHours, clinic_hours
from slotcap.domain.timeparse._negation import read_negated
from slotcap.domain.timeparse._normalise import normalise
from slotcap.domain.timeparse._resolve import Cands, Fail, resolve_unit, settle
from slotcap.domain.timeparse._result import (
    ABSTAIN_REASONS,
    READ_REASONS,
    REASONS,
    ParsedTime,
    abstain,
    clock_of_seconds,
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
# People wrap a time in a label, an approximation or a polite ending ("희망 시간: 9:40 AM",
# "약 14:30 정도", "오후 3시에 가능해요", "15:00 please"). None of these words is a token of
# the lexer or a range/bound word of the grouping, so the general path reads such a text
# exactly as the bare shape (the answer-equality property test draws them too).
_QUICK_PREFIX: Final = (
    r"(?:(?:희망 ?시간|예약 ?시간|시간|희망|preferred(?: time)?|time): ?|가능하면 |되도록 "
    r"|(?:around|about|약|대략) )?"
)
_QUICK_SUFFIX: Final = (
    r"(?: ?(?:쯤|경|즈음|정도|무렵))?(?:에 가능해요|에 가능합니다|에 가능|에 예약(?: 희망)?|에 방문"
    r"|으로 부탁드립니다|로 부탁드립니다| 부탁드립니다| 부탁해요|이요|요| please| 희망합니다"
    r"| 희망해요| 희망| 선호)?[.!]?"
)


def _quick_pattern(am: str, m: str, flags: int = 0) -> re.Pattern[str]:
    # One pattern for both shapes: "H:MM [am|pm]" (groups 1-3) or "[오전|오후] N시 [M분|반]"
    # (groups 4-7), so a text costs one match whichever it is.
    return re.compile(
        _QUICK_PREFIX
        + rf"(?:(\d{{1,2}}) ?: ?(\d{{2}})(?: ?({am})\.?{m}\.?)?"
        + r"|(?:(오전|오후) ?)?(\d{1,2}) ?시(?: ?(\d{1,2}) ?분| ?(반))?)"
        + _QUICK_SUFFIX,
        flags,
    )


_QUICK: Final = _quick_pattern("[ap]", "m")
# The same shapes on the text as received, tried before normalising it: ASCII digits and
# spaces only (re.ASCII), and upper-case marks ("9:40 AM"). Every character this can
# match (ASCII, precomposed Hangul syllables) is NFKC-stable and no look-alike, and it
# admits no double, outer or non-ASCII space, so normalising such a text would only
# lower-case its am/pm: the answer is the same, and normalising (~1 µs) is skipped.
_QUICK_RAW: Final = _quick_pattern("[apAP]", "[mM]", re.ASCII)
_AFTERNOON_MARKS: Final = frozenset({"p", "P", "오후"})
# Every result the quick path gives for an explicit clock (hour 1-23, minute 0-59), built
# once at import: a static table of values, not a memory of texts (first sight stays first
# sight), so a call looks its answer up instead of building an attrs object and a time.
_QUICK_REASONS: Final = ("clock_24h", "clock_12h_ampm", "korean_ampm_hour")
_EXPLICIT: Final[dict[str, tuple[ParsedTime, ...]]] = {
    reason: tuple(
        ParsedTime(
            Period.MORNING if hour < 12 else Period.AFTERNOON, dt.time(hour, minute), False, reason
        )
        for hour in range(24)
        for minute in range(60)
    )
    for reason in _QUICK_REASONS
}


def _decide(text: str, hours: ClinicHours, *, raw: bool = False) -> ParsedTime:
    """The answer for normalised text (``raw``: text as received), common shapes at once.

    ``H:MM [am|pm]`` and ``[오전|오후] N시 [M분|반]`` are answered here from their match
    when plain (hour 1-23, minutes 0-59); everything else (midnight, 24:00, impossible
    values, any other text) goes the general way (``_slow``). A property test checks that
    both ways give the same result. One function, not four: on first sight each
    extra Python call costs far more than when warm.
    """
    if raw:
        m = _QUICK_RAW.fullmatch(text)
        if m is None:
            text, raw = normalise(text), False
            m = _QUICK.fullmatch(text)
    else:
        m = _QUICK.fullmatch(text)
    if m is None:
        return _slow(text, hours)
    digits, minutes, mark, word, k_digits, k_minutes, half = m.groups()
    if digits is None:
        digits, mark = k_digits, word
        minutes = "30" if half else k_minutes or "0"
    hour = int(digits)
    minute = int(minutes)
    if not 1 <= hour <= 23 or minute > 59:
        return _slow_normalised(text, raw, hours)
    if mark is not None:
        if hour > 12:
            return _slow_normalised(text, raw, hours)
        hour = hour % 12 + (12 if mark in _AFTERNOON_MARKS else 0)
        if hour == 0:
            return _slow_normalised(text, raw, hours)
        reason = "korean_ampm_hour" if len(mark) > 1 else "clock_12h_ampm"
    elif hour >= 12 or (len(digits) == 2 and digits[0] == "0"):
        reason = "clock_24h"  # 12:xx is noon; "09:00" is 24-hour notation
    elif hours is DEFAULT_HOURS:
        return _BARE_DEFAULT[hour * 60 + minute]
    else:
        return _bare(hour, minute, hours)
    return _EXPLICIT[reason][hour * 60 + minute]


def _slow_normalised(text: str, raw: bool, hours: ClinicHours) -> ParsedTime:
    # A quick-shaped text the quick path does not answer (midnight, 24:00, 13 pm...):
    # the general way, on normalised text as it expects.
    return _slow(normalise(text) if raw else text, hours)


def _bare(hour: int, minute: int, hours: ClinicHours) -> ParsedTime:
    """A bare 1-11 o'clock: the clinic's hours pick one of its two readings, or none."""
    seconds = hour * 3600 + minute * 60
    read = settle(Cands((seconds, seconds + 12 * 3600), 0, "bare"), hours)
    if isinstance(read, Fail):
        return abstain(read.reason, ambiguous=read.ambiguous)
    return ParsedTime(read.period, _clock(read.seconds), False, read.reason)


_clock = clock_of_seconds


# The same for a bare 1-11 o'clock under the default hours (the common call), from the
# bare-hour rule itself, also at import; other hours go through ``_bare`` each time.
_BARE_DEFAULT: Final[tuple[ParsedTime, ...]] = tuple(
    _bare(hour, minute, DEFAULT_HOURS) if 1 <= hour <= 11 else abstain("internal_error")
    for hour in range(24)
    for minute in range(60)
)


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
    if lexed.negations:
        # "오전은 안돼요", "not 9, 2pm works": reading the words as they stand would
        # invert the meaning; the negation reader excludes what is denied.
        return read_negated(
            text, lexed, hours, lambda piece, hourly: _affirmed(piece, hours, hourly)
        )
    grouped = group(text, lexed)
    return _finish(grouped.units, grouped.context, hours, no_preference=lexed.no_preference)


def _affirmed(text: str, hours: ClinicHours, numbers_are_hours: bool) -> ParsedTime:
    """A clause the negation reader found affirmed (no negation in it)."""
    if _ALNUM.search(text) is None:
        return abstain("empty")
    lexed = lex(text)
    if lexed.negations:
        return abstain("negated")  # cut out of a longer text, it reads as a negation
    grouped = group(text, lexed, numbers_are_hours=numbers_are_hours)
    return _finish(grouped.units, grouped.context, hours, no_preference=lexed.no_preference)


def _slow(text: str, hours: ClinicHours) -> ParsedTime:
    # The quick shapes have digits and at most ~60 characters: neither "empty" nor
    # "too_long" can apply to a text they match, so they were tried first.
    if _ALNUM.search(text) is None:
        return abstain("empty")  # "", "-", "?", "..."
    if len(text) > MAX_LENGTH:
        return abstain("too_long")
    return _general(text, hours)


#: Results by text (default hours) or by (text, hours). A plain dict, emptied when full:
#: on first sight ``functools.lru_cache`` costs about 2 µs per miss (a linked-list node
#: per entry, tracked by the garbage collector), a dict insertion a fraction of that. A
#: migration's column is mostly repeats, which refill it at once after a clear.
_CACHE: dict[object, ParsedTime] = {}
CACHE_SIZE: Final = 8192


def _clear_caches() -> None:
    """Forget every parsed text (tests, and the benchmark's first-sight round)."""
    _CACHE.clear()


def parse_preferred_time(text: str, *, hours: Iterable[ClinicTimeSlot] | None = None) -> ParsedTime:
    """Read ``text`` as a MORNING / AFTERNOON preference, or abstain.

    ``hours`` (default: ``DEFAULT_TIME_SLOTS``) decide bare hours only: "2:00" is 14:00
    when the clinic is open at 14:00 but not at 02:00. Never raises on any ``str``.
    """
    if not isinstance(text, str):
        return abstain("not_a_string")
    reduced = DEFAULT_HOURS if hours is None else clinic_hours(hours)
    if len(text) > 4 * MAX_LENGTH:
        return abstain("too_long")  # do not normalise or cache megabytes
    # Pure in (text, hours); ParsedTime is frozen, so sharing results is safe. A str key
    # never equals a tuple key, so one dict holds both.
    key: object = text if reduced is DEFAULT_HOURS else (text, reduced)
    result = _CACHE.get(key)
    if result is None:
        try:
            result = _decide(text, reduced, raw=True)
        except Exception:  # pragma: no cover - a bug must abstain, not break a booking
            return abstain("internal_error")
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.clear()  # atomic under the GIL, unlike evicting one entry
        _CACHE[key] = result
    return result
