"""From tokens to units: which numbers are clocks, what qualifies them, what is a range.

A *unit* is one thing the patient offered: a single clock (possibly open-ended,
"3시 이후") or a range ("9시부터 11시까지"). Words that qualify no particular clock
("오후에 3시", "afternoon, around 3") become *context* for the whole text.
"""

from __future__ import annotations

import enum
import re
from typing import Final, TypeAlias

import attrs

from slotcap.domain.timeparse import _words as dw
from slotcap.domain.timeparse._english import HOUR_WORDS
from slotcap.domain.timeparse._scan import Lexed, Mention
from slotcap.domain.timeparse._words import DayWord

__all__ = ["Bound", "Grouped", "Range", "Single", "Unit", "group"]


class Bound(enum.Enum):
    AFTER = "after"  # 3시 이후, after 3pm, 2시부터
    BEFORE = "before"  # 10시 전, before 10am, 11시까지


@attrs.frozen
class Single:
    mention: Mention
    bound: Bound | None = None


@attrs.frozen
class Range:
    start: Mention
    end: Mention


Unit: TypeAlias = Single | Range


@attrs.frozen
class Grouped:
    units: tuple[Unit, ...]
    context: tuple[DayWord, ...]


_APPROX: Final = r"(?:쯤|경|즈음|정도|무렵)"
_RANGE_GAP: Final = re.compile(
    rf"\s?{_APPROX}?\s?(?:부터\s?[-~]?|에서|[-~]|to|till|until|thru|through)\s?"
)
_ALT_GAP: Final = re.compile(rf"\s?{_APPROX}?\s?(?:이나|나|or|또는|혹은|아니면|/|,|&|and|및)\s?")
# A bare number is an hour after these words: "at 3", "around 10", "약 3", "after 2".
_HOUR_PREPOSITION: Final = re.compile(
    r"(?:(?<![a-z])(?:at|around|about|approx\.?|approximately|circa|after|from|since|before"
    r"|until|till|by|than)|약|대략)\s?$"
)
_WORD_RANGE: Final = re.compile(r"\s(?:to|till|until|thru|through)\s")
# A text of nothing but hour words ("nine", "nine or ten", "around eleven") is a time
# field's answer: its words are hours. "two people" never gets here (a skipped count).
_HOUR_W: Final = "|".join(HOUR_WORDS)
_ONLY_HOUR_WORDS: Final = re.compile(
    rf"(?:(?:around|about|maybe|at|약)\s)?(?:{_HOUR_W})"
    rf"(?:\s?(?:or|,|/|to|-|~|and)\s?(?:{_HOUR_W}))*(?:\s?(?:please|pls|is fine|[.!]))?"
)
_KO_END: Final = r"(?=$|[\s,.!?)~]|에|로|으로|요|면|이면|까지|부터|가|이)"
_AFTER_SUFFIX: Final = re.compile(
    rf"\s?{_APPROX}?\s?(?:(?:이후|후|부터|넘어서?|지나서){_KO_END}"
    r"|(?:onwards?|or later|and later|and after|later|at the earliest)(?![a-z])|~(?!\s?\d))"
)
_BEFORE_SUFFIX: Final = re.compile(
    rf"\s?{_APPROX}?\s?(?:(?:이전|전|까지){_KO_END}"
    r"|(?:or earlier|and earlier|earlier|at the latest)(?![a-z]))"
)
_AFTER_PREFIX: Final = re.compile(r"(?<![a-z])(?:after|from|since|(?:no|not) earlier than)\s?$")
# A leading "~" is Korean shorthand for "until" (~3시); "no later than 10" is "by 10".
_BEFORE_PREFIX: Final = re.compile(
    r"(?:(?<![a-z])(?:before|until|till|by|(?:no|not) (?:later|sooner) than)|(?:^|\s)~)\s?$"
)

# "3 in the afternoon", "8 at night": the number is an hour qualified by the word.
_HOUR_OF_DAY_WORD: Final = re.compile(
    r"\s?(?:o'?\s?clock\s?)?(?:in the|at)\s(?:morning|afternoon|evening|night)"
)

# Standalone "am"/"pm" count only in text with no other English words: "I am free at 3"
# must not make 3 a.m.
_HARMLESS_LATIN: Final = frozenset(
    {
        "am", "pm", "a", "p", "m", "please", "pls", "plz", "only", "prefer", "preferred",
        "preferably", "ok", "okay", "time", "slot", "fine", "good", "best", "thanks", "thank",
        "you", "is",
    }
)  # fmt: skip
_LATIN_WORD: Final = re.compile(r"[a-z]+")
_SPACE: Final = re.compile(r"\s?")


def _gap_is(pattern: re.Pattern[str], text: str, start: int, end: int) -> bool:
    return start <= end and pattern.fullmatch(text, start, end) is not None


def _joins(text: str, left: Mention, right: Mention) -> bool:
    return _gap_is(_RANGE_GAP, text, left.end, right.start) or _gap_is(
        _ALT_GAP, text, left.end, right.start
    )


def _promotable(text: str, lone: Mention, clocks: list[Mention], lexed: Lexed) -> bool:
    """Whether a bare number is a clock by context (its neighbours and the words before)."""
    if _HOUR_PREPOSITION.search(text, 0, lone.start) or _HOUR_OF_DAY_WORD.match(text, lone.end):
        return True
    if text[lone.start].isalpha() and _ONLY_HOUR_WORDS.fullmatch(text):
        return True
    # A time-of-day word right before it: "오후 2~4시", "pm 3", "저녁 7".
    for start, end, _word in (*lexed.words, *lexed.marks):
        if start < lone.start and _gap_is(_SPACE, text, end, lone.start):
            return True
    return any(
        _joins(text, lone, other) if other.start > lone.start else _joins(text, other, lone)
        for other in clocks
    )


def _clocks(text: str, lexed: Lexed, *, numbers_are_hours: bool = False) -> list[Mention]:
    clocks = list(lexed.mentions)
    if numbers_are_hours:
        # "not 9, 10 is fine": beside a denied clock, a bare 1-12 is the hour offered.
        hours = [lone for lone in lexed.lones if 1 <= lone.hour <= 12]
        clocks += hours
        pending = [lone for lone in lexed.lones if lone not in hours]
    else:
        pending = list(lexed.lones)
    # "10 to 12", "two till four": two numbers joined by a word of range are hours (a
    # "-" or "/" between them may be a date: "9-11").
    for first, second in zip(lexed.lones, lexed.lones[1:], strict=False):
        if _WORD_RANGE.fullmatch(text, first.end, second.start):
            for lone in (first, second):
                if lone in pending:
                    clocks.append(lone)
                    pending.remove(lone)
    # Promoting one number can make its neighbour promotable ("9, 10, 11시"): repeat.
    changed = True
    while changed and pending:
        changed = False
        for lone in list(pending):
            if _promotable(text, lone, clocks, lexed):
                clocks.append(lone)
                pending.remove(lone)
                changed = True
    return clocks


def _drop_weak(text: str, clocks: list[Mention]) -> list[Mention]:
    if all(c.weak for c in clocks):
        return clocks
    # "3.15 오후 2시": a weak "9.30"/"0930" beside a real clock is likely a date or a
    # number, unless a separator offers it as an option or a range ("0930 또는 오후 3시").
    return [
        c
        for i, c in enumerate(clocks)
        if not c.weak
        or (i and _joins(text, clocks[i - 1], c))
        or (i + 1 < len(clocks) and _joins(text, c, clocks[i + 1]))
    ]


def _latin_ok(text: str) -> bool:
    return all(word in _HARMLESS_LATIN for word in _LATIN_WORD.findall(text))


# A word right after a clock qualifies it only when it ends the text or a clause:
# "9:30 오후" is 21:30, but in "9시 오후도 가능" (afternoon works too) 오후 is an option.
_CLAUSE_END: Final = re.compile(r"\s?(?:$|[,.!?)(/])")


def _attach_before(text: str, start: int, end: int, by_start: dict[int, Mention]) -> Mention | None:
    target = by_start.get(end) or by_start.get(end + 1)
    if target is None or not _gap_is(_SPACE, text, end, target.start):
        return None
    del by_start[target.start]
    target.start = start
    by_start[start] = target
    return target


# "three o'clock in the afternoon", "ten in the evening", "8 at night": the word names
# the clock's half of the day, as directly as "오후 3시".
_OF_THE_DAY: Final = re.compile(r"\s(?:in\sthe|at)\s$")


def _attach_after(text: str, start: int, end: int, by_end: dict[int, Mention]) -> Mention | None:
    target = by_end.get(start) or by_end.get(start - 1)
    if target is not None and not _gap_is(_SPACE, text, target.end, start):
        target = None
    if target is None and (of_the_day := _OF_THE_DAY.search(text, 0, start)) is not None:
        target = by_end.get(of_the_day.start())
    if target is None or target.marks or not _CLAUSE_END.match(text, end):
        return None
    del by_end[target.end]
    target.end = end
    by_end[end] = target
    return target


def _attach(text: str, clocks: list[Mention], lexed: Lexed) -> list[DayWord]:
    """Give each word written next to a clock to that clock; return the rest (context)."""
    if not lexed.words and not lexed.marks:
        return []  # the common "9:40 AM에 가능해요": nothing to attach
    by_start = {c.start: c for c in clocks}
    by_end = {c.end: c for c in clocks}
    context: list[DayWord] = []
    marks_count = _latin_ok(text)
    tokens = sorted(
        [(s, e, w, True) for s, e, w in lexed.words]
        + [(s, e, w, False) for s, e, w in lexed.marks],
        key=lambda token: token[0],
    )
    for start, end, word, is_word in tokens:
        if word is dw.NEUTRAL:
            continue  # "점심 전후" (around lunch) qualifies nothing
        target = _attach_before(text, start, end, by_start) or _attach_after(
            text, start, end, by_end
        )
        if target is not None:
            target.marks.append(word)
            by_end[target.end] = target
            by_start[target.start] = target
        elif is_word or marks_count:
            context.append(word)
    return context


def _bound(text: str, clock: Mention, prev_end: int, next_start: int) -> Bound | None:
    if _AFTER_SUFFIX.match(text, clock.end, next_start):
        return Bound.AFTER
    if _BEFORE_SUFFIX.match(text, clock.end, next_start):
        return Bound.BEFORE
    if _AFTER_PREFIX.search(text, prev_end, clock.start):
        return Bound.AFTER
    if _BEFORE_PREFIX.search(text, prev_end, clock.start):
        return Bound.BEFORE
    return None


def _units(text: str, clocks: list[Mention]) -> tuple[Unit, ...]:
    units: list[Unit] = []
    i = 0
    while i < len(clocks):
        clock = clocks[i]
        after = clocks[i + 1] if i + 1 < len(clocks) else None
        if after is not None and _gap_is(_RANGE_GAP, text, clock.end, after.start):
            units.append(Range(clock, after))
            i += 2
            continue
        prev_end = clocks[i - 1].end if i else 0
        next_start = after.start if after is not None else len(text)
        units.append(Single(clock, _bound(text, clock, prev_end, next_start)))
        i += 1
    return tuple(units)


def group(text: str, lexed: Lexed, *, numbers_are_hours: bool = False) -> Grouped:
    """Units and context of ``text``; ``numbers_are_hours``: every bare 1-12 is a clock."""
    clocks = _clocks(text, lexed, numbers_are_hours=numbers_are_hours)
    context = _attach(text, clocks, lexed)
    # Attaching a word moves a clock's start back over it: sort after attaching.
    clocks.sort(key=lambda c: c.start)
    clocks = _drop_weak(text, clocks)
    return Grouped(units=_units(text, clocks), context=tuple(context))
