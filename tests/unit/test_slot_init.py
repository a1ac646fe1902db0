"""slot_setters: the one check that a frozen attrs object may be built by its slots."""

from __future__ import annotations

import attrs

from slotcap.domain.slot_init import slot_setters


@attrs.frozen
class Plain:
    a: int
    b: str


@attrs.frozen
class Validated:
    a: int = attrs.field(validator=attrs.validators.instance_of(int))
    b: str = ""


@attrs.frozen
class Converted:
    a: int = attrs.field(converter=int)
    b: str = ""


@attrs.frozen
class PostInit:
    a: int
    b: str

    def __attrs_post_init__(self) -> None:
        pass


def test_a_plain_class_is_built_by_its_slots_into_the_same_object() -> None:
    setters = slot_setters(Plain, ("a", "b"))
    assert setters is not None
    built = object.__new__(Plain)
    for setter, value in zip(setters, (1, "x"), strict=True):
        setter(built, value)
    assert built == Plain(1, "x") and hash(built) == hash(Plain(1, "x"))


def test_anything_the_init_would_do_refuses_the_shortcut() -> None:
    assert slot_setters(Plain, ("b", "a")) is None  # not the caller's order
    assert slot_setters(Plain, ("a",)) is None  # not all the fields
    assert slot_setters(Validated, ("a", "b")) is None
    assert slot_setters(Converted, ("a", "b")) is None
    assert slot_setters(PostInit, ("a", "b")) is None
