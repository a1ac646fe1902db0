"""Who a booking is for, as the duplicate-booking rule compares patients.

Two bookings are the same patient's when their phone numbers have the same digits and
their names read the same once Unicode-normalised (NFC), case-folded and with runs of
whitespace collapsed: ``"010-1234-5678"``, ``"01012345678"`` and ``"+82 10-1234-5678"``
are one phone, ``"Kim  Min-ji"`` and ``"kim min-ji"`` one name. A sibling sharing a parent's phone
has another name and so is another patient.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["PatientIdentity", "is_same_patient", "patient_identity", "phone_digits"]

_NON_DIGITS = re.compile(r"\D", re.ASCII)
_SPACES = re.compile(r"\s+")

#: (name as compared, phone digits).
PatientIdentity = tuple[str, str]


def patient_identity(name: str, phone: str) -> PatientIdentity:
    """The comparable form of a patient's name and phone."""
    folded = unicodedata.normalize("NFC", name).casefold()
    # casefold can leave a decomposed form (e.g. "ǰ" → "ǰ"): normalise once more.
    compared = _SPACES.sub(" ", unicodedata.normalize("NFC", folded)).strip()
    return compared, phone_digits(phone)


def phone_digits(phone: str) -> str:
    """The comparable form of a phone alone: ``patient_identity(name, phone)[1]``."""
    digits = _NON_DIGITS.sub("", phone)
    if phone.lstrip().startswith("+82") and digits.startswith("82"):
        digits = "0" + digits[2:]  # +82 10-… is 010-… dialled from abroad
    return digits


def is_same_patient(name_a: str, phone_a: str, name_b: str, phone_b: str) -> bool:
    return patient_identity(name_a, phone_a) == patient_identity(name_b, phone_b)
