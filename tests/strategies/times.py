"""Hypothesis strategies for the time-string parser: clocks written every supported way.

``written_times()`` draws a clock and writes it in one of the formats the parser must
read without any help from clinic hours (24-hour, am/pm, 오전/오후 with digits,
Sino-Korean or native numerals), then optionally widens it to full-width characters,
changes its case and wraps it in sentence text. The expected clock travels with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import NamedTuple

from hypothesis import strategies as st

__all__ = [
    "ENGLISH_HOURS",
    "NATIVE_HOURS",
    "SINO_HOURS",
    "EnglishTime",
    "WrittenTime",
    "clocks",
    "english_minutes",
    "english_times",
    "fullwidth",
    "sino_number",
    "written_times",
]


class WrittenTime(NamedTuple):
    text: str
    clock: dt.time
    style: str  # which writer made it, for failure messages


#: Every clock the parser reads without abstaining: the 00:xx hour is midnight (abstains).
clocks = st.builds(
    dt.time,
    hour=st.integers(min_value=1, max_value=23),
    minute=st.integers(min_value=0, max_value=59),
)

SINO_HOURS: tuple[str, ...] = (
    "", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구", "십", "십일", "십이",
)  # fmt: skip
NATIVE_HOURS: tuple[str, ...] = (
    "", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열", "열한", "열두",
)  # fmt: skip
_SINO_DIGITS = ("", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")


def sino_number(n: int) -> str:
    """1-59 in Sino-Korean: 35 → 삼십오, 10 → 십, 7 → 칠."""
    tens, ones = divmod(n, 10)
    if not tens:
        return _SINO_DIGITS[ones]
    return ("" if tens == 1 else _SINO_DIGITS[tens]) + "십" + _SINO_DIGITS[ones]


def fullwidth(text: str) -> str:
    """ASCII letters, digits and punctuation as their full-width forms (U+FF01..U+FF5E)."""
    return "".join(
        chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else "\u3000" if ch == " " else ch for ch in text
    )


def _h12(clock: dt.time) -> int:
    return clock.hour % 12 or 12


Writer = Callable[[st.DrawFn, dt.time], str]


def _hour_24h(draw: st.DrawFn, clock: dt.time) -> str | None:
    """The hour as a 24-hour clock writes it unambiguously, or None (10 and 11).

    01-09 need their leading zero and 12-23 are unambiguous either way; "10" and "11"
    read as bare hours (10:00 or 22:00?), which only clinic hours can settle.
    """
    if clock.hour in (10, 11):
        return None
    if clock.hour < 10 or draw(st.booleans()):
        return f"{clock.hour:02d}"
    return str(clock.hour)


def _colon_24h(draw: st.DrawFn, clock: dt.time) -> str:
    hour = _hour_24h(draw, clock)
    if hour is None:
        return _hhmm(draw, clock)
    sep = draw(st.sampled_from([":", " : ", ": ", " :"]))
    seconds = draw(st.sampled_from(["", ":00"]))
    return f"{hour}{sep}{clock.minute:02d}{seconds}"


def _hhmm(_draw: st.DrawFn, clock: dt.time) -> str:
    return f"{clock.hour:02d}{clock.minute:02d}"


def _dot(draw: st.DrawFn, clock: dt.time) -> str:
    hour = _hour_24h(draw, clock)
    if hour is None:
        return _hhmm(draw, clock)
    return f"{hour}.{clock.minute:02d}"


_AM = ["am", "AM", "a.m.", "A.M.", "a.m", "Am"]
_PM = ["pm", "PM", "p.m.", "P.M.", "p.m", "Pm"]


def _ampm(draw: st.DrawFn, clock: dt.time) -> str:
    is_pm = clock.hour >= 12
    mark = draw(st.sampled_from(_PM if is_pm else _AM))
    h12 = _h12(clock)
    body = f"{h12}:{clock.minute:02d}"
    if not clock.minute and draw(st.booleans()):
        body = str(h12)  # "9am", "3 PM"
    if draw(st.booleans()):
        return f"{mark} {body}" if draw(st.booleans()) else f"{mark}{body}"
    if draw(st.booleans()):
        short = "p" if is_pm else "a"  # "10a", "3:15p": only glued to the digits
        return f"{body}{short}"
    return f"{body}{draw(st.sampled_from(['', ' ']))}{mark}"


def _korean_word(clock: dt.time) -> str:
    return "오후" if clock.hour >= 12 else "오전"


def _korean_minutes(draw: st.DrawFn, minute: int, *, sino: bool) -> str:
    space = draw(st.sampled_from(["", " "]))
    if minute == 0:
        return ""
    if minute == 30 and draw(st.booleans()):
        return f"{space}반"
    number = sino_number(minute) if sino and draw(st.booleans()) else str(minute)
    return f"{space}{number}분"


def _korean_digits(draw: st.DrawFn, clock: dt.time) -> str:
    space = draw(st.sampled_from(["", " "]))
    minutes = _korean_minutes(draw, clock.minute, sino=False)
    return f"{_korean_word(clock)}{space}{_h12(clock)}시{minutes}"


def _korean_numerals(table: tuple[str, ...]) -> Writer:
    def write(draw: st.DrawFn, clock: dt.time) -> str:
        space = draw(st.sampled_from(["", " "]))
        minutes = _korean_minutes(draw, clock.minute, sino=True)
        return f"{_korean_word(clock)}{space}{table[_h12(clock)]}시{minutes}"

    return write


def _korean_24h(draw: st.DrawFn, clock: dt.time) -> str:
    # "14시", "14시 30분", "09시 반": hours 12-23 or zero-padded.
    hour = _hour_24h(draw, clock)
    if hour is None:
        return _korean_digits(draw, clock)
    return f"{hour}시{_korean_minutes(draw, clock.minute, sino=False)}"


_WRITERS: dict[str, Writer] = {
    "colon_24h": _colon_24h,
    "hhmm": _hhmm,
    "dot": _dot,
    "ampm": _ampm,
    "korean_digits": _korean_digits,
    "korean_sino": _korean_numerals(SINO_HOURS),
    "korean_native": _korean_numerals(NATIVE_HOURS),
    "korean_24h": _korean_24h,
}

# Sentence text that must not change the reading. None of it holds a number or a
# time-of-day word.
_PREFIXES = ["", " ", "I'd like ", "around ", "약 ", "희망 시간: ", "가능하면 "]
_SUFFIXES = ["", " ", "쯤", "경", " 정도", "에 가능해요", "요", " please", "!", " 희망합니다"]


@st.composite
def written_times(
    draw: st.DrawFn,
    *,
    styles: tuple[str, ...] = tuple(_WRITERS),
    decorate: bool = True,
) -> WrittenTime:
    """A clock and one way of writing it that the parser must read exactly."""
    clock = draw(clocks)
    style = draw(st.sampled_from(styles))
    text = _WRITERS[style](draw, clock)
    if decorate:
        if draw(st.booleans()):
            text = text.upper() if draw(st.booleans()) else text.lower()
        if draw(st.booleans()):
            text = fullwidth(text)
        text = draw(st.sampled_from(_PREFIXES)) + text + draw(st.sampled_from(_SUFFIXES))
    return WrittenTime(text, clock, style)


# --- English renderings (issue 24) ------------------------------------------------------

ENGLISH_HOURS: tuple[str, ...] = (
    "", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
)  # fmt: skip
_ENGLISH_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty"}
_ENGLISH_SMALL = (
    "", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip


def english_minutes(minute: int, *, hyphen: str = "-") -> str:
    """1-59 as said after an hour: 5 → "oh five", 30 → "thirty", 45 → "forty-five"."""
    if minute < 10:
        return f"oh {_ENGLISH_SMALL[minute]}"
    if minute < 20:
        return _ENGLISH_SMALL[minute]
    tens, ones = divmod(minute, 10)
    return _ENGLISH_TENS[tens] + (f"{hyphen}{_ENGLISH_SMALL[ones]}" if ones else "")


class EnglishTime(NamedTuple):
    text: str  # the English rendering
    digits: str  # the same clock in digits, "9:30" (with the same am/pm, if any)
    style: str


def _past_or_to(hour: int, minute: int) -> tuple[str, int] | None:
    """ "half past 9", "quarter to 10", "twenty past 9", "ten to 10" (fives only)."""
    if minute == 30:
        return "half past", hour
    if minute == 15:
        return "quarter past", hour
    if minute == 45:
        return "quarter to", hour % 12 + 1
    if minute in (5, 10, 20, 25):
        said = _ENGLISH_SMALL[minute] if minute < 20 else english_minutes(minute)
        return f"{said} past", hour
    if minute in (35, 40, 50, 55):
        to = 60 - minute
        return f"{english_minutes(to) if to >= 20 else _ENGLISH_SMALL[to]} to", hour % 12 + 1
    return None


@st.composite
def english_times(draw: st.DrawFn) -> EnglishTime:
    """A clock with hours 1-12 and minutes in fives, said in English in one of the ways
    people write it, with the digit rendering of the same clock."""
    hour = draw(st.integers(min_value=1, max_value=12))
    minute = draw(st.sampled_from(range(0, 60, 5)))
    mark = draw(st.sampled_from(["", " am", " pm", " a.m.", " PM"]))
    digits = f"{hour}:{minute:02d}{mark}"
    word_hour = ENGLISH_HOURS[hour]
    styles = ["words", "digits_words"]
    relative = _past_or_to(hour, minute)
    if relative is not None:
        styles += ["relative", "relative_digits"]
    if minute == 30:
        styles.append("british_half")
    if minute == 0:
        styles += ["oclock", "ish"]
    style = draw(st.sampled_from(styles))
    if style == "words":
        said = english_minutes(minute, hyphen=draw(st.sampled_from(["-", " "]))) if minute else ""
        text = f"{word_hour}{draw(st.sampled_from([' ', '-'])) if said else ''}{said}"
    elif style == "digits_words":
        text = f"{hour} {english_minutes(minute) if minute else 'o' + chr(39) + 'clock'}"
    elif style in ("relative", "relative_digits"):
        assert relative is not None
        words, of_hour = relative
        text = f"{words} {ENGLISH_HOURS[of_hour] if style == 'relative' else of_hour}"
    elif style == "british_half":
        text = f"half {word_hour}"
    elif style == "oclock":
        text = word_hour + " " + draw(st.sampled_from(["o'clock", "oclock", "o' clock"]))
    else:
        text = f"{word_hour}{draw(st.sampled_from(['-ish', 'ish', ' ish']))}"
    if draw(st.booleans()):
        text = text.capitalize() if draw(st.booleans()) else text.upper()
    return EnglishTime(text + mark, digits, style)
