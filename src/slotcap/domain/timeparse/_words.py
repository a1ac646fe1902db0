"""Time-of-day words: which half-day they name and how they turn 1-12 into an hour.

A word can stand alone ("오후", "morning": a period without a clock) or qualify an
hour ("저녁 7시" = 19:00). Each word has its own plausible hours; an hour outside
them ("점심 9시") is a conflict, never silently moved to another period.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from slotcap.domain.model import Period

__all__ = [
    "AFTERNOON",
    "AFTER_LUNCH",
    "AM_MARK",
    "BEFORE_LUNCH",
    "BY_NAME",
    "DAILY_AM",
    "DAILY_PM",
    "DAWN",
    "DAYTIME",
    "EARLY",
    "EVENING",
    "KO_AM",
    "KO_PM",
    "LUNCH",
    "MORNING",
    "NEUTRAL",
    "NIGHT",
    "PM_MARK",
    "DayWord",
]


# eq=False: words are compared and hashed by identity, which is all the parser needs
# and much cheaper on the hot path than hashing an enum or the fields.
@attrs.frozen(eq=False)
class DayWord:
    """``hours[h]`` is the 24-hour hour for a spoken 1-12 ``h``; -1 = implausible.

    ``excludes``: the word names its whole period, so denying it ("오전은 안돼요", "not
    in the morning") leaves only the other one. "저녁은 안돼요" (not in the evening)
    leaves most of the afternoon: evening words do not exclude.
    """

    name: str
    period: Period | None
    hour_reason: str
    word_reason: str | None
    hours: tuple[int, ...]
    excludes: bool = False

    def hour_of(self, h12: int) -> int | None:
        hour = self.hours[h12]
        return None if hour < 0 else hour

    def __repr__(self) -> str:
        return f"DayWord({self.name})"


def _table(mapping: Mapping[int, int]) -> tuple[int, ...]:
    return tuple(mapping.get(h, -1) for h in range(13))


# 12 → 0: "12 a.m." / "오전 12시" / "새벽 12시" are midnight (which then abstains).
_AM = _table({**{h: h for h in range(1, 12)}, 12: 0})
_PM = _table({**{h: h + 12 for h in range(1, 12)}, 12: 12})
_M, _A = Period.MORNING, Period.AFTERNOON

AM_MARK = DayWord("AM_MARK", _M, "clock_12h_ampm", "word_morning", _AM, True)  # am, a.m., a
PM_MARK = DayWord("PM_MARK", _A, "clock_12h_ampm", "word_afternoon", _PM, True)
KO_AM = DayWord("KO_AM", _M, "korean_ampm_hour", "word_morning", _AM, True)  # 오전
KO_PM = DayWord("KO_PM", _A, "korean_ampm_hour", "word_afternoon", _PM, True)  # 오후
MORNING = DayWord("MORNING", _M, "day_word_hour", "word_morning", _AM, True)  # morning
# 아침 is the early morning as often as the whole morning: "아침은 안돼요" may still
# leave 11시, so denying it excludes nothing.
EARLY = DayWord("EARLY", _M, "day_word_hour", "word_morning", _AM)  # 아침
DAWN = DayWord("DAWN", _M, "day_word_hour", "word_morning", _AM)  # 새벽
BEFORE_LUNCH = DayWord("BEFORE_LUNCH", _M, "day_word_hour", "word_morning", _AM, True)  # 점심 전
# Daily life: "출근 전", "before work" (early morning), "학교 끝나고", "after school",
# "end of the day" (late afternoon). Each lies in one period without spanning it.
DAILY_AM = DayWord("DAILY_AM", _M, "day_word_hour", "word_daily_life", _AM)
DAILY_PM = DayWord("DAILY_PM", _A, "day_word_hour", "word_daily_life", _PM)
# Lunch is about 11-15; "점심 11시" reads 11:00, which the period check then rejects
# (lunch is AFTERNOON): a conflict, not a guess.
LUNCH = DayWord(
    "LUNCH", _A, "day_word_hour", "word_lunch", _table({11: 11, 12: 12, 1: 13, 2: 14, 3: 15})
)
AFTER_LUNCH = DayWord("AFTER_LUNCH", _A, "day_word_hour", "word_afternoon", _PM, True)  # 점심 후
AFTERNOON = DayWord("AFTERNOON", _A, "day_word_hour", "word_afternoon", _PM, True)
EVENING = DayWord(  # 저녁, evening, 퇴근 후
    "EVENING",
    _A,
    "day_word_hour",
    "word_evening",
    _table({**{h: h + 12 for h in range(4, 12)}, 12: 0}),
)
# "밤 1시" is 01:00 (late night): it reads as MORNING, conflicts with 밤, abstains.
NIGHT = DayWord(  # 밤, night, tonight, 야간
    "NIGHT",
    _A,
    "day_word_hour",
    "word_evening",
    _table({**{h: h for h in range(1, 6)}, **{h: h + 12 for h in range(6, 12)}, 12: 0}),
)
DAYTIME = DayWord(  # 낮: names hours ("낮 12시", "낮 2시"), not a half-day
    "DAYTIME",
    None,
    "day_word_hour",
    None,
    _table({**{h: h for h in range(7, 12)}, 12: 12, **{h: h + 12 for h in range(1, 7)}}),
)
NEUTRAL = DayWord("NEUTRAL", None, "day_word_hour", None, _table({}))  # 점심 전후: both halves

#: Scanner group suffix → word.
BY_NAME: Mapping[str, DayWord] = MappingProxyType(
    {
        w.name: w
        for w in (
            AM_MARK, PM_MARK, KO_AM, KO_PM, MORNING, EARLY, DAWN, BEFORE_LUNCH, LUNCH,
            AFTER_LUNCH, AFTERNOON, EVENING, NIGHT, DAYTIME, NEUTRAL, DAILY_AM, DAILY_PM,
        )
    }
)  # fmt: skip
