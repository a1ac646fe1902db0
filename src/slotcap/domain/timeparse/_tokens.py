"""What the lexer hands on: clocks as written and the negations it saw."""

from __future__ import annotations

import enum

import attrs

from slotcap.domain.timeparse._words import DayWord

__all__ = ["Kind", "Mention", "Negation", "Scope"]


class Kind(enum.Enum):
    CLOCK = "clock"  # 9:30, 9.30, 9시 반, 9am, nine thirty, 14h30
    HHMM = "hhmm"  # 0930 (24-hour by construction)
    WORDNUM = "wordnum"  # 두시, 오후 세시 (Korean number words)
    LONE = "lone"  # a number with no clock marker ("3", "three"): a clock only by context
    NOON = "noon"
    MIDNIGHT = "midnight"


@attrs.define(slots=True)
class Mention:
    """One clock as written. ``marks`` are the am/pm marks and words that qualify it."""

    start: int
    end: int
    hour: int
    minute: int = 0
    second: int = 0
    padded: bool = False  # "09": a leading zero is 24-hour notation
    kind: Kind = Kind.CLOCK
    weak: bool = False  # "9.30" / "0930" may be a date or a number: dropped beside others
    minus: int = 0  # "3시 10분 전": minutes before the hour
    marks: list[DayWord] = attrs.Factory(list)
    # "quarter to twelve" is stored as 11:45 (what the digits say), but with "pm" it
    # could be 11:45 or 23:45: a mark on such a clock abstains instead of choosing.
    to_twelve: bool = False
    european: bool = False  # "9h", "14h30": 24-hour notation without a leading zero


class Scope(enum.Enum):
    """Which part of its clause a negation denies."""

    CLAUSE = "clause"  # not, no, never, n't, impossible: the whole clause
    FORWARD = "forward"  # except, other than: what follows it
    BACKWARD = "backward"  # 안 돼요, 불가, 말고, 빼고, X: what precedes it (Korean word order)


@attrs.frozen
class Negation:
    start: int
    end: int
    scope: Scope
