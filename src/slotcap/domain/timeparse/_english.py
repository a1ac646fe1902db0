"""English clock words: the patterns the lexer tries and how a match becomes a clock.

"nine thirty", "two pm", "Ten o'clock", "half past ten", "quarter to eleven", "ten to
four", "twenty past 9", "2 thirty", "half nine" (British: 9:30), "eleven-ish". An hour
word alone ("three") is only a *lone* number, a clock by context ("at three", "around
three", "three in the afternoon"), like a lone digit. Counts ("two people", "three
days", "an hour") are skipped so their words never become clocks.

Every reading here becomes the same hour and minute the digits would carry, so it goes
through exactly the clock → period resolution that "9:30" does.
"""

from __future__ import annotations

import re
from typing import Final

from slotcap.domain.timeparse import _words as dw
from slotcap.domain.timeparse._tokens import Kind, Mention

__all__ = [
    "BUILDERS",
    "DIGIT_FIRST_PATTERNS",
    "HOUR_WORDS",
    "MERIDIEM",
    "WORD_FIRST_PATTERNS",
    "minute_value",
]

#: am / a.m. / pm / p.m. (the dots and a space between letters are optional).
MERIDIEM: Final = r"(?:a(?:\.\s?)?m\.?|p(?:\.\s?)?m\.?)(?![a-z])"

HOUR_WORDS: Final = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_ONES: Final = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS: Final = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS: Final = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50}

_HOUR_W: Final = "|".join(sorted(HOUR_WORDS, key=len, reverse=True))
_ONES_W: Final = "|".join(_ONES)
_TENS_W: Final = "|".join(_TENS)
_TEENS_W: Final = "|".join(sorted(_TEENS, key=len, reverse=True))
# Minutes after an hour: "thirty", "forty-five", "oh five", "fifteen". Not a bare one
# to nine ("nine two" is not 9:02), which people say as "oh two".
_MINUTES_AFTER: Final = (
    rf"(?:o|oh)[\s-]?(?:{_ONES_W})|(?:{_TENS_W})(?:[\s-]?(?:{_ONES_W}))?|{_TEENS_W}"
)
# After digits ("2 thirty", "12 ten am") the same words: a lone number beside an hour
# word would otherwise let "ten am" be read alone.
_MINUTES_AFTER_DIGITS: Final = _MINUTES_AFTER
_MINUTE_UNIT: Final = r"\s?min(?:ute)?s?"
_DIRECTION: Final = r"past|after|to|till|til|of"
_HOUR_OR_DIGITS: Final = rf"(?:{_HOUR_W})(?![a-z])|\d{{1,2}}(?![\d:])"
# "quarter to noon" is 11:45, "half past noon" 12:30: noon and midnight as the hour.
_HOUR_OR_NOON: Final = rf"{_HOUR_OR_DIGITS}|(?:noon|midday|midnight)(?![a-z])"


def _mark(prefix: str) -> str:
    return rf"(?:\s?(?P<{prefix}_mer>{MERIDIEM}))?"


WORD_FIRST_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    (
        # "half past ten", "quarter to eleven", "ten to four", "twenty-five past 9",
        # "three minutes to ten". Minutes before "to" are fives or carry "minutes": "nine
        # to five" is a range, not 4:51.
        "EN_REL",
        r"(?<![a-z])(?:(?P<er_half>half)\s(?:past|after)"
        rf"|(?P<er_q>(?:a\s)?quarter)\s(?P<er_qd>{_DIRECTION})"
        rf"|(?P<er_m>twenty[\s-]?five|twenty|ten|five)(?:{_MINUTE_UNIT})?\s(?P<er_md>{_DIRECTION})"
        rf"|(?P<er_mm>{_MINUTES_AFTER}|{_ONES_W}){_MINUTE_UNIT}\s(?P<er_mmd>{_DIRECTION}))"
        rf"\s(?P<er_h>{_HOUR_OR_NOON})" + _mark("er"),
    ),
    (
        # Counts: "two people", "three days", "an hour", "a few minutes".
        "SKIP_EN",
        rf"(?<![a-z])(?:{_HOUR_W}|a|an|a\sfew|few|a\scouple\sof)\s(?:hours?|hrs?|minutes?|mins?"
        r"|days?|weeks?|months?|years?|people|persons?|patients?|kids?|children|adults?|times"
        r"|visits?|sessions?|of\sus)(?![a-z])",
    ),
    # British "half nine" = 9:30 ("half past" is matched above).
    ("EN_HALF", rf"(?<![a-z])half\s(?P<eh_h>{_HOUR_OR_DIGITS})" + _mark("eh")),
    (
        # "nine thirty", "ten o'clock", "eleven-ish", "two pm"; "three" alone is lone.
        "EN_HOUR",
        rf"(?<![a-z])(?P<ew_h>{_HOUR_W})(?:(?P<ew_ish>\s?[-~]?\s?ish)|(?![a-z])"
        rf"(?:(?P<ew_oc>[\s-]?o'?\s?clock|\ssharp)|[\s-](?P<ew_m>{_MINUTES_AFTER})"
        r"(?:\s?-?\s?ish)?)?)(?![a-z])" + _mark("ew"),
    ),
)

_NO_DIGIT_BEFORE: Final = r"(?<!\d)(?<!\d[.:])"
DIGIT_FIRST_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    # "20 past 9" ("10 to 4" is a range: digits before "to" are never minutes).
    (
        "EN_DPAST",
        _NO_DIGIT_BEFORE
        + rf"(?P<ep_m>\d{{1,2}})(?:{_MINUTE_UNIT})?\spast\s(?P<ep_h>{_HOUR_OR_DIGITS})"
        + _mark("ep"),
    ),
    # "2 thirty", "9 forty-five pm"
    (
        "EN_DMIN",
        _NO_DIGIT_BEFORE
        + rf"(?P<ed_h>\d{{1,2}})\s(?P<ed_m>{_MINUTES_AFTER_DIGITS})(?![a-z])"
        + _mark("ed"),
    ),
    # European "14h30", "9h", "10h00"
    ("EURO", _NO_DIGIT_BEFORE + r"(?P<eu_h>\d{1,2})h(?P<eu_m>\d{2})?(?![a-z\d])"),
)

_SPLIT: Final = re.compile(r"[\s-]+")
_TO: Final = frozenset({"to", "till", "til", "of"})
# "from ten to four", "between five to six": a range of two hours, not 3:50.
_RANGE_OPENER: Final = re.compile(r"(?<![a-z])(?:from|between)\s$")


def minute_value(words: str) -> int:
    """ "thirty" → 30, "forty-five" → 45, "oh five" → 5, "fifteen" → 15, "7" → 7."""
    if words.isdigit():
        return int(words)
    total = 0
    for word in _SPLIT.split(words):
        if word in _TENS:
            total += _TENS[word]
        elif word in _TEENS:
            total += _TEENS[word]
        elif word in HOUR_WORDS:
            total += HOUR_WORDS[word]
    return total


def _hour(text: str) -> int:
    return int(text) if text.isdigit() else HOUR_WORDS[text]


# Noon and midnight are explicit clocks: "quarter to noon" is 11:45 a.m. whatever the
# clinic's hours; (hour, mark) before and after each.
_FIXED_HOURS: Final = {
    "noon": ((11, "a"), (12, "p")),
    "midday": ((11, "a"), (12, "p")),
    "midnight": ((11, "p"), (12, "a")),
}


def _meridiem(m: re.Match[str], prefix: str) -> str | None:
    mark = m.group(f"{prefix}_mer")
    return None if mark is None else mark[0]


def _relative(m: re.Match[str], text: str) -> list[Mention]:
    if m["er_h"] in _FIXED_HOURS:
        return [_around_noon(m)]
    hour = _hour(m["er_h"])
    minutes, direction = _minutes_and_direction(m)
    if direction in _TO and m["er_m"] in HOUR_WORDS and _RANGE_OPENER.search(text, 0, m.start()):
        # "from ten to four": two lone hours that the grouping reads as a range.
        start = Mention(m.start(), m.start() + len(m["er_m"]), minutes, kind=Kind.LONE)
        end = Mention(m.start("er_h"), m.end(), hour, kind=Kind.CLOCK if m["er_mer"] else Kind.LONE)
        return [start, _marked(end, _meridiem(m, "er"))]
    if direction in _TO:
        # "quarter to eleven" is 10:45: stored as the digits say it, so that it resolves
        # exactly as "10:45" does.
        said = hour
        minute = 60 - minutes
        hour = 12 if hour == 1 else hour - 1
        if minutes == 0 or minutes >= 60:
            minute, hour = 60, said  # impossible ("sixty to"): abstains as impossible_time
        mention = Mention(m.start(), m.end(), hour, minute, to_twelve=said == 12)
    else:
        mention = Mention(m.start(), m.end(), hour, minutes)
    return [_marked(mention, _meridiem(m, "er"))]


def _minutes_and_direction(m: re.Match[str]) -> tuple[int, str]:
    if m["er_half"]:
        return 30, "past"
    if m["er_q"]:
        return 15, m["er_qd"]
    if m["er_m"]:
        return minute_value(m["er_m"]), m["er_md"]
    return minute_value(m["er_mm"]), m["er_mmd"]


def _around_noon(m: re.Match[str]) -> Mention:
    minutes, direction = _minutes_and_direction(m)
    before, after = _FIXED_HOURS[m["er_h"]]
    if direction in _TO:
        (hour, mark), minute = before, 60 - minutes
    else:
        (hour, mark), minute = after, minutes
    if not 0 < minutes < 60:
        minute = 60  # impossible ("sixty to noon"): abstains as impossible_time
    mention = _marked(Mention(m.start(), m.end(), hour, minute), mark)
    # A written am/pm must agree: "quarter to noon pm" conflicts.
    return _marked(mention, _meridiem(m, "er"))


def _marked(mention: Mention, mark: str | None) -> Mention:
    if mark is not None:
        mention.marks.append(dw.AM_MARK if mark == "a" else dw.PM_MARK)
    return mention


def _half(m: re.Match[str], _text: str) -> list[Mention]:
    return [_marked(Mention(m.start(), m.end(), _hour(m["eh_h"]), 30), _meridiem(m, "eh"))]


def _hour_word(m: re.Match[str], _text: str) -> list[Mention]:
    mark = _meridiem(m, "ew")
    minute = minute_value(m["ew_m"]) if m["ew_m"] else 0
    plain = not (m["ew_oc"] or m["ew_m"] or m["ew_ish"] or mark)
    kind = Kind.LONE if plain else Kind.CLOCK
    return [_marked(Mention(m.start(), m.end(), HOUR_WORDS[m["ew_h"]], minute, kind=kind), mark)]


def _digit_past(m: re.Match[str], _text: str) -> list[Mention]:
    mention = Mention(m.start(), m.end(), _hour(m["ep_h"]), int(m["ep_m"]))
    return [_marked(mention, _meridiem(m, "ep"))]


def _digit_minutes(m: re.Match[str], _text: str) -> list[Mention]:
    hour, padded = int(m["ed_h"]), len(m["ed_h"]) == 2 and m["ed_h"][0] == "0"
    mention = Mention(m.start(), m.end(), hour, minute_value(m["ed_m"]), padded=padded)
    return [_marked(mention, _meridiem(m, "ed"))]


def _european(m: re.Match[str], _text: str) -> list[Mention]:
    hour, padded = int(m["eu_h"]), len(m["eu_h"]) == 2 and m["eu_h"][0] == "0"
    minute = int(m["eu_m"]) if m["eu_m"] else 0
    return [Mention(m.start(), m.end(), hour, minute, padded=padded, european=True)]


BUILDERS: Final = {
    "EN_REL": _relative,
    "EN_HALF": _half,
    "EN_HOUR": _hour_word,
    "EN_DPAST": _digit_past,
    "EN_DMIN": _digit_minutes,
    "EURO": _european,
}
