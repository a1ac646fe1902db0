"""Negation as a reading: what a text denies is excluded, and one period may remain.

"오전은 안돼요" (mornings are impossible) is the afternoon; "오후 불가, 오전만 가능" is the
morning; "not before 2 pm" is from 2 pm; "not 9, 2pm works" is 2 pm. The text is cut
into clauses (at punctuation and "but"-like words), each clause into what a negation
denies (its *scope*) and what it leaves affirmed:

* Korean negations follow what they deny (``오전은 안돼요``, ``오후 말고``, ``오전 X``): the
  scope runs from the clause start to the negation; what follows is affirmed.
* "except" / "other than" precede it: the scope runs from them to the clause end.
* "not", "no", "n't", "never", "impossible", "unavailable" deny their whole clause.

A denied *period word* that names a whole period (오전, 오후, morning, afternoon, am,
pm, 점심 전/후) excludes that period; a denied open bound ("not before 2 pm") is its
opposite bound; a denied clock or range ("not 9", "not 9-11") excludes no period. The
affirmed clauses are read as usual and must agree with what remains. The text is read
only when exactly one period is left; it abstains when a negation denies nothing it can
name (``not sure``), when a clause holds two negations (``안 되는 건 아니에요``), or
when a Korean negation may reach back over a bare list item (``오전, 오후 안돼요``: is the
morning denied too?).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from slotcap.domain.model import Period
from slotcap.domain.timeparse._group import Bound, Single, group
from slotcap.domain.timeparse._hours import ClinicHours
from slotcap.domain.timeparse._resolve import Fail, Read, open_bound, resolve_mention, settle
from slotcap.domain.timeparse._result import ParsedTime, abstain, clock_of_seconds
from slotcap.domain.timeparse._scan import Lexed, Negation, Scope, lex

__all__ = ["read_negated"]

# Where a clause ends. Not "and" / "or" / "," inside a list: "mornings and afternoons are
# not possible" denies both. A comma does end a clause ("not 9, 2pm works").
_CLAUSE_BREAK: Final = re.compile(
    r"[,;!?]|(?<![a-z]\.[a-z])\.(?!\d)|(?<![a-z])(?:but|however|though|although|whereas|instead)(?![a-z])"
    r"|하지만|그런데|근데|대신|(?:는데|은데|인데|지만|고)(?=\s|$)"
)
# What a clause may hold besides its time words to count as a bare list item.
_ALNUM: Final = re.compile(r"[^\W_]")
# "오전도 안돼요", "mornings don't work either": something else is denied as well, and
# the text does not say what.
_ALSO: Final = re.compile(r"[가-힣]도\s*$|(?<![a-z])(?:also|too|either|neither|nor)(?![a-z])")
# Words that narrow a period to a part of it (or of the week).
_PARTIAL: Final = re.compile(
    r"(?<![a-z])(?:early|earlier|late|later|mid|middle|end|beginning|start|first|second"
    r"|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|mon|tue|wed|thu|fri|sat|sun"
    r"|tomorrow|today|this|next)(?![a-z])"
    r"|일찍|늦|이른|초반|중반|후반|끝|[월화수목금토일]요일|주말|내일|오늘|모레|이번|다음"
)
_FILLER: Final = re.compile(r"[\s,.;!?/()~\-]*")
_BOTH: Final = frozenset({Period.MORNING, Period.AFTERNOON})
_FLIPPED: Final = {Bound.AFTER: Bound.BEFORE, Bound.BEFORE: Bound.AFTER}

#: Reads an affirmed clause; the flag says a clock was denied beside it, so that its
#: bare numbers are hours ("not 9, 10 is fine").
Reader = Callable[[str, bool], ParsedTime]


def _token_spans(lexed: Lexed) -> list[tuple[int, int]]:
    spans = [(n.start, n.end) for n in lexed.negations]
    spans += [(m.start, m.end) for m in (*lexed.mentions, *lexed.lones)]
    spans += [(s, e) for s, e, _ in (*lexed.words, *lexed.marks)]
    return spans


def _clauses(text: str, lexed: Lexed) -> list[tuple[int, int]]:
    spans, start = [], 0
    tokens = _token_spans(lexed)
    for m in _CLAUSE_BREAK.finditer(text):
        if any(s <= m.start() < e for s, e in tokens):
            # The "." of "a.m.", the "but" of "any time but mornings": inside a token.
            continue
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def _squash(text: str) -> str:
    return " ".join(text.split())


def _is_bare(text: str) -> bool:
    """Only time words, numbers and separators: a list item, not a sentence."""
    lexed = lex(text)
    if lexed.negations:
        return False
    covered = [(s, e) for s, e, _ in (*lexed.words, *lexed.marks)]
    covered += [(m.start, m.end) for m in (*lexed.mentions, *lexed.lones)]
    rest, last = [], 0
    for s, e in sorted(covered):
        rest.append(text[last:s])
        last = max(last, e)
    rest.append(text[last:])
    return _FILLER.fullmatch("".join(rest)) is not None


class _Reading:
    """What the clauses say so far: the periods still allowed, the affirmed reads."""

    def __init__(self) -> None:
        self.allowed: set[Period] = set(_BOTH)
        self.reads: list[ParsedTime] = []
        self.denied_a_clock = False

    def deny(self, text: str, hours: ClinicHours) -> Fail | None:
        """Exclude what a negation's scope names; fail if it names nothing."""
        if _ALSO.search(text) is not None:
            return Fail("negated")  # "오전도 안돼요": the morning *too* — what else?
        lexed = lex(text)
        grouped = group(text, lexed)
        if not grouped.units and not grouped.context and not lexed.lones:
            return Fail("negated")  # "not sure", "안 바빠요": nothing time-like is denied
        self.denied_a_clock = self.denied_a_clock or bool(grouped.units or lexed.lones)
        # "오후 늦게 말고" (not late in the afternoon), "not early mornings", "not monday
        # morning": a part of the period is denied, the rest of it is still open.
        partial = _PARTIAL.search(text) is not None
        for word in grouped.context:
            if word.excludes and word.period is not None and not partial:
                self.allowed.discard(word.period)
        for unit in grouped.units:
            if isinstance(unit, Single) and unit.bound is not None:
                # "not before 2 pm" is "from 2 pm"; "not after 11am" is "until 11am".
                resolved = resolve_mention(unit.mention, grouped.context, hours)
                if isinstance(resolved, Fail):
                    return resolved
                read = settle(resolved, hours)
                if isinstance(read, Fail) or read.seconds is None:
                    return read if isinstance(read, Fail) else Fail("negated")
                bounded = open_bound(read.seconds, _FLIPPED[unit.bound])
                if isinstance(bounded, Fail):
                    return bounded
                self.affirm(_as_result(bounded))
        return None

    def affirm(self, result: ParsedTime) -> None:
        self.reads.append(result)
        if result.period is not None:
            self.allowed &= {result.period}


def _as_result(read: Read) -> ParsedTime:
    # The reading of the opposite bound, under its own reason: the negation did it.
    return ParsedTime(read.period, clock_of_seconds(read.seconds), False, "negated_bound")


def _segments(text: str, lexed: Lexed) -> list[tuple[str, bool]] | None:
    """(text, denied) pieces in order; None when a negation's scope is unclear."""
    pieces: list[tuple[str, bool]] = []
    previous_bare = False
    for start, end in _clauses(text, lexed):
        negations = [n for n in lexed.negations if start <= n.start < end]
        if len(negations) > 1:
            return None  # "안 되는 건 아니에요", "not impossible": double negation
        clause = text[start:end]
        if not negations:
            pieces.append((clause, False))
            previous_bare = bool(clause.strip()) and _is_bare(clause)
            continue
        n: Negation = negations[0]
        before, after = text[start : n.start], text[n.end : end]
        if n.scope is Scope.BACKWARD:
            # "오전, 오후 안돼요": the negation may reach back over the bare "오전".
            if previous_bare:
                return None
            pieces += [(before, True), (after, False)]
        elif n.scope is Scope.FORWARD:
            pieces += [(before, False), (after, True)]
        else:
            pieces.append((before + " " + after, True))
        previous_bare = False
    return pieces


def read_negated(text: str, lexed: Lexed, hours: ClinicHours, read_plain: Reader) -> ParsedTime:
    """The period a text with negations leaves, or an abstention."""
    pieces = _segments(text, lexed)
    if pieces is None:
        return abstain("negated")
    reading = _Reading()
    # Denials first: whether a clock was denied decides how the affirmed clauses read.
    for piece, denied in sorted(pieces, key=lambda p: not p[1]):
        piece = _squash(piece)
        if denied and _ALNUM.search(piece) is None:
            return abstain("negated")  # "No, afternoon": what does the "no" deny?
        if not piece:
            continue
        if denied:
            failed = reading.deny(piece, hours)
            if failed is not None:
                return abstain(failed.reason, ambiguous=failed.ambiguous)
            continue
        result = read_plain(piece, reading.denied_a_clock)
        if result.period is None and result.reason not in ("unreadable", "empty", "no_preference"):
            return result  # an affirmed clause that cannot be read: its own reason
        if result.period is not None:
            reading.affirm(result)
    if not reading.allowed:
        return abstain("conflicting", ambiguous=True)  # "오전 안돼요, 오전 가능"; both denied
    if len(reading.allowed) > 1:
        return abstain("negated")  # "9시는 안돼요": the clock is out, both periods remain
    (period,) = reading.allowed
    reads = [r for r in reading.reads if r.period is period]
    if not reads:
        return ParsedTime(period, None, False, "negation_remaining")
    if len(reads) == 1 or all(r.clock == reads[0].clock for r in reads):
        return reads[0]
    return ParsedTime(period, None, False, "options_agree")
