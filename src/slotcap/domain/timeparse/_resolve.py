"""From a clock as written to seconds of the day, and from units to periods.

Every step either reads one value or fails with a reason; nothing is rounded towards
a default. A bare 1-11 o'clock keeps both readings (h, h + 12) until the clinic's
hours pick exactly one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple, TypeAlias

from slotcap.domain.model import Period
from slotcap.domain.timeparse import _words as dw
from slotcap.domain.timeparse._group import Bound, Range, Single, Unit
from slotcap.domain.timeparse._hours import ClinicHours
from slotcap.domain.timeparse._result import NOON_S, period_of_seconds
from slotcap.domain.timeparse._scan import Kind, Mention
from slotcap.domain.timeparse._words import DayWord

__all__ = ["Fail", "Read", "open_bound", "resolve_unit"]

HOUR_S: Final = 3600
DAY_S: Final = 24 * HOUR_S


# NamedTuples, not attrs classes: several are made per parse and they are cheaper.
class Cands(NamedTuple):
    """Possible readings: ``anchors`` are the hour as said, ``offset`` is "N분 전"."""

    anchors: tuple[int, ...]
    offset: int
    reason: str

    @property
    def values(self) -> tuple[int, ...]:
        if not self.offset:
            return self.anchors
        return tuple(a + self.offset for a in self.anchors)


class Fail(NamedTuple):
    reason: str
    ambiguous: bool = False


class Read(NamedTuple):
    period: Period
    seconds: int | None
    reason: str


Resolved: TypeAlias = Cands | Fail
_CONFLICT: Final = Fail("conflicting", ambiguous=True)
_IMPOSSIBLE: Final = Fail("impossible_time")
_MIDNIGHT: Final = Fail("midnight")


def _midnight_or_end(seconds: int, range_end: bool, reason: str) -> Resolved:
    # 00:00 closes a range ("22:00-24:00"); anywhere else the 00:xx hour abstains: no
    # clinic works then, and it is where 12 a.m. / 12 p.m. mix-ups land.
    if range_end and seconds == 0:
        return Cands((DAY_S,), 0, reason)
    return _MIDNIGHT


def _periods_agree(words: Sequence[DayWord], seconds: int) -> bool:
    period = period_of_seconds(seconds)
    for word in words:
        wanted = word.period
        if wanted is not None and wanted is not period:
            return False
    return True


def _fixed(m: Mention, range_end: bool) -> Resolved:
    if m.kind is Kind.MIDNIGHT:
        return _midnight_or_end(0, range_end, "clock_24h")
    if not _periods_agree(m.marks, NOON_S):
        return _CONFLICT
    return Cands((NOON_S,), 0, "word_noon")


def _twenty_four(m: Mention, words: Sequence[DayWord], range_end: bool) -> Resolved:
    """Hour 0 or 13-24: already a 24-hour clock; words may only confirm it."""
    if m.hour == 24:
        if m.minute or m.second or m.minus or words:
            return _IMPOSSIBLE
        return _midnight_or_end(0, range_end, "clock_24h")
    if m.hour >= 13 and dw.AM_MARK in words:
        return _IMPOSSIBLE  # "13am"
    seconds = m.hour * HOUR_S + m.minute * 60 + m.second
    if not _periods_agree(words, seconds):
        return _CONFLICT  # "오전 14시", "0:30 pm"
    if m.hour == 0:
        return _midnight_or_end(seconds, range_end, "clock_24h")
    return Cands((seconds,), -60 * m.minus, "clock_hhmm" if m.kind is Kind.HHMM else "clock_24h")


def _qualified(m: Mention, words: Sequence[DayWord], range_end: bool) -> Resolved:
    """A 1-12 hour with am/pm or a time-of-day word: each word maps it to one hour."""
    if m.to_twelve:
        return _CONFLICT  # "quarter to twelve pm": 11:45 or 23:45?
    hour = words[0].hour_of(m.hour)
    if hour is None or any(w.hour_of(m.hour) != hour for w in words[1:]):
        return _CONFLICT  # "점심 9시", or "오후 3am"
    seconds = hour * HOUR_S + m.minute * 60 + m.second
    if not _periods_agree(words, seconds):
        return _CONFLICT  # "밤 1시" is 01:00, which is not night-as-afternoon
    if hour == 0:
        return _midnight_or_end(seconds, range_end, words[0].hour_reason)
    return Cands((seconds,), -60 * m.minus, words[0].hour_reason)


def _unqualified(m: Mention) -> Cands:
    seconds = m.hour * HOUR_S + m.minute * 60 + m.second
    offset = -60 * m.minus
    if m.padded or m.kind is Kind.HHMM or m.hour == 12:
        # "09:00" is 24-hour notation; 12:xx is noon in both notations.
        return Cands((seconds,), offset, "clock_hhmm" if m.kind is Kind.HHMM else "clock_24h")
    return Cands((seconds, seconds + 12 * HOUR_S), offset, "bare")


def _from_context(m: Mention, context: Sequence[DayWord], hours: ClinicHours) -> Resolved:
    """A word elsewhere in the text may settle a bare hour, but never overrule it.

    "오후에 3시" and "저녁에 7시" read as 15:00 and 19:00. In "9시, 오후도 가능" the
    word is another option: 9시 alone reads 09:00, 오후 would make it 21:00, and that
    disagreement is a conflict, not a reason to pick 21:00.
    """
    qualified = _qualified(m, context, range_end=False)
    plain = settle(_unqualified(m), hours)
    if (
        isinstance(qualified, Cands)
        and isinstance(plain, Read)
        and plain.period != period_of_seconds(qualified.anchors[0])
    ):
        return _CONFLICT
    return qualified


def resolve_mention(
    m: Mention, context: Sequence[DayWord], hours: ClinicHours, *, range_end: bool = False
) -> Resolved:
    """The readings of one clock (not yet narrowed by clinic hours)."""
    if m.kind in (Kind.NOON, Kind.MIDNIGHT):
        return _fixed(m, range_end)
    if m.minute > 59 or m.second > 59 or m.minus > 59 or m.hour > 24:
        return _IMPOSSIBLE
    if m.hour == 0 or m.hour >= 13:
        return _twenty_four(m, m.marks or context, range_end)
    if m.marks:
        return _qualified(m, m.marks, range_end)
    if context:
        return _from_context(m, context, hours)
    if m.european and not m.padded:
        return _european(m, hours)
    return _unqualified(m)


def _european(m: Mention, hours: ClinicHours) -> Resolved:
    """ "9h" is 24-hour notation, 09:00 as written; "2h" would be 02:00, when no clinic
    works, and its writer may have meant 14h: the written clock counts only inside a
    clinic day."""
    seconds = m.hour * HOUR_S + m.minute * 60
    if m.hour == 12 or hours.in_day(seconds):
        return Cands((seconds,), 0, "clock_24h")
    return Fail("ambiguous_bare_hour", ambiguous=True)


def _choose(values: tuple[int, ...], anchors: tuple[int, ...], hours: ClinicHours) -> Read | Fail:
    """The bare-hour rule: the one reading inside a slot, else inside a clinic day."""
    tests = ((hours.in_slot, "bare_hour_clinic_hours"), (hours.in_day, "bare_hour_clinic_day"))
    for test, reason in tests:
        inside = [v for v, a in zip(values, anchors, strict=True) if test(a)]
        if len(inside) == 1:
            return Read(period_of_seconds(inside[0]), inside[0], reason)
        if len(inside) > 1:
            break  # both plausible: do not fall back to the looser test
    return Fail("ambiguous_bare_hour", ambiguous=True)


def settle(c: Cands, hours: ClinicHours) -> Read | Fail:
    """One clock out of the readings."""
    if len(c.anchors) == 1:
        read: Read | Fail = Read(period_of_seconds(c.values[0]), c.values[0], c.reason)
    else:
        read = _choose(c.values, c.anchors, hours)
    if isinstance(read, Read) and read.seconds is not None and read.seconds < HOUR_S:
        return _MIDNIGHT  # "오전 1시 10분 전" = 00:50
    return read


def _single(unit: Single, context: Sequence[DayWord], hours: ClinicHours) -> Read | Fail:
    c = resolve_mention(unit.mention, context, hours)
    if isinstance(c, Fail):
        return c
    read = settle(c, hours)
    if isinstance(read, Fail) or unit.bound is None or read.seconds is None:
        return read
    return open_bound(read.seconds, unit.bound)


def open_bound(seconds: int, bound: Bound) -> Read | Fail:
    """ "from X" / "until X": the period of the hour on the bound's open side.

    A person who writes "10시부터" or "after 3pm" means to come about then, not any time
    to midnight; "until 11" means shortly before 11. The hour next to the bound, [X, X+1h)
    or [X-1h, X), must lie in one period: "after 11:30" and "before 12:30" straddle noon
    and abstain.
    """
    if bound is Bound.AFTER:
        first, last, clock = seconds, seconds + HOUR_S - 1, seconds
        reason = "after_clock"
    else:
        first, last, clock = seconds - HOUR_S, seconds - 1, None
        reason = "before_clock"
    period = period_of_seconds(first)
    if first < 0 or period_of_seconds(last) is not period:
        return Fail("ambiguous_open_range", ambiguous=True)
    return Read(period, clock, reason)


def _start_before(s: Cands, end: int, hours: ClinicHours) -> int | Fail:
    """A bare start for a known end: the one reading before it, else the clinic's pick."""
    starts = [v for v in s.values if v < end]
    if len(starts) == 1:
        return starts[0]
    if not starts:
        return Fail("bad_range")
    # "10:00-22:01": 10:00 and 22:00 both precede the end; the clinic decides, as for a
    # bare hour alone. Taking the nearer one would make it a one-minute range.
    read = settle(s, hours)
    if isinstance(read, Read) and read.seconds in starts:
        return read.seconds
    return Fail("ambiguous_bare_hour", ambiguous=True)


def _end_after(start: int, e: Cands) -> int | Fail:
    """A bare end for a known start: its first reading after the start ("오후 2시~4시")."""
    ends = [v for v in e.values if v > start]
    return min(ends) if ends else Fail("bad_range")


def _shared_start(unit: Range, s: Cands, end: int) -> int | None:
    """ "2-4pm", "8-10 pm": the end's am/pm also qualifies a bare start, if that fits."""
    if len(s.anchors) != 2 or not unit.end.marks or unit.start.marks:
        return None
    shared = _qualified(unit.start, unit.end.marks, range_end=False)
    if isinstance(shared, Cands) and shared.values[0] < end:
        return shared.values[0]
    return None


def _range_bounds(
    unit: Range, s: Cands, e: Cands, hours: ClinicHours
) -> tuple[int, int | Fail] | Fail:
    """Start and end seconds; a bare side is read against the other side."""
    if len(e.anchors) == 1:
        end = e.values[0]
        if len(s.anchors) == 1:
            return s.values[0], end
        shared = _shared_start(unit, s, end)
        start = shared if shared is not None else _start_before(s, end, hours)
        return start if isinstance(start, Fail) else (start, end)
    if len(s.anchors) == 1:
        return s.values[0], _end_after(s.values[0], e)
    first = settle(s, hours)
    if isinstance(first, Read) and first.seconds is not None:
        return first.seconds, _end_after(first.seconds, e)
    last = settle(e, hours)
    if isinstance(last, Read) and last.seconds is not None:
        start = _start_before(s, last.seconds, hours)
        return start if isinstance(start, Fail) else (start, last.seconds)
    return Fail("ambiguous_bare_hour", ambiguous=True)


def _range(unit: Range, context: Sequence[DayWord], hours: ClinicHours) -> Read | Fail:
    s = resolve_mention(unit.start, context, hours)
    if isinstance(s, Fail):
        return s
    # Words elsewhere qualify the start; the end is read after the start. In
    # "오전 (9시~12시)" 오전 names the range, and 12시 is its (noon) end, not midnight.
    e = resolve_mention(unit.end, (), hours, range_end=True)
    if isinstance(e, Fail):
        return e
    bounds = _range_bounds(unit, s, e, hours)
    if isinstance(bounds, Fail):
        return bounds
    start, end = bounds
    if isinstance(end, Fail):
        return end
    if end <= start:
        return Fail("bad_range")
    if start < HOUR_S:
        return _MIDNIGHT
    # The end is exclusive: 9:00-12:00 is all morning.
    if period_of_seconds(start) != period_of_seconds(end - 1):
        return Fail("ambiguous_range", ambiguous=True)
    return Read(period_of_seconds(start), start, "range_start")


def resolve_unit(unit: Unit, context: Sequence[DayWord], hours: ClinicHours) -> Read | Fail:
    if isinstance(unit, Range):
        return _range(unit, context, hours)
    return _single(unit, context, hours)
