"""``phone_digits`` is the phone half of ``patient_identity``, on any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from slotcap.domain.patients import patient_identity, phone_digits

_PHONES = st.one_of(
    st.text(),
    st.from_regex(r"\s*(\+82\s?)?0?1[016789][- ]?\d{3,4}[- ]?\d{4}\s*", fullmatch=True),
)


@given(st.text(), _PHONES)
def test_phone_digits_is_the_identitys_phone(name: str, phone: str) -> None:
    assert phone_digits(phone) == patient_identity(name, phone)[1]


def test_known_phones() -> None:
    assert phone_digits("010-1234-5678") == "01012345678"
    assert phone_digits("+82 10-1234-5678") == "01012345678"
    assert phone_digits(" +82 (10) 1234 5678") == "01012345678"
    assert phone_digits("8210-1234") == "82101234"  # no "+": not rewritten
