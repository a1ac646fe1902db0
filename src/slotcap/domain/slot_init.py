"""Building a frozen attrs object by its slots' setters, where that is the same object.

A hot path that builds many small frozen records (a check's ``Decision`` and
``PeriodFacts``, a calendar's 70 ``CalendarEntry``) can skip attrs' keyword ``__init__``
and set each slot through its descriptor after ``object.__new__``: the same frozen,
equal, hashable object at about half the cost. That holds only while the class is
exactly what the caller unrolled its setters for; :func:`slot_setters` is the one check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["Setter", "slot_setters"]

#: A slot descriptor's ``__set__``: ``setter(instance, value)``.
Setter = Callable[[Any, Any], None]


def slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Setter, ...] | None:
    """The slot setters of ``cls``'s fields, in ``names``' order, when an instance may be
    built by setting them directly: its attrs fields are exactly ``names`` (in order), none
    has a validator or converter, there is no ``__attrs_post_init__`` and every field is a
    slot with a setter. None otherwise: the caller then uses the class's own ``__init__``."""
    fields = attrs.fields(cls)
    found = vars(cls)
    if (tuple(f.name for f in fields) != names
            or any(f.validator is not None or f.converter is not None for f in fields)
            or "__attrs_post_init__" in found
            or not all(hasattr(found.get(n), "__set__") for n in names)):
        return None
    return tuple(found[n].__set__ for n in names)
