"""docs/errors.md names every error code a user can meet."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from slotcap import errors

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
#: Codes passed explicitly (``code=...``) rather than set on a class.
EXPLICIT = {"unknown_service", "service_inactive", "service_not_in_legacy_enum", "internal",
            "constraint_violation", "invalid_value"}


def test_every_code_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(encoding="utf-8"), re.M))
    defined = {cls.code for _, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, errors.SlotcapError)}
    assert defined | EXPLICIT == documented - {"code"}  # minus the header cell


def test_every_error_class_is_documented() -> None:
    """By name too: a subclass that keeps its parent's code (ReservationClosed) still
    has its line."""
    text = DOC.read_text(encoding="utf-8")
    classes = {name for name, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, errors.SlotcapError)}
    assert {name for name in classes if f"`{name}`" not in text} == set()


def test_every_explicit_code_is_still_raised() -> None:
    source = "\n".join(p.read_text(encoding="utf-8")
                       for p in (DOC.parents[1] / "src" / "slotcap").rglob("*.py"))
    for code in EXPLICIT - {"internal"}:
        assert f'"{code}"' in source
    assert '"internal"' in source
