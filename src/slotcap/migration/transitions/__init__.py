"""Every move between two phases, per dialect, as data: :class:`~slotcap.migration.
engine.steps.Transition` values (named steps, the inverse transition, the closing
check). ``postgres`` and ``sqlite`` hold each dialect's table; ``common`` the steps
both share. The engine (:mod:`slotcap.migration.engine`) runs them and knows nothing
of what they do.
"""

from __future__ import annotations

from slotcap.migration.engine.steps import Transition
from slotcap.migration.state import Phase
from slotcap.migration.transitions import postgres, sqlite
from slotcap.sql import Dialect

__all__ = ["DIALECTS", "transition", "transitions"]

#: Every dialect with a table (the unit tests check each with ``table_problems``).
DIALECTS = (Dialect.POSTGRES, Dialect.SQLITE)


def transitions(dialect: Dialect) -> dict[tuple[Phase, Phase], Transition]:
    """Every transition of the dialect, by (from, to)."""
    if dialect is Dialect.POSTGRES:
        return postgres.transitions()
    return sqlite.transitions()


def transition(dialect: Dialect, start: Phase, end: Phase) -> Transition:
    return transitions(dialect)[(start, end)]
