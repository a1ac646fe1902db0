"""The parser's result type, the clock → period rule and the documented reason codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from slotcap.domain.model import Period

__all__ = [
    "ABSTAIN_REASONS",
    "NOON_S",
    "READ_REASONS",
    "REASONS",
    "ParsedTime",
    "abstain",
    "clock_of_seconds",
    "period_of_clock",
    "period_of_seconds",
]

#: Seconds of the day at 12:00, the boundary between the two periods.
NOON_S = 12 * 3600


@attrs.frozen
class ParsedTime:
    """What a free-text preferred time says about the booking's half-day period.

    ``period is None`` means the parser abstains (the row goes to manual review);
    ``reason`` says which rule read the text, or why nothing could be read.
    ``ambiguous`` is only ever true together with ``period is None``: several readings
    were plausible, or the text offered options that disagree.
    """

    period: Period | None
    clock: dt.time | None
    ambiguous: bool
    reason: str


def period_of_clock(clock: dt.time) -> Period:
    """MORNING before 12:00, AFTERNOON from 12:00 on (noon itself is afternoon)."""
    return Period.MORNING if clock.hour < 12 else Period.AFTERNOON


def period_of_seconds(seconds: int) -> Period:
    """``period_of_clock`` for a clock given as seconds since midnight."""
    return Period.MORNING if seconds < NOON_S else Period.AFTERNOON


def clock_of_seconds(seconds: int | None) -> dt.time | None:
    """Seconds since midnight as a clock (``None`` stays ``None``)."""
    if seconds is None:
        return None
    return dt.time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def abstain(reason: str, *, ambiguous: bool = False, clock: dt.time | None = None) -> ParsedTime:
    """A result without a period."""
    return ParsedTime(period=None, clock=clock, ambiguous=ambiguous, reason=reason)


#: Reasons that come with a period: the rule that read the text.
READ_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "clock_24h": "a 24-hour clock: hour 13-23, hour 12, or a zero-padded hour (09:00, 14시)",
        "clock_hhmm": "four digits read as a 24-hour clock (0930, 1430)",
        "clock_12h_ampm": "a clock with am/pm, a.m./p.m., a/p (9am, AM 9:30, 3p)",
        "korean_ampm_hour": "오전/오후 with an hour (오전 9시 반, 오후 2:30)",
        "day_word_hour": "an hour qualified by a time-of-day word (저녁 7시, 3 in the afternoon)",
        "bare_hour_clinic_hours": "a bare 1-11 o'clock whose one reading falls in a clinic slot",
        "bare_hour_clinic_day": (
            "a bare hour whose readings both miss every slot, but one falls within a "
            "clinic day (first opening to last closing, e.g. the lunch break)"
        ),
        "word_noon": "noon / midday / 정오 (12:00)",
        "range_start": "a range lying in one period; the clock is its start",
        "after_clock": "'after X' / X시 이후 / X부터 with X at or after 12:00",
        "before_clock": "'before X' / X시 전 / X시까지 with X at or before 12:00",
        "options_agree": "several options, all in the same period (9시나 10시); clock is None",
        "word_morning": "a morning word alone (오전, 아침, 새벽, morning, AM, 오전타임)",
        "word_afternoon": "an afternoon word alone (오후, afternoon, PM, 평일 오후)",
        "word_lunch": "a lunch word alone (점심, lunch): AFTERNOON",
        "word_evening": "an evening/night word alone (저녁, 밤, evening, night)",
        "word_daily_life": (
            "a daily-life phrase alone (학교 끝나고, after school, end of the day: AFTERNOON; "
            "출근 전, before work: MORNING)"
        ),
        "negation_remaining": (
            "a whole period denied (오전은 안돼요, not in the morning): the other one remains"
        ),
        "negated_bound": "a denied open bound is the opposite bound (not before 2 pm = from 2 pm)",
    }
)

#: Reasons that come without a period.
ABSTAIN_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "empty": "nothing but whitespace and punctuation",
        "unreadable": "no clock and no time-of-day word found",
        "no_preference": "says any time is fine (asap, 아무때나, 상관없음, 언제든지)",
        "too_long": "longer than 500 characters after normalisation: not a time",
        "not_a_string": "the value is not a str",
        "impossible_time": "a clock that cannot exist (25:00, 9:75, 24:30, 13am)",
        "midnight": "a clock in the 00:xx hour (12 AM, 자정, 오전 12시, 24:00)",
        "conflicting": "options or qualifiers that disagree (10시나 3시, 오전/오후, 오전 14시)",
        "ambiguous_bare_hour": "a bare hour with both or neither readings in clinic hours",
        "ambiguous_range": "a range whose start and (exclusive) end fall in different periods",
        "ambiguous_open_range": "'after X' before noon or 'before X' after noon",
        "bad_range": "a range that ends at or before its start",
        "negated": (
            "a negation that leaves both periods open or whose scope is unclear (9시는 안돼요, "
            "not sure, 안 되는 건 아니에요, 오전, 오후 안돼요)"
        ),
        "internal_error": "a bug in the parser; it abstained instead of raising",
    }
)

#: Every reason code the parser can return, with a one-line description.
REASONS: Mapping[str, str] = MappingProxyType({**READ_REASONS, **ABSTAIN_REASONS})
