"""The lexer: one left-to-right pass of one precompiled pattern over normalised text.

It finds clock mentions (with the digits as written), time-of-day words, standalone
am/pm marks, negations and "any time" phrases. Everything else (particles, "please",
"가능해요", approximations like 쯤/around) is simply not matched and so ignored.
Dates, durations and counts ("3월 5일", "2시간", "2명") are matched first so that their
digits are never read as clocks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import attrs

from slotcap.domain.timeparse import _english as en
from slotcap.domain.timeparse import _words as dw
from slotcap.domain.timeparse._phrases import PHRASE_PATTERNS
from slotcap.domain.timeparse._tokens import Kind, Mention, Negation, Scope
from slotcap.domain.timeparse._words import DayWord

__all__ = ["Kind", "Lexed", "Mention", "Negation", "Scope", "lex"]


@attrs.define(slots=True)
class Lexed:
    mentions: list[Mention] = attrs.Factory(list)
    lones: list[Mention] = attrs.Factory(list)
    words: list[tuple[int, int, DayWord]] = attrs.Factory(list)
    marks: list[tuple[int, int, DayWord]] = attrs.Factory(list)  # standalone am / pm
    negations: list[Negation] = attrs.Factory(list)
    no_preference: bool = False

    @property
    def negated(self) -> bool:
        return bool(self.negations)


_MER: Final = en.MERIDIEM
# Not inside a longer number, nor the minutes of "9:30" / "9.30".
_NO_DIGIT_BEFORE: Final = r"(?<!\d)(?<!\d[.:])"


def _suffix(prefix: str, *, required: bool = False) -> str:
    # "9am", "9 a.m.", "9:30pm"; the one-letter "10a" / "3p" only right after the digits,
    # so that "at 3 a good time" is not 3 a.m.
    body = rf"(?:\s?(?P<{prefix}_mer>{_MER})|(?P<{prefix}_mer1>[ap])(?![a-z]))"
    return body if required else body + "?"


_KO_HOURS: Final = {
    "한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8,
    "아홉": 9, "열": 10, "열한": 11, "열두": 12,
    "일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9,
    "십": 10, "십일": 11, "십이": 12,
}  # fmt: skip
_SINO_DIGITS: Final = dict(zip("일이삼사오육칠팔구", range(1, 10), strict=True))
_KO_HOUR_ALT: Final = "|".join(sorted(_KO_HOURS, key=len, reverse=True))
_SINO_MINUTES: Final = r"[이삼사오]?십[일이삼사오육칠팔구]?|[일이삼사오육칠팔구]"
_DAY_WORDS_KO: Final = "오전|오후|아침|점심|저녁|밤|새벽|낮"
# After a number word + 시 only a particle and then a word break may follow: this keeps
# "오시면" (if you come), "이 시간" (this time), "한시적" and "삼시세끼" out.
_KO_TAIL: Final = (
    r"(?=(?:쯤|경|즈음|정도|무렵|에|이나|나|까지|부터|이후|이전|전|후|요|이요|정각|로|으로|도"
    r"|예요|이에요|에요)?(?:$|[\s,.!?~\-/()]))"
)
_MINUTES_KO: Final = (
    r"(?:\s?(?:(?P<{p}_half>반)|(?P<{p}_m>{m})\s?분(?:\s?(?P<{p}_ago>전)(?![후화]))?))?"
)

_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    (
        "SKIP",
        # 2024-03-05, 2024년 3월 5일
        r"(?:19|20)\d{2}\s?[-./년]\s?\d{1,2}\s?[-./월]\s?\d{1,2}\s?일?"
        r"|\d{2,3}-\d{3,4}-\d{4}"  # a phone number
        r"|\d{1,2}\s?월\s?\d{1,2}\s?일?"  # 3월 5일
        r"|\d{1,2}\s?/\s?\d{1,2}(?:\s?/\s?\d{2,4})?(?![\d:]|\s?(?:시|[ap]))"  # 3/5
        r"|\d+\s?(?:시간|hours?|hrs?|minutes?|mins?|분|명|개|번|회|살|세|년|월|일|주|원|층|호|인"
        r"|people|persons?|patients?|days?|weeks?|months?|years?|times|kids?|children|adults?"
        r"|floor|rooms?)(?![a-z])"
        r"|\d{1,2}(?:st|nd|rd|th)(?![a-z])",  # 2nd, 3rd: dates, not clocks
    ),
    (
        "COLON",
        _NO_DIGIT_BEFORE
        + r"(?P<c_h>\d{1,2})\s?:\s?(?P<c_m>\d{2})(?:\s?:\s?(?P<c_s>\d{2}))?(?!\d)"
        + _suffix("c"),
    ),
    (
        "KO",
        _NO_DIGIT_BEFORE
        + r"(?P<k_h>\d{1,2})\s?시(?![간술작])"
        + _MINUTES_KO.format(p="k", m=r"\d{1,2}"),
    ),
    (
        "WNUM",
        rf"(?:(?P<n_kw>{_DAY_WORDS_KO})\s?)?(?P<n_h>{_KO_HOUR_ALT})\s?시"
        + _MINUTES_KO.format(p="n", m=rf"{_SINO_MINUTES}|\d{{1,2}}")
        + _KO_TAIL,
    ),
    ("HHMM", r"(?<![\d.:])(?P<h4_h>[01]\d|2[0-4])(?P<h4_m>\d{2})(?![\d.:])" + _suffix("h4")),
    (
        "HHMM3",
        r"(?<![\d.:])(?P<h3_h>\d)(?P<h3_m>\d{2})(?![\d.:])" + _suffix("h3", required=True),
    ),
    ("DOT", r"(?<![\d.:])(?P<d_h>\d{1,2})\.(?P<d_m>\d{2})(?![\d.])" + _suffix("d")),
    ("HMER", _NO_DIGIT_BEFORE + r"(?P<hm_h>\d{1,2})" + _suffix("hm", required=True)),
    *en.DIGIT_FIRST_PATTERNS,
    ("ISH", _NO_DIGIT_BEFORE + r"(?P<i_h>\d{1,2})\s?[-~]?\s?ish(?![a-z])"),
    ("OCLOCK", _NO_DIGIT_BEFORE + r"(?P<o_h>\d{1,2})\s?(?:o'?\s?clock|sharp(?![a-z]))"),
    # First of the English block: am/pm is its most common word, and no other English
    # alternative can match where it does (none reads "am", "a.m." or "pm").
    ("MARK_EN", r"(?<![a-z\d])" + _MER),
    *PHRASE_PATTERNS,
    ("LONE", _NO_DIGIT_BEFORE + r"(?P<l_h>\d{1,2})(?!\d|[.:]\d)"),
)

#: Which characters each alternative can start with. At a given position only one block
#: can match (a digit, a letter starting a Latin word, a Hangul syllable, one of the
#: symbols), so guarding each block by its first character keeps the leftmost-first
#: choice of the single alternation while the engine skips the other blocks at once.
#: Most positions of an English sentence are inside a word, where only "n't" can start.
_DIGIT_FIRST: Final = frozenset(
    {"SKIP", "COLON", "KO", "HHMM", "HHMM3", "DOT", "HMER", "ISH", "OCLOCK", "LONE"}
    | {name for name, _ in en.DIGIT_FIRST_PATTERNS}
)
_LATIN_FIRST: Final = frozenset(
    {name for name, _ in _PATTERNS if name.endswith("_EN")}
    | {name for name, _ in en.WORD_FIRST_PATTERNS}
)
_SYMBOL_FIRST: Final = frozenset(name for name, _ in _PATTERNS if name.endswith("_SYM"))
#: The characters each block's alternatives can start with (a test derives them from the
#: patterns): most syllables of a Korean sentence and most English words start nothing,
#: and one class test then skips the whole block there.
_SYMBOLS: Final = "×✕✗✘❌✖🚫🙅n\u1102"
_LATIN_STARTS: Final = "abcdefhilmnopqstuwx"
_HANGUL_STARTS: Final = (
    "곤구근낮네노다두등런말못무바밤방볼불빼사삼상새선세수스시싫십"
    + "아안야약어언업여열오외육이일자저점정제좀출칠퇴팔피하학한회힘"
)


def _block(names: frozenset[str] | None) -> str:
    """The alternatives in ``names`` (None: those in no other block), in their order."""
    others = _DIGIT_FIRST | _LATIN_FIRST | _SYMBOL_FIRST
    return "|".join(
        f"(?P<{name}>{body})"
        for name, body in _PATTERNS
        if (name in names if names is not None else name not in others)
    )


_DIGITS_BLOCK: Final = rf"(?=\d)(?:{_block(_DIGIT_FIRST)})"
_OTHER_BLOCKS: Final = (
    rf"|(?=[{_HANGUL_STARTS}])(?:{_block(None)})|(?=[{_SYMBOLS}])(?:{_block(_SYMBOL_FIRST)})"
)
_MASTER: Final = re.compile(
    _DIGITS_BLOCK + rf"|(?<![a-z])(?=[{_LATIN_STARTS}])(?:{_block(_LATIN_FIRST)})" + _OTHER_BLOCKS
)
#: The same without the English block, for text without a Latin letter (most Korean and
#: digit texts), where that block can never match: a smaller pattern with half the
#: groups, whose every match is cheaper to make (measured: the English block cost
#: Korean and digit texts about 1 µs of 3.5 when present).
_MASTER_NO_LATIN: Final = re.compile(_DIGITS_BLOCK + _OTHER_BLOCKS)
#: And for text whose only Latin letters are a, m and p ("10:50 am나 3시"), where of the
#: English block only am/pm can match.
_MASTER_AM_PM: Final = re.compile(
    _DIGITS_BLOCK + rf"|(?<![a-z])(?=[ap])(?:{_block(frozenset({'MARK_EN'}))})" + _OTHER_BLOCKS
)
_LATIN_LETTER: Final = re.compile("[a-z]")
_NOT_AM_PM_LETTER: Final = re.compile("[b-ln-oq-z]")
#: Each alternative's meaning: "W_EVENING_EN" is the word W_EVENING, spelt in English.
_BASE: Final = {name: name.removesuffix("_EN").removesuffix("_SYM") for name, _ in _PATTERNS}


def _mark(match: re.Match[str], prefix: str) -> DayWord | None:
    text = match.group(f"{prefix}_mer") or match.group(f"{prefix}_mer1")
    if text is None:
        return None
    return dw.AM_MARK if text[0] == "a" else dw.PM_MARK


def _digits(text: str) -> tuple[int, bool]:
    """The number and whether it was written with a leading zero ("09")."""
    return int(text), len(text) == 2 and text[0] == "0"


def _with_mark(mention: Mention, mark: DayWord | None) -> Mention:
    if mark is not None:
        mention.marks.append(mark)
    return mention


def _sino(text: str) -> int:
    """Sino-Korean 1-59 ("삼십오" = 35) or Arabic digits."""
    if text.isdigit():
        return int(text)
    if "십" not in text:
        return _SINO_DIGITS[text]
    tens, _, ones = text.partition("십")
    return (_SINO_DIGITS[tens] if tens else 1) * 10 + (_SINO_DIGITS[ones] if ones else 0)


def _korean_minutes(match: re.Match[str], prefix: str, mention: Mention, sino: bool) -> Mention:
    if match.group(f"{prefix}_half"):
        mention.minute = 30
    elif (minutes := match.group(f"{prefix}_m")) is not None:
        value = _sino(minutes) if sino else int(minutes)
        if match.group(f"{prefix}_ago"):
            mention.minus = value  # "3시 10분 전" = 10 minutes before 3
        else:
            mention.minute = value
    return mention


_KO_WORDS: Final = {
    "오전": dw.KO_AM, "오후": dw.KO_PM, "아침": dw.EARLY,
    "점심": dw.LUNCH, "저녁": dw.EVENING, "밤": dw.NIGHT,
    "새벽": dw.DAWN, "낮": dw.DAYTIME,
}  # fmt: skip


def _colon(m: re.Match[str]) -> Mention:
    hour, padded = _digits(m["c_h"])
    second = int(m["c_s"]) if m["c_s"] else 0
    mention = Mention(m.start(), m.end(), hour, int(m["c_m"]), second, padded)
    return _with_mark(mention, _mark(m, "c"))


def _ko(m: re.Match[str]) -> Mention:
    hour, padded = _digits(m["k_h"])
    return _korean_minutes(m, "k", Mention(m.start(), m.end(), hour, padded=padded), sino=False)


def _wordnum(m: re.Match[str]) -> Mention:
    mention = Mention(m.start(), m.end(), _KO_HOURS[m["n_h"]], kind=Kind.WORDNUM)
    if m["n_kw"]:
        mention.marks.append(_KO_WORDS[m["n_kw"]])
    return _korean_minutes(m, "n", mention, sino=True)


def _hhmm(m: re.Match[str], prefix: str, kind: Kind) -> Mention:
    mark = _mark(m, prefix)
    hour, padded = _digits(m[f"{prefix}_h"])
    mention = Mention(m.start(), m.end(), hour, int(m[f"{prefix}_m"]), 0, padded, kind)
    # Without am/pm, "0930" and "9.30" are weak: a year, a price or a date ("3.15") look
    # the same, so beside a real clock they count only when offered as an option or range.
    mention.weak = mark is None
    return _with_mark(mention, mark)


def _hour_only(m: re.Match[str], group: str, kind: Kind = Kind.CLOCK) -> Mention:
    hour, padded = _digits(m[group])
    return Mention(m.start(), m.end(), hour, padded=padded, kind=kind)


_BUILDERS: Final[dict[str, Callable[[re.Match[str]], Mention]]] = {
    "COLON": _colon,
    "KO": _ko,
    "WNUM": _wordnum,
    "HHMM": lambda m: _hhmm(m, "h4", Kind.HHMM),
    "HHMM3": lambda m: _hhmm(m, "h3", Kind.CLOCK),
    "DOT": lambda m: _hhmm(m, "d", Kind.CLOCK),
    "HMER": lambda m: _with_mark(_hour_only(m, "hm_h"), _mark(m, "hm")),
    "ISH": lambda m: _hour_only(m, "i_h"),
    "OCLOCK": lambda m: _hour_only(m, "o_h"),
    "NOON": lambda m: Mention(m.start(), m.end(), 12, kind=Kind.NOON),
    "MIDNIGHT": lambda m: Mention(m.start(), m.end(), 0, kind=Kind.MIDNIGHT),
    "LONE": lambda m: _hour_only(m, "l_h", Kind.LONE),
}


_APPROX_PREFIX: Final = re.compile(r"(?:약|대략|대충|around|about|approx\.?|approximately)?\s?")


def _at_text_start(text: str, start: int) -> bool:
    """Nothing but an approximation word before ``start``."""
    return _APPROX_PREFIX.fullmatch(text, 0, start) is not None


def _accept_wordnum(text: str, mention: Mention, kw: bool, numeral: str) -> bool:
    # A number word is a clock only after a time-of-day word ("오후 세시") or as the
    # opening of the text ("두시 반에 가능"); "일시" also means "date and time", so the
    # Sino-Korean 일 needs the word.
    if kw:
        return True
    return numeral != "일" and _at_text_start(text, mention.start)


def _add_mention(out: Lexed, text: str, m: re.Match[str], mention: Mention) -> None:
    if mention.kind is Kind.LONE:
        out.lones.append(mention)
    elif mention.kind is not Kind.WORDNUM or _accept_wordnum(
        text, mention, bool(m["n_kw"]), m["n_h"]
    ):
        out.mentions.append(mention)


_SCOPES: Final = {
    "NEG_BACKWARD": Scope.BACKWARD,
    "NEG_FORWARD": Scope.FORWARD,
    "NEG_ANY_BUT": Scope.FORWARD,
    "NEG_CLAUSE": Scope.CLAUSE,
}


def lex(text: str) -> Lexed:
    """Tokenise normalised text."""
    out = Lexed()
    if _LATIN_LETTER.search(text) is None:
        master = _MASTER_NO_LATIN
    elif _NOT_AM_PM_LETTER.search(text) is None:
        master = _MASTER_AM_PM
    else:
        master = _MASTER
    for m in master.finditer(text):
        if m.lastgroup is None:
            continue
        name = _BASE[m.lastgroup]
        if name.startswith("SKIP"):
            continue
        if name.startswith("W_"):
            out.words.append((m.start(), m.end(), dw.BY_NAME[name[2:]]))
        elif name == "MARK":
            mark = dw.AM_MARK if m.group()[0] == "a" else dw.PM_MARK
            out.marks.append((m.start(), m.end(), mark))
        elif name in _SCOPES:
            out.negations.append(Negation(m.start(), m.end(), _SCOPES[name]))
        elif name == "NOPREF":
            out.no_preference = True
        elif name in en.BUILDERS:
            for mention in en.BUILDERS[name](m, text):
                _add_mention(out, text, m, mention)
        else:
            _add_mention(out, text, m, _BUILDERS[name](m))
    return out
