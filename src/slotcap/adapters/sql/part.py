"""``SqlPart``: what a part of a SQL store (reads, writes, the booking scopes, the
calendar, the monitor, the shadow records, the keys) sees of the shared
:class:`~.store.SqlCore` — the core's methods bound once, under the names the parts'
statements use, so a part's methods read as they did when the parts were one class."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import Op, Row, Session, SqlCore
from slotcap.domain.schema_state import Rule, require
from slotcap.errors import DatabaseError, SchemaStateError, SlotcapError

__all__ = ["SqlPart"]


class SqlPart:
    """A part of a SQL store: an object over the store's one :class:`SqlCore`.

    The core's methods are bound here once, as attributes (no extra call on the hot
    path: ``self._session()`` is the engine's own ``_session``)."""

    def __init__(self, core: SqlCore) -> None:
        self._core = core
        self._dialect = core.dialect
        engine = core.engine
        self._now: Callable[[], dt.datetime] = core.now
        self._current: Callable[[], Statements] = core.current
        self._session: Callable[[], contextlib.AbstractContextManager[Session]] = (
            engine._session)
        self._write_session: Callable[[float], contextlib.AbstractContextManager[Session]] = (
            engine._write_session)
        self._check: Callable[[Callable[[Statements], None]], None] = core.check
        self._run: Callable[[Session, Op], list[Row]] = core.run
        self._run_with: Callable[[Session, Op], tuple[Statements, list[Row]]] = core.run_with
        self._query_with: Callable[[Op], tuple[Statements, list[Row]]] = core.query_with
        self._write_with: Callable[[Op], tuple[Statements, list[Row]]] = core.write_with
        self._write_unique: Callable[[Op, SlotcapError], None] = core.write_unique
        self._is_schema_change: Callable[[Exception], bool] = engine._is_schema_change
        self._translate: Callable[[Exception, str], SlotcapError | None] = engine._translate
        self._is_duplicate: Callable[[DatabaseError], bool] = engine._is_duplicate

    @property
    def busy_budget(self) -> float:
        return self._core.busy_budget

    # refusals ---------------------------------------------------------------------------

    @staticmethod
    def _require_minutes_rule(st: Statements) -> None:
        require(st.state, Rule.MINUTES)

    @staticmethod
    def _require_count_rule(st: Statements) -> None:
        require(st.state, Rule.COUNT)

    @staticmethod
    def _require_new_tables(st: Statements) -> None:
        if not st.schema.has_table("services"):
            raise SchemaStateError(
                "services and clinic_time_slots do not exist yet: apply phase 1 first"
            )

    @staticmethod
    def _require_closures(st: Statements) -> None:
        if st.list_closures is None or st.upsert_setting is None:
            raise SchemaStateError(
                "clinic_closures and clinic_settings do not exist yet: apply phase 1 first"
            )
