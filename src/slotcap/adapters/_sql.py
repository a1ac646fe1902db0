"""What the SQLite and PostgreSQL stores share: schema state, statements, row mapping,
and the store logic itself.

The two engines differ in three ways only, each behind a small hook:

* a :class:`Flavor` — placeholder style, casts, day of week, the date series, how
  dates, timestamps and booleans are bound and read back;
* how a connection is had and how a booking transaction is locked (the stores);
* which driver exceptions mean "the schema changed", "busy" or "duplicate".

Statements are built once per schema shape (:class:`Statements`) and swapped atomically
when :meth:`SqlStore.refresh_schema_state` finds another shape, so a long-lived store
follows the operator's migration phases without a restart.

Every statement is written with ``:name`` placeholders (SQLite's own style); the
PostgreSQL flavor rewrites them to psycopg's ``%(name)s``. Values are always bound.
"""

# Statements are composed from this module's own constant identifiers only (S608);
# every value a caller supplies is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs

from slotcap.backoff import backoff
from slotcap.domain.calendar import day_of_week
from slotcap.domain.model import (
    ClinicTimeSlot,
    Period,
    Reservation,
    ReservationStatus,
    Service,
    ServiceLimit,
)
from slotcap.domain.schema_state import Rule, require, schema_state
from slotcap.errors import (
    ConfigurationError,
    DatabaseError,
    ReservationNotFound,
    SchemaStateError,
    SlotcapError,
    StoreBusy,
)
from slotcap.ports import CalendarEntry, DailyFacts, PeriodFacts, SchemaState

__all__ = [
    "COMMON_RESERVATION_COLUMNS",
    "DEFAULT_BUSY_BUDGET",
    "LEGACY_RESERVATION_COLUMNS",
    "NEW_RESERVATION_COLUMNS",
    "SERVICE_COLUMNS",
    "SLOT_COLUMNS",
    "TABLES",
    "ConnectionSource",
    "Flavor",
    "Params",
    "Row",
    "SchemaInfo",
    "Session",
    "SharedConnection",
    "SqlBooking",
    "SqlStore",
    "Statements",
    "ThreadLocalConnections",
    "build_statements",
    "pyformat",
    "utcnow",
]

Row = tuple[Any, ...]
Params = Mapping[str, Any]

#: The tables the stores read; introspection looks at these and nothing else.
TABLES: tuple[str, ...] = (
    "reservations",
    "services",
    "clinic_time_slots",
    "service_reservation_limits",
)

SERVICE_COLUMNS: tuple[str, ...] = (
    "id", "code", "name", "nameEn", "description", "category", "durationMinutes",
    "bufferMinutes", "basePrice", "isActive", "isVisible", "displayOrder", "deletedAt",
)
SLOT_COLUMNS: tuple[str, ...] = (
    "id", "dayOfWeek", "period", "startTime", "endTime", "isActive",
)
LIMIT_COLUMNS: tuple[str, ...] = ("id", "serviceType", "dailyLimit", "isActive")
COMMON_RESERVATION_COLUMNS: tuple[str, ...] = (
    "id", "patientName", "phone", "email", "birthDate", "gender", "treatmentType",
    "preferredDate", "status", "notes", "adminNotes", "createdAt", "updatedAt",
    "statusChangedAt", "statusChangedBy",
)
LEGACY_RESERVATION_COLUMNS: tuple[str, ...] = ("service", "preferredTime")
NEW_RESERVATION_COLUMNS: tuple[str, ...] = (
    "serviceId", "serviceName", "estimatedDuration", "period",
)

#: Seconds a store keeps retrying an operation that met a lock wait, a deadlock or a
#: serialization failure before it raises ``StoreBusy`` (``busy_budget``).
DEFAULT_BUSY_BUDGET = 2.0
#: How many times one statement is re-planned after a schema change met mid-operation
#: (phase 4's rollback makes several: column back nullable, then filled, then NOT NULL).
_SCHEMA_RETRIES = 3


def _operation(op: Callable[..., object]) -> str:
    """``set_status`` for a closure defined in ``SqlStore.set_status``: the name the
    error message gives the operation."""
    name = getattr(op, "__qualname__", "") or "store operation"
    return name.split(".<locals>")[0].rsplit(".", 1)[-1].lstrip("_") or "store operation"


# The held statuses, written term for term as phase 2's partial held-rows index
# predicate (migration/_ddl_names.HELD_STATUSES: "status" IN ('PENDING','CONFIRMED')):
# SQLite uses a partial index only when the query's WHERE contains that very term, list
# order included — with ('CONFIRMED', 'PENDING') the SQLite calendar walked the date
# range of the whole table instead of the range's held rows. A fixed text also keeps the
# prepared-statement cache key stable.
_HOLDING = "('PENDING','CONFIRMED')"


def utcnow() -> dt.datetime:
    """Naive UTC at millisecond precision: what Prisma's TIMESTAMP(3) columns hold."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# -- schema state ------------------------------------------------------------------------


@attrs.frozen
class SchemaInfo:
    """What introspection found: the columns of the four tables (a missing table has
    none) and, on PostgreSQL, the labels of the old ``service`` column's enum type."""

    columns: frozenset[tuple[str, str]]
    legacy_enum: frozenset[str] | None = None

    def has_table(self, table: str) -> bool:
        return any(t == table for t, _ in self.columns)

    def has(self, table: str, column: str) -> bool:
        return (table, column) in self.columns

    @functools.cached_property
    def state(self) -> SchemaState:
        """EXPANDED: old and new reservation columns (and the new tables); LEGACY: old
        only; CONTRACTED: no old ``service`` column any more. Derived once per
        introspection (the instance is immutable)."""
        if not self.has_table("reservations"):
            raise SchemaStateError(
                "there is no reservations table: create the application's schema first"
            )
        return schema_state(
            {c for t, c in self.columns if t == "reservations"},
            {t for t, _ in self.columns},
        )

    def reservation_columns(self) -> tuple[str, ...]:
        """The reservation columns this state reads and writes, in a stable order.

        LEGACY writes old columns only, CONTRACTED new only, EXPANDED both (dual-write).
        """
        state = self.state
        wanted = COMMON_RESERVATION_COLUMNS
        if state.has_legacy_columns:
            wanted += LEGACY_RESERVATION_COLUMNS
        if state.has_new_columns:
            wanted += NEW_RESERVATION_COLUMNS
        return tuple(c for c in wanted if self.has("reservations", c))

    def accepts_legacy_code(self, code: str) -> bool:
        """Whether ``code`` can be bound to the old enum-typed columns at all (on
        PostgreSQL an unknown label is an error, not a non-match)."""
        return self.legacy_enum is None or code in self.legacy_enum


# -- dialect -----------------------------------------------------------------------------


class Flavor(abc.ABC):
    """The dialect differences, and value conversion both ways."""

    #: "WITH" or "WITH RECURSIVE": the keyword opening the calendar statement.
    with_keyword: str = "WITH"

    @abc.abstractmethod
    def sql(self, text: str) -> str:
        """``:name`` placeholders → the driver's style."""

    @abc.abstractmethod
    def as_text(self, expr: str) -> str:
        """An enum-typed expression as text (to compare with text or a service code)."""

    @abc.abstractmethod
    def day_of_week(self, date_expr: str) -> str:
        """0 = Sunday … 6 = Saturday, like ``slotcap.domain.calendar.day_of_week``."""

    @abc.abstractmethod
    def days_cte(self) -> str:
        """A CTE ``days("day")`` of every date from :first_day to :last_day."""

    @abc.abstractmethod
    def date_in(self, value: dt.date) -> Any: ...

    @abc.abstractmethod
    def date_out(self, value: Any) -> dt.date: ...

    @abc.abstractmethod
    def timestamp_in(self, value: dt.datetime) -> Any: ...

    @abc.abstractmethod
    def timestamp_out(self, value: Any) -> dt.datetime | None: ...

    @abc.abstractmethod
    def birth_date_in(self, value: dt.date) -> Any: ...

    @abc.abstractmethod
    def bool_in(self, value: bool) -> Any: ...


# -- statements --------------------------------------------------------------------------


@attrs.frozen
class Statements:
    """Every statement for one schema shape, in the driver's placeholder style."""

    schema: SchemaInfo
    state: SchemaState
    #: The common case: held minutes from ``estimatedDuration`` alone, plus how many
    #: rows need the fallback (no duration in the period, or no period on the date).
    period_facts: str
    #: The full rule, run only when ``period_facts`` counted such rows.
    period_facts_full: str
    #: ``period_facts`` without the service and slot rows: what a check outside a
    #: booking runs (the catalogue comes from the store's snapshot).
    period_held: str
    daily_facts: str
    calendar: str
    reservation_columns: tuple[str, ...]
    select_reservation: str
    insert_reservation: str
    set_status: str
    list_services: str
    upsert_service: str
    list_slots: str
    upsert_slot: str
    get_limit: str
    upsert_limit: str


def _cols(alias: str, columns: Sequence[str]) -> str:
    return ", ".join(f'{alias}."{c}"' for c in columns)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _placeholders(columns: Sequence[str]) -> str:
    return ", ".join(f":{c}" for c in columns)


def _minutes(schema: SchemaInfo) -> tuple[str, str]:
    """The minutes one held row ``h`` occupies, and the joins that expression needs.

    ``estimatedDuration``, else its service's duration + buffer by ``serviceId``, else
    by the legacy code, else the longest service: the rule of
    ``slotcap.domain.rules.minutes_for``, in SQL.
    """
    parts = ['h."estimatedDuration"', 'by_id."durationMinutes" + by_id."bufferMinutes"']
    joins = ['LEFT JOIN "services" by_id ON by_id."id" = h."serviceId"']
    if schema.has("reservations", "service"):
        parts.append('by_code."durationMinutes" + by_code."bufferMinutes"')
        joins.append('LEFT JOIN "services" by_code ON by_code."code" = h."code"')
    parts.append('(SELECT MAX(l."durationMinutes" + l."bufferMinutes") FROM "services" l)')
    return f"COALESCE({', '.join(parts)})", "\n".join(joins)


def _held_row(flavor: Flavor, schema: SchemaInfo, *extra: str) -> str:
    code = flavor.as_text('r."service"') if schema.has("reservations", "service") else "NULL"
    return ", ".join([*extra, 'r."estimatedDuration"', 'r."serviceId"', f'{code} AS "code"'])


def _period_facts_sql(flavor: Flavor, schema: SchemaInfo) -> str:
    # Two branches instead of `period = :p OR period IS NULL` so that each is an equality
    # (or IS NULL) probe of reservations_preferredDate_period_status_idx.
    minutes, joins = _minutes(schema)
    row = _held_row(flavor, schema)
    holding = f'r."status" IN {_HOLDING}'
    return f"""
SELECT held."minutes", {_cols("s", SERVICE_COLUMNS)}, {_cols("t", SLOT_COLUMNS)}
FROM (
  SELECT COALESCE(SUM({minutes}), 0) AS "minutes"
  FROM (
    SELECT {row} FROM "reservations" r
    WHERE r."preferredDate" = :day AND r."period" = :period AND {holding}
    UNION ALL
    SELECT {row} FROM "reservations" r
    WHERE r."preferredDate" = :day AND r."period" IS NULL AND {holding}
  ) h
  {joins}
) held
LEFT JOIN "services" s ON s."code" = :code
LEFT JOIN "clinic_time_slots" t ON t."dayOfWeek" = :dow AND t."period" = :slot_period
"""


def _period_facts_fast_sql() -> str:
    # The common case, once the backfill has filled every row: SUM(estimatedDuration) of
    # the period's held rows (the period index INCLUDEs it) and a count of the rows the
    # sum cannot answer — the period's held rows without a duration and the date's held
    # rows without a period — each an index probe. When that count is not 0 the store
    # runs the full statement instead; the answer is the same either way.
    holding = f'r."status" IN {_HOLDING}'
    return f"""
SELECT held."minutes", held."unknown", {_cols("s", SERVICE_COLUMNS)}, {_cols("t", SLOT_COLUMNS)}
FROM (
  SELECT COALESCE(SUM(r."estimatedDuration"), 0) AS "minutes",
    COUNT(CASE WHEN r."estimatedDuration" IS NULL THEN 1 END) + (
      SELECT COUNT(*) FROM "reservations" n
      WHERE n."preferredDate" = :day AND n."period" IS NULL AND n."status" IN {_HOLDING}
    ) AS "unknown"
  FROM "reservations" r
  WHERE r."preferredDate" = :day AND r."period" = :period AND {holding}
) held
LEFT JOIN "services" s ON s."code" = :code
LEFT JOIN "clinic_time_slots" t ON t."dayOfWeek" = :dow AND t."period" = :slot_period
"""


def _period_held_sql() -> str:
    # The check's statement (outside a booking): the common case's held minutes and a
    # count of the rows that sum cannot answer (the period's held rows without a
    # duration, the date's held rows without a period), without the service and slot
    # rows — the store serves those from its catalogue snapshot (_catalogue_now). One
    # probe of the date's held rows, both periods and none (at most a few dozen): with
    # phase 2's partial held-rows index an index-only scan of just those; one plan node
    # instead of two probes and an InitPlan.
    return f"""
SELECT COALESCE(SUM(CASE WHEN r."period" = :period THEN r."estimatedDuration" END), 0),
  COUNT(CASE WHEN r."period" IS NULL
    OR (r."period" = :period AND r."estimatedDuration" IS NULL) THEN 1 END)
FROM "reservations" r
WHERE r."preferredDate" = :day AND r."status" IN {_HOLDING}
"""


def _daily_facts_sql() -> str:
    # The count probes reservations_preferredDate_service_status_idx; the anchor row makes
    # the answer one row whether or not a limit exists.
    return f"""
SELECT (
  SELECT COUNT(*) FROM "reservations" r
  WHERE r."preferredDate" = :day AND r."service" = :code AND r."status" IN {_HOLDING}
) AS "held", {_cols("l", LIMIT_COLUMNS)}
FROM (SELECT 1 AS "one") anchor
LEFT JOIN "service_reservation_limits" l ON l."serviceType" = :limit_code
"""


def _calendar_sql(flavor: Flavor, schema: SchemaInfo) -> str:
    minutes, joins = _minutes(schema)
    period = flavor.as_text('r."period"')
    row = _held_row(flavor, schema, 'r."preferredDate"', f'{period} AS "period"')
    periods = " UNION ALL ".join(
        f"SELECT '{p.value}' AS \"period\", {i} AS \"ord\"" for i, p in enumerate(Period)
    )
    return f"""
{flavor.with_keyword} {flavor.days_cte()},
periods AS ({periods}),
held AS (
  SELECT h."preferredDate" AS "day", h."period", SUM({minutes}) AS "minutes"
  FROM (
    SELECT {row} FROM "reservations" r
    WHERE r."preferredDate" BETWEEN :first_day AND :last_day AND r."status" IN {_HOLDING}
  ) h
  {joins}
  GROUP BY h."preferredDate", h."period"
),
booked AS (
  -- A row without a period holds its minutes in both periods of its date.
  SELECT x."day", p."period", SUM(x."minutes") AS "minutes"
  FROM held x JOIN periods p ON x."period" = p."period" OR x."period" IS NULL
  GROUP BY x."day", p."period"
)
SELECT d."day", p."period", {_cols("t", SLOT_COLUMNS)}, COALESCE(b."minutes", 0)
FROM days d CROSS JOIN periods p
LEFT JOIN "clinic_time_slots" t
  ON t."dayOfWeek" = {flavor.day_of_week('d."day"')} AND {flavor.as_text('t."period"')} = p."period"
LEFT JOIN booked b ON b."day" = d."day" AND b."period" = p."period"
ORDER BY d."day", p."ord"
"""


def _upsert(table: str, columns: Sequence[str], conflict: str, keep: Sequence[str]) -> str:
    """INSERT … ON CONFLICT DO UPDATE of every column but the conflict key and ``keep``."""
    updates = ", ".join(
        f'"{c}" = excluded."{c}"' for c in columns if c not in keep and f'"{c}"' not in conflict
    )
    return (
        f'INSERT INTO "{table}" ({_names(columns)}) VALUES ({_placeholders(columns)}) '
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    )


def build_statements(flavor: Flavor, schema: SchemaInfo) -> Statements:
    """Every statement for ``schema``'s shape (built once per shape, then reused)."""
    res_cols = schema.reservation_columns()
    res_select = _cols("r", res_cols)
    service_write = (*SERVICE_COLUMNS, "createdAt", "updatedAt")
    slot_write = (*SLOT_COLUMNS, "totalMinutes", "createdAt", "updatedAt")
    limit_write = (*LIMIT_COLUMNS, "createdAt", "updatedAt")
    q = flavor.sql
    return Statements(
        schema=schema,
        state=schema.state,
        period_facts=q(_period_facts_fast_sql()),
        period_facts_full=q(_period_facts_sql(flavor, schema)),
        period_held=q(_period_held_sql()),
        daily_facts=q(_daily_facts_sql()),
        calendar=q(_calendar_sql(flavor, schema)),
        reservation_columns=res_cols,
        select_reservation=q(f'SELECT {res_select} FROM "reservations" r WHERE r."id" = :id'),
        insert_reservation=q(
            f'INSERT INTO "reservations" ({_names(res_cols)}) VALUES ({_placeholders(res_cols)})'
        ),
        set_status=q(
            'UPDATE "reservations" SET "status" = :status, "statusChangedAt" = :now, '
            '"statusChangedBy" = :changed_by, "updatedAt" = :now WHERE "id" = :id '
            f"RETURNING {_names(res_cols)}"
        ),
        list_services=q(f'SELECT {_cols("s", SERVICE_COLUMNS)} FROM "services" s'),
        upsert_service=q(_upsert("services", service_write, '"id"', ("createdAt",))),
        list_slots=q(f'SELECT {_cols("t", SLOT_COLUMNS)} FROM "clinic_time_slots" t'),
        upsert_slot=q(
            _upsert("clinic_time_slots", slot_write, '"dayOfWeek", "period"', ("id", "createdAt"))
        ),
        get_limit=q(
            f'SELECT {_cols("l", LIMIT_COLUMNS)} FROM "service_reservation_limits" l '
            'WHERE l."serviceType" = :code'
        ),
        upsert_limit=q(
            _upsert("service_reservation_limits", limit_write, '"serviceType"', ("id", "createdAt"))
        ),
    )


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def pyformat(sql: str) -> str:
    """``:name`` → ``%(name)s`` (and a literal ``%`` → ``%%``) for psycopg."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


# -- row mapping -------------------------------------------------------------------------


def _service(flavor: Flavor, row: Sequence[Any]) -> Service | None:
    (sid, code, name, name_en, description, category, duration, buffer, price, active,
     visible, order, deleted) = row
    if sid is None:
        return None
    return Service(
        id=sid, code=code, name=name, name_en=name_en, description=description,
        category=category, duration_minutes=int(duration), buffer_minutes=int(buffer),
        base_price=None if price is None else int(price), is_active=bool(active),
        is_visible=bool(visible), display_order=int(order),
        deleted_at=flavor.timestamp_out(deleted),
    )


def _clock(value: Any) -> dt.time:
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value).strip())


def _slot(row: Sequence[Any]) -> ClinicTimeSlot | None:
    sid, dow, period, start, end, active = row
    if sid is None:
        return None
    return ClinicTimeSlot(
        id=sid, day_of_week=int(dow), period=Period(period), start_time=_clock(start),
        end_time=_clock(end), is_active=bool(active),
    )


def _limit(row: Sequence[Any]) -> ServiceLimit | None:
    lid, code, daily, active = row
    if lid is None:
        return None
    return ServiceLimit(id=lid, service_code=code, daily_limit=int(daily), is_active=bool(active))


def _reservation(flavor: Flavor, columns: Sequence[str], row: Sequence[Any]) -> Reservation:
    v = dict(zip(columns, row, strict=True))
    return Reservation(
        id=v["id"], patient_name=v["patientName"], phone=v["phone"], email=v.get("email"),
        birth_date=flavor.date_out(v["birthDate"]), gender=v["gender"],
        treatment_type=v["treatmentType"], preferred_date=flavor.date_out(v["preferredDate"]),
        status=v["status"], notes=v.get("notes"), admin_notes=v.get("adminNotes"),
        service=v.get("service"), preferred_time=v.get("preferredTime"),
        service_id=v.get("serviceId"), service_name=v.get("serviceName"),
        estimated_duration=v.get("estimatedDuration"), period=v.get("period"),
        created_at=flavor.timestamp_out(v.get("createdAt")),
        updated_at=flavor.timestamp_out(v.get("updatedAt")),
        status_changed_at=flavor.timestamp_out(v.get("statusChangedAt")),
        status_changed_by=v.get("statusChangedBy"),
    )


def _reservation_params(
    flavor: Flavor, columns: Sequence[str], r: Reservation
) -> dict[str, Any]:
    now = utcnow()

    def ts(value: dt.datetime | None) -> Any:
        return flavor.timestamp_in(value if value is not None else now)

    every: dict[str, Any] = {
        "id": r.id, "patientName": r.patient_name, "phone": r.phone, "email": r.email,
        "birthDate": flavor.birth_date_in(r.birth_date), "gender": r.gender.value,
        "treatmentType": r.treatment_type.value,
        "preferredDate": flavor.date_in(r.preferred_date), "status": r.status.value,
        "notes": r.notes, "adminNotes": r.admin_notes, "createdAt": ts(r.created_at),
        "updatedAt": ts(r.updated_at), "statusChangedAt": ts(r.status_changed_at),
        "statusChangedBy": r.status_changed_by, "service": r.service,
        "preferredTime": r.preferred_time, "serviceId": r.service_id,
        "serviceName": r.service_name, "estimatedDuration": r.estimated_duration,
        "period": None if r.period is None else r.period.value,
    }
    return {c: every[c] for c in columns}


@attrs.frozen(eq=False)
class _Catalogue:
    """The services by code and the clinic hours by (dayOfWeek, period), as read at
    ``read_at`` (``time.monotonic()``) under ``statements`` (a new shape reads again)."""

    statements: Statements
    read_at: float
    services: Mapping[str, Service]
    slots: Mapping[tuple[int, Period], ClinicTimeSlot]


# -- engine hooks ------------------------------------------------------------------------


class Session(Protocol):
    """One connection, for the length of one store call or one booking."""

    def execute(self, sql: str, params: Params, *, fresh: bool = False) -> list[Row]:
        """Run one statement; ``fresh`` asks not to use a server-side prepared plan."""
        ...

    def recover(self) -> bool:
        """Make the session usable after a failed statement. False when that would
        undo work already done (a booking that has inserted), so the error must stand."""
        ...

    def mark_written(self) -> None: ...


class SqlStore(abc.ABC):
    """The store logic both SQL engines share; subclasses supply connections and locks."""

    def __init__(self, flavor: Flavor, *, busy_budget: float = DEFAULT_BUSY_BUDGET) -> None:
        if not busy_budget > 0 or not math.isfinite(busy_budget):
            raise ConfigurationError("busy_budget must be a positive number of seconds")
        self._flavor = flavor
        #: Seconds an operation keeps retrying lock waits, deadlocks and serialization
        #: failures before ``StoreBusy``.
        self.busy_budget = float(busy_budget)
        self._statements: Statements | None = None
        self._read_at = -math.inf  # time.monotonic() of the last catalogue read
        self._services_seen: dict[tuple[Any, ...], Service | None] = {}
        self._slots_seen: dict[tuple[Any, ...], ClinicTimeSlot | None] = {}
        self._catalogue: _Catalogue | None = None

    # engine hooks --------------------------------------------------------------------

    @abc.abstractmethod
    def _session(self) -> contextlib.AbstractContextManager[Session]:
        """A session whose statements each commit on their own."""

    @abc.abstractmethod
    def _write_session(self, deadline: float) -> contextlib.AbstractContextManager[Session]:
        """A session whose statements each commit on their own, each waiting for locks
        at most until ``deadline`` (``time.monotonic()``); a lock wait that runs out
        raises ``StoreBusy``."""

    @abc.abstractmethod
    def _locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> contextlib.AbstractContextManager[Session]:
        """A session inside one transaction that holds the booking locks, had (with
        retries) before ``deadline`` or ``StoreBusy``."""

    @abc.abstractmethod
    def _introspect(self, session: Session) -> SchemaInfo: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connections the store opened (never the application's own)."""

    @abc.abstractmethod
    def _is_schema_change(self, exc: Exception) -> bool:
        """Whether ``exc`` may mean the schema moved under us (undefined column, a NOT
        NULL or CHECK violation on a column a phase re-added, a stale plan)."""

    @abc.abstractmethod
    def _translate(self, exc: Exception, what: str) -> SlotcapError | None:
        """The slotcap exception for a driver exception raised by operation ``what``
        (``StoreBusy`` or ``DatabaseError``, see ``_errors``); None if ``exc`` is not
        the driver's."""

    @abc.abstractmethod
    def _is_duplicate(self, exc: DatabaseError) -> bool: ...

    # schema state --------------------------------------------------------------------

    @property
    def schema_state(self) -> SchemaState:
        return self._current().state

    def refresh_schema_state(self, *, max_age: float = 0.0) -> SchemaState:
        """Re-read the catalogue (after an operator applied or rolled back a phase),
        unless it was read less than ``max_age`` seconds ago."""
        if self._statements is not None and time.monotonic() - self._read_at < max_age:
            return self._statements.state
        with self._session() as session:
            self._reload(session)
        return self.schema_state

    def _current(self) -> Statements:
        if self._statements is None:
            self.refresh_schema_state()
        assert self._statements is not None  # noqa: S101 (set by refresh)
        return self._statements

    def _reload(self, session: Session) -> None:
        """Introspect; build new statements if the shape changed (SchemaStateError if
        the schema is unusable: no reservations table, neither old nor new columns)."""
        schema = self._introspect(session)
        self._read_at = time.monotonic()
        if self._statements is None or self._statements.schema != schema:
            self._statements = build_statements(self._flavor, schema)

    def _recheck(self, session: Session) -> bool:
        """Before refusing a rule for the cached schema state: re-read the catalogue;
        True if the shape changed.

        DESIGN: a store opened before phase 1 must serve the minutes rule once phase 1
        is applied, and one that cached phase 4 must serve the count rule once phase 4
        is rolled back, without a restart; a failing statement tells a store when the
        schema contracts, but nothing tells it when the schema expands. Not rate-limited:
        a refusal the database could serve is an app-visible error (a store that read
        the catalogue a moment before the rollback finished would refuse for up to the
        limit), and a refusal is the rare path — it costs one catalogue query.
        """
        before = self._statements
        self._reload(session)
        return self._statements is not before

    def _check(self, check: Callable[[Statements], None]) -> None:
        """Run a refusal ``check`` on the current statements, re-reading the catalogue
        once (rate-limited) before letting its ``SchemaStateError`` out."""
        try:
            check(self._current())
        except SchemaStateError:
            with self._session() as session:
                if not self._recheck(session):
                    raise
            check(self._current())

    def _run(
        self, session: Session, op: Callable[[Statements], tuple[str, Params]]
    ) -> list[Row]:
        return self._run_with(session, op)[1]

    def _run_with(
        self, session: Session, op: Callable[[Statements], tuple[str, Params]]
    ) -> tuple[Statements, list[Row]]:
        """Run ``op``'s statement; if it fails the way a schema change makes statements
        fail, re-read the schema and run it once more, unprepared (``op`` re-checks the
        new state, so a refusal still refuses; a genuine error simply fails twice).
        Returns the statements used with the rows, for mapping them back.

        DESIGN: no phase may break the live application, so a long-lived store must
        follow the phases instead of failing until restarted.
        """
        st = self._current()
        try:
            sql, params = op(st)
        except SchemaStateError:
            # About to refuse for the cached state: is that state still true?
            if not self._recheck(session):
                raise
            st = self._current()
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
                    and self._is_schema_change(exc)
                    and session.recover()
                ):
                    before = self._statements
                    self._reload(session)
                    # The first retry also clears a stale prepared plan; later ones
                    # only follow a schema that really moved again.
                    moved = attempt == 0 or self._statements is not before
                if not moved:
                    mapped = self._translate(exc, _operation(op))
                    if mapped is None:
                        raise
                    # Not chained: the driver's message can carry the row's values.
                    raise mapped from None
            st = self._current()
            sql, params = op(st)
            fresh = True
        raise AssertionError("unreachable")  # pragma: no cover

    # refusals --------------------------------------------------------------------------

    @staticmethod
    def _require_minutes_rule(st: Statements) -> None:
        require(st.state, Rule.MINUTES)

    @staticmethod
    def _require_count_rule(st: Statements) -> None:
        require(st.state, Rule.COUNT)

    # facts -----------------------------------------------------------------------------

    def _period_facts_params(
        self, day: dt.date, period: Period, service_code: str
    ) -> dict[str, Any]:
        value = Period(period).value
        return {
            "day": self._flavor.date_in(day), "period": value, "slot_period": value,
            "code": service_code, "dow": day_of_week(day),
        }

    def period_facts_statement(
        self, day: dt.date, period: Period, service_code: str
    ) -> tuple[str, dict[str, Any]]:
        """The SQL and parameters :meth:`period_facts` runs (for EXPLAIN): the held
        minutes alone, which answer whenever every held row it counts has its
        ``estimatedDuration`` and ``period`` (the service and slot rows come from the
        store's catalogue snapshot). ``service_code`` is not a parameter of it."""
        return self._current().period_held, {
            "day": self._flavor.date_in(day), "period": Period(period).value,
        }

    def period_facts_booking_statement(
        self, day: dt.date, period: Period, service_code: str
    ) -> tuple[str, dict[str, Any]]:
        """The SQL and parameters a booking's ``period_facts`` runs first, under its
        locks: the same held minutes plus the service and slot rows, read fresh."""
        return self._current().period_facts, self._period_facts_params(day, period, service_code)

    def period_facts_fallback_statement(
        self, day: dt.date, period: Period, service_code: str
    ) -> tuple[str, dict[str, Any]]:
        """The SQL and parameters of the full rule, which :meth:`period_facts` runs
        second only when the first statement counted rows without a duration or a
        period (rows the backfill has not reached, or awaiting review)."""
        return self._current().period_facts_full, self._period_facts_params(
            day, period, service_code
        )

    def _period_facts(
        self, session: Session, day: dt.date, period: Period, code: str
    ) -> PeriodFacts:
        """The facts a booking decides on: the service and slot rows read in the same
        statement as the held minutes, under the booking's locks."""
        params = self._period_facts_params(day, period, code)

        def fast(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.period_facts, params

        (row,) = self._run(session, fast)
        if row[1]:
            return self._full_facts(session, params)
        return self._facts_of(row, 2)

    def _full_facts(self, session: Session, params: Params) -> PeriodFacts:
        """Some held row lacks a duration or a period: the full rule (services joined
        per row, the NULL-period branch) decides, with the catalogue rows it reads."""

        def full(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.period_facts_full, params

        (row,) = self._run(session, full)
        return self._facts_of(row, 1)

    def _facts_of(self, row: Row, first: int) -> PeriodFacts:
        n = first + len(SERVICE_COLUMNS)
        return PeriodFacts(
            service=self._service_record(row[first:n]),
            slot=self._slot_record(row[n:]),
            held_minutes=int(row[0]),
        )

    #: Longest a check outside a booking serves the service and slot rows from the
    #: store's snapshot (seconds). Refreshed sooner by this store's own
    #: ``save_service`` / ``save_time_slot`` and by a new schema shape. A booking never
    #: uses it: ``book()`` reads both rows under its locks, in its facts statement.
    CATALOGUE_MAX_AGE = 1.0

    def _checked_facts(
        self, session: Session, day: dt.date, period: Period, code: str
    ) -> PeriodFacts:
        """The facts of a check (advice, outside a booking): one round trip for the held
        minutes alone — reading the service and slot rows in the same statement cost
        as much as the rest of the check again (F1 in docs/benchmarks.md) — and the
        catalogue from a snapshot at most :attr:`CATALOGUE_MAX_AGE` old."""
        if period.__class__ is not Period:  # Period(p) is an Enum lookup per call
            period = Period(period)
        params = {"day": self._flavor.date_in(day), "period": period.value}

        def held(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.period_held, params

        (row,) = self._run(session, held)
        if row[1]:
            return self._full_facts(session, self._period_facts_params(day, period, code))
        catalogue = self._catalogue_now(session)
        return PeriodFacts(
            service=catalogue.services.get(code),
            slot=catalogue.slots.get((day_of_week(day), period)),
            held_minutes=int(row[0]),
        )

    def _catalogue_now(self, session: Session) -> _Catalogue:
        catalogue = self._catalogue
        if (
            catalogue is not None
            and catalogue.statements is self._statements
            and time.monotonic() - catalogue.read_at < self.CATALOGUE_MAX_AGE
        ):
            return catalogue
        read_at = time.monotonic()

        def services(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.list_services, {}

        def slots(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.list_slots, {}

        service_rows = self._run(session, services)
        st, slot_rows = self._run_with(session, slots)
        by_code = {s.code: s for s in (_service(self._flavor, r) for r in service_rows) if s}
        by_hours = {(t.day_of_week, t.period): t for t in map(_slot, slot_rows) if t}
        catalogue = _Catalogue(statements=st, read_at=read_at, services=by_code, slots=by_hours)
        self._catalogue = catalogue
        return catalogue

    # The service and slot records a check returns, memoised by the row values just read
    # (not a cache of the tables: a changed row is a new key, so nothing can be stale).
    # Building them validates every field; the rows repeat from check to check.

    _RECORDS_MAX = 512

    def _service_record(self, values: Sequence[Any]) -> Service | None:
        key = tuple(values)
        memo = self._services_seen
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable driver value: just build it
            return _service(self._flavor, key)
        record = _service(self._flavor, key)
        if len(memo) >= self._RECORDS_MAX:
            memo.clear()
        memo[key] = record
        return record

    def _slot_record(self, values: Sequence[Any]) -> ClinicTimeSlot | None:
        key = tuple(values)
        memo = self._slots_seen
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:
            return _slot(key)
        record = _slot(key)
        if len(memo) >= self._RECORDS_MAX:
            memo.clear()
        memo[key] = record
        return record

    def _daily_facts(self, session: Session, day: dt.date, code: str) -> DailyFacts:
        params = {"day": self._flavor.date_in(day), "code": code, "limit_code": code}

        def op(st: Statements) -> tuple[str, Params]:
            self._require_count_rule(st)
            return st.daily_facts, params

        if not self._current().schema.accepts_legacy_code(code):
            self._check(self._require_count_rule)
            # Not a label of the old enum: no row can have it, no limit can exist.
            return DailyFacts(limit=None, held_count=0)
        (row,) = self._run(session, op)
        return DailyFacts(limit=_limit(row[1:]), held_count=int(row[0]))

    def _insert(self, session: Session, reservation: Reservation) -> None:
        def op(st: Statements) -> tuple[str, Params]:
            return st.insert_reservation, _reservation_params(
                self._flavor, st.reservation_columns, reservation
            )

        self._run(session, op)
        session.mark_written()

    # Store: facts, calendar, booking ---------------------------------------------------

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        with self._session() as session:
            return self._checked_facts(session, day, period, service_code)

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        with self._session() as session:
            return self._daily_facts(session, day, service_code)

    def calendar(self, start: dt.date, end: dt.date) -> list[CalendarEntry]:
        params = {
            "first_day": self._flavor.date_in(start), "last_day": self._flavor.date_in(end),
        }

        def op(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.calendar, params

        if end < start:
            self._check(self._require_minutes_rule)
            return []
        with self._session() as session:
            rows = self._run(session, op)
        return [self._calendar_entry(row) for row in rows]

    def _calendar_entry(self, row: Row) -> CalendarEntry:
        slot = _slot(row[2:-1])
        is_open = slot is not None and slot.is_active
        return CalendarEntry(
            day=self._flavor.date_out(row[0]),
            period=Period(row[1]),
            is_open=is_open,
            capacity=slot.total_minutes if slot is not None and is_open else 0,
            booked=int(row[-1]),
        )

    @contextlib.contextmanager
    def booking(
        self,
        day: dt.date,
        service_code: str,
        periods: Sequence[Period],
        *,
        deadline: float | None = None,
    ) -> Iterator[SqlBooking]:
        """The check-and-insert scope: see the engine's ``_locked_session``. The locks
        are retried until ``deadline`` (``time.monotonic()``; default: now plus
        :attr:`busy_budget`), then ``StoreBusy``."""
        if deadline is None:
            deadline = time.monotonic() + self.busy_budget
        with self._locked_session(day, service_code, periods, deadline) as session:
            yield SqlBooking(self, session)

    # Store: catalogue, hours, limits ------------------------------------------------

    def _require_new_tables(self, st: Statements) -> None:
        if not st.schema.has_table("services"):
            raise SchemaStateError(
                "services and clinic_time_slots do not exist yet: apply phase 1 first"
            )

    def _query(self, op: Callable[[Statements], tuple[str, Params]]) -> list[Row]:
        return self._query_with(op)[1]

    def _query_with(
        self, op: Callable[[Statements], tuple[str, Params]]
    ) -> tuple[Statements, list[Row]]:
        with self._session() as session:
            return self._run_with(session, op)

    def _write(self, op: Callable[[Statements], tuple[str, Params]]) -> None:
        self._write_with(op)

    def _write_with(
        self, op: Callable[[Statements], tuple[str, Params]]
    ) -> tuple[Statements, list[Row]]:
        """Run a write outside a booking: each attempt waits for locks a bounded time,
        and a lock wait, deadlock or serialization failure is retried (jittered) until
        :attr:`busy_budget` is spent, then ``StoreBusy``."""
        deadline = time.monotonic() + self.busy_budget
        attempt = 0
        while True:
            try:
                with self._write_session(deadline) as session:
                    return self._run_with(session, op)
            except StoreBusy:
                attempt += 1
                if not backoff(deadline, attempt):
                    raise

    def list_services(self, *, include_deleted: bool = False) -> list[Service]:
        def op(st: Statements) -> tuple[str, Params]:
            self._require_new_tables(st)
            return st.list_services, {}

        services = [s for s in (_service(self._flavor, r) for r in self._query(op)) if s]
        # Sorted here, not in SQL: the database's collation may order codes with "_"
        # differently from Python, and the in-memory store sorts in Python.
        return sorted(
            (s for s in services if include_deleted or s.deleted_at is None),
            key=lambda s: (s.display_order, s.code),
        )

    def get_service(self, code: str) -> Service | None:
        return next((s for s in self.list_services(include_deleted=True) if s.code == code), None)

    def save_service(self, service: Service) -> None:
        now = self._flavor.timestamp_in(utcnow())
        f = self._flavor
        params = {
            "id": service.id, "code": service.code, "name": service.name,
            "nameEn": service.name_en, "description": service.description,
            "category": service.category, "durationMinutes": service.duration_minutes,
            "bufferMinutes": service.buffer_minutes, "basePrice": service.base_price,
            "isActive": f.bool_in(service.is_active), "isVisible": f.bool_in(service.is_visible),
            "displayOrder": service.display_order,
            "deletedAt": None if service.deleted_at is None else f.timestamp_in(service.deleted_at),
            "createdAt": now, "updatedAt": now,
        }

        def op(st: Statements) -> tuple[str, Params]:
            self._require_new_tables(st)
            return st.upsert_service, params

        try:
            self._write(op)
        except DatabaseError as exc:
            if self._is_duplicate(exc):
                # Same contract as the in-memory store: a code belongs to one service.
                raise ValueError(f"service code {service.code!r} is already used") from None
            raise
        finally:
            self._catalogue = None  # this store's next check reads the services again

    def list_time_slots(self) -> list[ClinicTimeSlot]:
        def op(st: Statements) -> tuple[str, Params]:
            self._require_new_tables(st)
            return st.list_slots, {}

        slots = [s for s in (_slot(r) for r in self._query(op)) if s is not None]
        return sorted(slots, key=lambda s: (s.day_of_week, list(Period).index(s.period)))

    def save_time_slot(self, slot: ClinicTimeSlot) -> None:
        now = self._flavor.timestamp_in(utcnow())
        params = {
            "id": slot.id, "dayOfWeek": slot.day_of_week, "period": slot.period.value,
            "startTime": slot.start_time.strftime("%H:%M"),
            "endTime": slot.end_time.strftime("%H:%M"), "totalMinutes": slot.total_minutes,
            "isActive": self._flavor.bool_in(slot.is_active), "createdAt": now, "updatedAt": now,
        }

        def op(st: Statements) -> tuple[str, Params]:
            self._require_new_tables(st)
            return st.upsert_slot, params

        try:
            self._write(op)
        finally:
            self._catalogue = None  # this store's next check reads the hours again

    def get_limit(self, service_code: str) -> ServiceLimit | None:
        def op(st: Statements) -> tuple[str, Params]:
            self._require_count_rule(st)
            return st.get_limit, {"code": service_code}

        if not self._current().schema.accepts_legacy_code(service_code):
            self._check(self._require_count_rule)
            return None
        rows = self._query(op)
        return _limit(rows[0]) if rows else None

    def save_limit(self, limit: ServiceLimit) -> None:
        now = self._flavor.timestamp_in(utcnow())
        params = {
            "id": limit.id or f"limit_{limit.service_code.lower()}",
            "serviceType": limit.service_code, "dailyLimit": limit.daily_limit,
            "isActive": self._flavor.bool_in(limit.is_active), "createdAt": now,
            "updatedAt": now,
        }

        def op(st: Statements) -> tuple[str, Params]:
            self._require_count_rule(st)
            return st.upsert_limit, params

        self._write(op)

    # Store: reservations ----------------------------------------------------------------

    def get_reservation(self, reservation_id: str) -> Reservation | None:
        st, rows = self._query_with(lambda st: (st.select_reservation, {"id": reservation_id}))
        return _reservation(self._flavor, st.reservation_columns, rows[0]) if rows else None

    def set_status(
        self,
        reservation_id: str,
        status: ReservationStatus,
        *,
        changed_by: str | None = None,
    ) -> Reservation:
        params = {
            "id": reservation_id, "status": ReservationStatus(status).value,
            "now": self._flavor.timestamp_in(utcnow()), "changed_by": changed_by,
        }
        def set_status(st: Statements) -> tuple[str, Params]:
            return st.set_status, params

        st, rows = self._write_with(set_status)
        if not rows:
            raise ReservationNotFound(f"no reservation with id {reservation_id!r}")
        return _reservation(self._flavor, st.reservation_columns, rows[0])


class SqlBooking:
    """The ``BookingTransaction`` of both SQL stores: reads and the insert go through the
    locked session, so they see every row committed before the locks were granted."""

    def __init__(self, store: SqlStore, session: Session) -> None:
        self._store = store
        self._session = session

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        return self._store._period_facts(self._session, day, period, service_code)

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        return self._store._daily_facts(self._session, day, service_code)

    def insert(self, reservation: Reservation) -> None:
        self._store._insert(self._session, reservation)


# -- connection sources ------------------------------------------------------------------


class _Closeable(Protocol):
    def close(self) -> None: ...


_C = TypeVar("_C", bound=_Closeable)
_C_co = TypeVar("_C_co", covariant=True)


class ConnectionSource(Protocol[_C_co]):
    """Where a store gets a connection for one call or one booking."""

    def borrow(self) -> contextlib.AbstractContextManager[_C_co]: ...

    def close(self) -> None: ...


class ThreadLocalConnections(Generic[_C]):
    """One connection per thread, opened by ``connect`` on the thread's first call.

    A connection serves one thread only, so a booking's transaction can never be
    interleaved with another thread's statements. ``usable`` lets a broken connection
    be replaced. The store owns these connections: :meth:`close` closes them all.
    """

    def __init__(self, connect: Callable[[], _C], usable: Callable[[_C], bool]) -> None:
        self._connect = connect
        self._usable = usable
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[_C] = []

    def borrow(self) -> contextlib.AbstractContextManager[_C]:
        # A plain object, not a generator-based context manager: this runs once per
        # store call, and the generator machinery was a measurable part of a check.
        conn: _C | None = getattr(self._local, "conn", None)
        if conn is None or not self._usable(conn):
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return contextlib.nullcontext(conn)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
            self._local = threading.local()
        for conn in opened:
            conn.close()


class _Held(Generic[_C]):
    """``with lock: conn`` as a context manager."""

    __slots__ = ("_conn", "_lock")

    def __init__(self, lock: threading.RLock, conn: _C) -> None:
        self._lock = lock
        self._conn = conn

    def __enter__(self) -> _C:
        self._lock.acquire()
        return self._conn

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class SharedConnection(Generic[_C]):
    """One connection the application owns, used by one thread at a time (a re-entrant
    lock held for a whole store call or booking). Never closed by the store."""

    def __init__(self, conn: _C) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._held = _Held(self._lock, conn)

    def borrow(self) -> contextlib.AbstractContextManager[_C]:
        # One reusable plain context manager (the lock is re-entrant and the object
        # keeps no per-entry state): cheaper than a generator-based one per call.
        return self._held

    def close(self) -> None:
        """The application opened it; the application closes it."""
