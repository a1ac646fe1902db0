"""Hypothesis strategies for untrusted input: any JSON value, hostile text, booking bodies.

``json_values()`` is everything ``json.loads`` can return (NaN and the infinities too:
Python's decoder accepts them). ``hostile_text()`` is arbitrary Unicode *including*
lone surrogates (valid in JSON as ``"\\ud800"``), NUL and other control characters,
bidi overrides and very long strings. ``booking_bodies()`` starts from a valid body and
replaces, drops or adds fields with those values, so that the fuzzer reaches every
field's checks instead of stopping at the first missing one.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "SPECIAL_CHARACTERS",
    "VALID_BODY",
    "booking_bodies",
    "hostile_text",
    "json_scalars",
    "json_values",
]

#: Characters that have broken text handling somewhere: NUL (PostgreSQL refuses it),
#: lone surrogates (UTF-8 cannot encode them), C0/C1 controls, DEL, CR, line and
#: paragraph separators, bidi override, zero-width joiner, BOM, non-characters.
SPECIAL_CHARACTERS: tuple[str, ...] = (
    "\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\x01", "\x1b", "\x7f", "\x85", "\x9f",
    "\r", "\n", "\t", "\u2028", "\u2029", "\u202e", "\u200d", "\ufeff", "\uffff", "\U0010ffff",
)  # fmt: skip

# st.characters() leaves out surrogates (category Cs) unless asked for them by name.
_any_character = st.one_of(
    st.characters(codec=None), st.characters(categories=["Cs"]), st.sampled_from(SPECIAL_CHARACTERS)
)


def hostile_text(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """Any Unicode string, surrogates and controls included, sometimes around a
    plausible value (a phone number, a date, a period name)."""
    # lists + join, not st.text(): text() quietly drops the surrogates of a mixed alphabet.
    mixed = st.lists(_any_character, max_size=max_size).map("".join)
    plausible = st.sampled_from(
        ["010-1234-5678", "2026-01-05", "MORNING", "afternoon", "WRINKLE_BOTOX", "10:00",
         "김하늘", "a@b.co", "FEMALE", "FIRST_VISIT", "  ", ""]
    )
    spliced = st.tuples(mixed, plausible, mixed).map("".join)
    return st.one_of(mixed, plausible, spliced, st.just("x" * 2001))


json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text(),
)


def json_values(*, max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any value ``json.loads`` can produce: scalars, arrays, objects, nested."""
    return st.recursive(
        json_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(hostile_text(max_size=12), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


#: A body that validates on 2026-01-02 (a Monday morning booking three days ahead).
VALID_BODY: dict[str, Any] = {
    "patient_name": "김하늘",
    "phone": "010-1234-5678",
    "email": "sky@example.com",
    "birth_date": "1990-01-01",
    "gender": "FEMALE",
    "treatment_type": "FIRST_VISIT",
    "service": "WRINKLE_BOTOX",
    "preferred_date": "2026-01-05",
    "preferred_time": "10:00",
    "period": "MORNING",
    "notes": "첫 방문입니다.\n주차 가능한가요?",
}


@st.composite
def booking_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A booking body with some fields replaced by arbitrary JSON or hostile text,
    some dropped, and maybe unknown keys added."""
    body = dict(VALID_BODY)
    for field in draw(st.sets(st.sampled_from(sorted(VALID_BODY)), max_size=4)):
        action = draw(st.sampled_from(["json", "text", "drop"]))
        if action == "drop":
            del body[field]
        elif action == "text":
            body[field] = draw(hostile_text())
        else:
            body[field] = draw(json_values(max_leaves=4))
    body.update(draw(st.dictionaries(hostile_text(max_size=8), json_scalars, max_size=2)))
    return body
