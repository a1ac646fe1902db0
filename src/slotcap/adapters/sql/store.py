"""The SQL stores' core: lifecycle, the engine hooks, and following the schema state.

Statements are built once per schema shape (:mod:`.statements`) and swapped atomically
when :meth:`SqlCore.refresh_schema_state` finds another shape, so a long-lived store
follows the operator's migration phases without a restart. The catalogue is read by
:mod:`slotcap.sql.catalog`, the same introspection the migration toolkit uses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from slotcap.adapters.sql.statements import SchemaInfo, Statements, build_statements
from slotcap.backoff import backoff
from slotcap.domain.clock import SystemClock, db_timestamp
from slotcap.domain.model import ClinicTimeSlot, Period, Service
from slotcap.errors import (
    ConfigurationError,
    DatabaseError,
    SchemaStateError,
    SlotcapError,
    StoreBusy,
)
from slotcap.ports import DEFAULT_BUSY_BUDGET, Clock, SchemaState
from slotcap.sql.catalog import STORE_PARTS, read_catalog
from slotcap.sql.connection import Row
from slotcap.sql.dialect import Dialect, DialectRules

__all__ = [
    "DEFAULT_BUSY_BUDGET", "CatalogueSnapshot", "Engine", "Op", "Params", "Row", "Session",
    "SqlCore",
]

Params = Mapping[str, Any]
#: What a store operation asks of the current statements: its SQL and parameters (and
#: any refusal check for the state, raised as ``SchemaStateError``).
Op = Callable[[Statements], tuple[str, Params]]

#: How many times one statement is re-planned after a schema change met mid-operation
#: (phase 4's rollback makes several: column back nullable, then filled, then NOT NULL).
_SCHEMA_RETRIES = 3


def _operation(op: Callable[..., object]) -> str:
    """``set_status`` for a closure defined in ``SqlWrites.set_status``: the name the
    error message gives the operation."""
    name = getattr(op, "__qualname__", "") or "store operation"
    return name.split(".<locals>")[0].rsplit(".", 1)[-1].lstrip("_") or "store operation"


@attrs.frozen(eq=False)
class CatalogueSnapshot:
    """The services by code and the clinic hours by (dayOfWeek, period), as read at
    ``read_at`` (``time.monotonic()``) under ``statements`` (a new shape reads again):
    what a check outside a booking serves its service and slot rows from."""

    statements: Statements
    read_at: float
    services: Mapping[str, Service]
    slots: Mapping[tuple[int, Period], ClinicTimeSlot]
    #: Phase 2's ledger is there and its fill complete (``through`` at the end of
    #: time): a check reads the (date, period) row alone, no frontier. Only a
    #: migration step changes it (a rollback drops the ledger: the store's next
    #: statement fails and re-reads the schema, which drops this snapshot).
    ledger_filled: bool = False


class Session(Protocol):
    """One connection, for the length of one store call or one booking."""

    def execute(self, sql: str, params: Any, *, fresh: bool = False) -> list[Row]:
        """Run one statement (driver style); ``fresh`` asks not to use a server-side
        prepared plan."""
        ...

    def recover(self) -> bool:
        """Make the session usable after a failed statement. False when that would
        undo work already done (a booking that has inserted), so the error must stand."""
        ...

    def mark_written(self) -> None: ...


class _SessionExecutor:
    """A session seen as :class:`slotcap.sql.catalog.Executor` (pyformat in)."""

    def __init__(self, session: Session, d: DialectRules) -> None:
        self._session = session
        self._d = d

    @property
    def dialect(self) -> Dialect:
        return self._d.dialect

    def execute(self, sql: str, params: Any = ()) -> list[Row]:
        return self._session.execute(self._d.native(sql), params)


class Engine(Protocol):
    """What an engine (``SqliteStore``, ``PostgresStore``) gives the core: its sessions
    and how to read its driver's errors. The engine store passes itself."""

    def _session(self) -> contextlib.AbstractContextManager[Session]:
        """A session whose statements each commit on their own."""
        ...

    def _write_session(self, deadline: float) -> contextlib.AbstractContextManager[Session]:
        """A session whose statements each commit on their own, each waiting for locks
        at most until ``deadline`` (``time.monotonic()``); a lock wait that runs out
        raises ``StoreBusy``."""
        ...

    def _locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> contextlib.AbstractContextManager[Session]:
        """A session inside one transaction that holds the booking locks, had (with
        retries) before ``deadline`` or ``StoreBusy``."""
        ...

    def _deferred_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> contextlib.AbstractContextManager[Session]:
        """:meth:`_locked_session` whose locks may come with its first statement (the
        one-trip booking, PostgreSQL); elsewhere the same."""
        ...

    def _is_schema_change(self, exc: Exception) -> bool:
        """Whether ``exc`` may mean the schema moved under us (undefined column, a NOT
        NULL or CHECK violation on a column a phase re-added, a stale plan)."""
        ...

    def _translate(self, exc: Exception, what: str) -> SlotcapError | None:
        """The slotcap exception for a driver exception raised by operation ``what``
        (``StoreBusy`` or ``DatabaseError``, see :mod:`slotcap.sql.errors`); None if
        ``exc`` is not the driver's."""
        ...

    def _is_duplicate(self, exc: DatabaseError) -> bool: ...


class SqlCore:
    """What every part of a SQL store shares: the engine's sessions, the dialect, the
    clock, the busy budget and the statements of the schema shape last read (with the
    schema-change retry every statement runs through)."""

    def __init__(
        self,
        engine: Engine,
        dialect: DialectRules,
        *,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        clock: Clock | None = None,
    ) -> None:
        if not busy_budget > 0 or not math.isfinite(busy_budget):
            raise ConfigurationError("busy_budget must be a positive number of seconds")
        self.engine = engine
        self.dialect = dialect
        #: Where the store's timestamps come from (``createdAt``, ``updatedAt``, status
        #: changes): injected by the composition root, the system clock otherwise.
        self.clock: Clock = clock if clock is not None else SystemClock()
        #: Seconds an operation keeps retrying lock waits, deadlocks and serialization
        #: failures before ``StoreBusy``.
        self.busy_budget = float(busy_budget)
        #: The statements of the shape last read (None before the first read); swapped
        #: whole by :meth:`reload` only (the parts compare snapshots against it).
        self.statements: Statements | None = None
        self._read_at = -math.inf  # time.monotonic() of the last catalogue read

    def now(self) -> dt.datetime:
        """Now, as the tables store it (naive UTC, milliseconds)."""
        return db_timestamp(self.clock.now())

    # the engine's sessions -------------------------------------------------------------

    def session(self) -> contextlib.AbstractContextManager[Session]:
        return self.engine._session()

    def write_session(self, deadline: float) -> contextlib.AbstractContextManager[Session]:
        return self.engine._write_session(deadline)

    def locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> contextlib.AbstractContextManager[Session]:
        return self.engine._locked_session(day, service_code, periods, deadline)

    def deferred_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> contextlib.AbstractContextManager[Session]:
        return self.engine._deferred_session(day, service_code, periods, deadline)

    def is_schema_change(self, exc: Exception) -> bool:
        return self.engine._is_schema_change(exc)

    def translate(self, exc: Exception, what: str) -> SlotcapError | None:
        return self.engine._translate(exc, what)

    def is_duplicate(self, exc: DatabaseError) -> bool:
        return self.engine._is_duplicate(exc)

    # schema state --------------------------------------------------------------------

    @property
    def schema_state(self) -> SchemaState:
        return self.current().state

    def refresh_schema_state(self, *, max_age: float = 0.0) -> SchemaState:
        """Re-read the catalogue (after an operator applied or rolled back a phase),
        unless it was read less than ``max_age`` seconds ago."""
        if self.statements is not None and time.monotonic() - self._read_at < max_age:
            return self.statements.state
        with self.session() as session:
            self.reload(session)
        return self.schema_state

    def current(self) -> Statements:
        if self.statements is None:
            self.refresh_schema_state()
        assert self.statements is not None  # noqa: S101 (set by refresh)
        return self.statements

    def introspect(self, session: Session) -> SchemaInfo:
        executor = _SessionExecutor(session, self.dialect)
        return SchemaInfo.from_catalog(read_catalog(executor, parts=STORE_PARTS))

    def reload(self, session: Session) -> None:
        """Introspect; build new statements if the shape changed (SchemaStateError if
        the schema is unusable: no reservations table, neither old nor new columns)."""
        schema = self.introspect(session)
        self._read_at = time.monotonic()
        if self.statements is None or self.statements.schema != schema:
            self.statements = build_statements(self.dialect, schema)

    def recheck(self, session: Session) -> bool:
        """Before refusing a rule for the cached schema state: re-read the catalogue;
        True if the shape changed.

        DESIGN: a store opened before phase 1 must serve the minutes rule once phase 1
        is applied, and one that cached phase 4 must serve the count rule once phase 4
        is rolled back, without a restart; a failing statement tells a store when the
        schema contracts, but nothing tells it when the schema expands. Not rate-limited:
        a refusal the database could serve is an app-visible error (a store that read
        the catalogue a moment before the rollback finished would refuse for up to the
        limit), and a refusal is the rare path — it costs one catalogue read.
        """
        before = self.statements
        self.reload(session)
        return self.statements is not before

    def check(self, check: Callable[[Statements], None]) -> None:
        """Run a refusal ``check`` on the current statements, re-reading the catalogue
        once before letting its ``SchemaStateError`` out."""
        try:
            check(self.current())
        except SchemaStateError:
            with self.session() as session:
                if not self.recheck(session):
                    raise
            check(self.current())

    def run(self, session: Session, op: Op) -> list[Row]:
        return self.run_with(session, op)[1]

    def run_with(self, session: Session, op: Op) -> tuple[Statements, list[Row]]:
        """Run ``op``'s statement; if it fails the way a schema change makes statements
        fail, re-read the schema and run it once more, unprepared (``op`` re-checks the
        new state, so a refusal still refuses; a genuine error simply fails twice).
        Returns the statements used with the rows, for mapping them back.

        DESIGN: no phase may break the live application, so a long-lived store must
        follow the phases instead of failing until restarted.
        """
        st = self.current()
        try:
            sql, params = op(st)
        except SchemaStateError:
            # About to refuse for the cached state: is that state still true?
            if not self.recheck(session):
                raise
            st = self.current()
            sql, params = op(st)
        fresh = False
        for attempt in range(_SCHEMA_RETRIES + 1):
            try:
                return st, session.execute(sql, params, fresh=fresh)
            except SlotcapError:
                raise
            except Exception as exc:
                moved = False
                if (
                    attempt < _SCHEMA_RETRIES
                    and self.is_schema_change(exc)
                    and session.recover()
                ):
                    before = self.statements
                    self.reload(session)
                    # The first retry also clears a stale prepared plan; later ones
                    # only follow a schema that really moved again.
                    moved = attempt == 0 or self.statements is not before
                if not moved:
                    mapped = self.translate(exc, _operation(op))
                    if mapped is None:
                        raise
                    # Not chained: the driver's message can carry the row's values.
                    raise mapped from None
            st = self.current()
            sql, params = op(st)
            fresh = True
        raise AssertionError("unreachable")  # pragma: no cover

    def query_with(self, op: Op) -> tuple[Statements, list[Row]]:
        with self.session() as session:
            return self.run_with(session, op)

    def write_with(self, op: Op) -> tuple[Statements, list[Row]]:
        """Run a write outside a booking: each attempt waits for locks a bounded time,
        and a lock wait, deadlock or serialization failure is retried (jittered) until
        :attr:`busy_budget` is spent, then ``StoreBusy``."""
        deadline = time.monotonic() + self.busy_budget
        attempt = 0
        while True:
            try:
                with self.write_session(deadline) as session:
                    return self.run_with(session, op)
            except StoreBusy:
                attempt += 1
                if not backoff(deadline, attempt):
                    raise

    def write_unique(self, op: Op, duplicate: SlotcapError) -> None:
        """``op``'s write, with ``duplicate`` raised for a unique key's refusal."""
        try:
            self.write_with(op)
        except DatabaseError as exc:
            if self.is_duplicate(exc):
                raise duplicate from None
            raise
