"""The lexer's first-character guards must not hide any alternative.

``_scan._MASTER`` tries the digit-first alternatives only where a digit stands and the
others only where one of ``_WORD_FIRST`` stands. This derives, from the patterns
themselves, every character each alternative can start with, and checks the guards
cover them: an alternative added or changed without its first characters fails here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.strategies.hostile import hostile_text

from slotcap.domain.timeparse import _scan
from slotcap.domain.timeparse._normalise import normalise

# The regular-expression parser's own view of a pattern (private modules, untyped).
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

_ZERO_WIDTH = (sre.ASSERT, sre.ASSERT_NOT, sre.AT)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


def _charset(items: Iterable[tuple[Any, Any]]) -> set[str] | None:
    chars: set[str] = set()
    for op, av in items:
        if op is sre.LITERAL:
            chars.add(chr(av))
        elif op is sre.RANGE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op is sre.CATEGORY and av is sre.CATEGORY_DIGIT:
            chars.add("0")  # stands for \d, checked separately
        else:
            return None  # a class we cannot enumerate: treat as "anything"
    return chars


def _first(items: Iterable[tuple[Any, Any]]) -> tuple[set[str] | None, bool]:
    """(characters a match can start with, None = any; whether it can match empty)."""
    out: set[str] = set()
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue
        if op is sre.LITERAL:
            return out | {chr(av)}, False
        if op is sre.IN:
            chars = _charset(av)
            return (None if chars is None else out | chars), False
        if op is sre.SUBPATTERN:
            found, nullable = _first(av[3])
        elif op is sre.BRANCH:
            found, nullable = set(), False
            for branch in av[1]:
                more, empty = _first(branch)
                if more is None:
                    return None, False
                found |= more
                nullable = nullable or empty
        elif op in _REPEATS:
            found, nullable = _first(av[2])
            nullable = nullable or av[0] == 0
        else:
            return None, False
        if found is None:
            return None, False
        out |= found
        if not nullable:
            return out, False
    return out, True


_LATIN = set(_scan._LATIN_STARTS)
_HANGUL = set(_scan._HANGUL_STARTS)


@pytest.mark.parametrize(("name", "body"), _scan._PATTERNS, ids=[n for n, _ in _scan._PATTERNS])
def test_every_alternative_starts_where_its_guard_lets_it(name: str, body: str) -> None:
    first, nullable = _first(sre_parse.parse(body))
    assert not nullable, f"{name} can match the empty string"
    assert first is not None, f"{name} can start with any character"
    if name in _scan._DIGIT_FIRST:
        assert first == {"0"} or first <= set("0123456789"), (name, first)
    elif name in _scan._LATIN_FIRST:
        assert first <= set(_scan._LATIN_STARTS), (name, sorted(first - _LATIN))
    elif name in _scan._SYMBOL_FIRST:
        assert first <= set(_scan._SYMBOLS), (name, sorted(first - set(_scan._SYMBOLS)))
    else:
        assert first <= set(_scan._HANGUL_STARTS), (name, sorted(first - _HANGUL))


def test_latin_alternatives_never_start_inside_a_word() -> None:
    # Each begins with a "no letter before" look-behind, so that the master pattern may
    # skip the whole block inside a word.
    for name, body in _scan._PATTERNS:
        if name in _scan._LATIN_FIRST:
            assert body.startswith((r"(?<![a-z])", r"(?<![a-z\d])")), name


_UNGUARDED = re.compile("|".join(f"(?P<{name}>{body})" for name, body in _scan._PATTERNS))


_ENGLISH = st.lists(
    st.sampled_from(
        ["nine", "ten", "o'clock", "not", "can't", "x", "a.m.", "pm", "noon", "lunch", "half",
         "quarter", "to", "past", "no later than", "오전", "안돼요", "3", ":", " ", "-", "×",
         "n't", "anytime but", "if not", "after school", "ish", "h", "before work"]
    ),
    max_size=8,
).map("".join)  # fmt: skip


_AM_PM = st.lists(
    st.sampled_from(
        ["a", "m", "p", ".", " ", "am", "pm", "a.m.", "p. m.", "9", "10:30", "시", "~"]
    ),
    max_size=10,
).map("".join)


@given(hostile_text(max_size=30) | _ENGLISH)
def test_the_guarded_pattern_matches_like_the_plain_alternation(text: str) -> None:
    normal = normalise(text)
    plain = [(m.lastgroup, m.span()) for m in _UNGUARDED.finditer(normal)]
    assert [(m.lastgroup, m.span()) for m in _scan._MASTER.finditer(normal)] == plain


@given(hostile_text(max_size=30) | _ENGLISH | _AM_PM)
def test_the_smaller_patterns_match_alike_where_lex_uses_them(text: str) -> None:
    # Without a Latin letter the English block cannot match; with only a, m and p, only
    # its am/pm can. Both smaller patterns must then match exactly as the full one.
    normal = normalise(text)
    full = [(m.lastgroup, m.span()) for m in _scan._MASTER.finditer(normal)]
    if re.search("[a-z]", normal) is None:
        smaller = _scan._MASTER_NO_LATIN
    elif re.search("[b-ln-oq-z]", normal) is None:
        smaller = _scan._MASTER_AM_PM
    else:
        return
    assert [(m.lastgroup, m.span()) for m in smaller.finditer(normal)] == full


def test_the_only_printable_space_is_the_plain_space() -> None:
    # normalise() keeps a printable text's spacing as is when it has no double or outer
    # space: that is only right if every other Unicode space is non-printable.
    printable_spaces = [c for c in range(0x110000) if chr(c).isspace() and chr(c).isprintable()]
    assert printable_spaces == [0x20]


@given(st.text() | hostile_text(max_size=30))
def test_normalised_text_is_single_spaced_and_stable(text: str) -> None:
    normal = normalise(text)
    assert normal == " ".join(normal.split())
    assert normalise(normal) == normal
