"""The SQL stores' part of the booking rules that are not capacity: the duplicate
rule's facts (the patients holding a service on a date) and the ``Idempotency-Key``
records (``slotcap_idempotency_keys``), read and written in the booking's locked
transaction.

The table is the stores' own, in every phase (legacy included): created on first use
with ``CREATE TABLE IF NOT EXISTS`` in its own short transaction (PostgreSQL: under
``SET LOCAL lock_timeout``, retried within ``busy_budget``), never by a booking's
transaction; a database made from exactly the reference legacy DDL gets it the first
time a booking carries a key. Every statement is parameterised and needs no session
state (no prepared statement is required, nothing is ``SET`` outside a transaction).
"""

# Statements are composed from this module's constant identifiers only (S608).
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import Params, Session
from slotcap.backoff import backoff
from slotcap.errors import (
    DatabaseError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    StoreBusy,
)
from slotcap.ports import IdempotencyRecord
from slotcap.sql.dialect import Dialect
from slotcap.sql.names import HOLDING_LIST, IDEMPOTENCY_KEYS, RESERVATIONS_TABLE

__all__ = ["KEYS_DDL", "KeysAndPatients"]

_T = f'"{IDEMPOTENCY_KEYS}"'
_TIMESTAMP = {Dialect.POSTGRES: "TIMESTAMP(3)", Dialect.SQLITE: "TEXT"}
#: The table and its purge index, per dialect (each statement idempotent).
KEYS_DDL: dict[Dialect, tuple[str, ...]] = {
    dialect: (
        f'CREATE TABLE IF NOT EXISTS {_T} ("key" TEXT NOT NULL PRIMARY KEY, '
        '"fingerprint" TEXT NOT NULL, "reservationId" TEXT, "answer" TEXT NOT NULL, '
        f'"createdAt" {kind} NOT NULL)',
        f'CREATE INDEX IF NOT EXISTS "{IDEMPOTENCY_KEYS}_createdAt_idx" ON {_T} ("createdAt")',
    )
    for dialect, kind in _TIMESTAMP.items()
}
_EXISTS = {
    Dialect.POSTGRES: "SELECT to_regclass(%(name)s) IS NOT NULL",
    Dialect.SQLITE: "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' "
                    "AND name = %(name)s",
}
_FIND = (f'SELECT "fingerprint", "reservationId", "answer", "createdAt" FROM {_T} '
         'WHERE "key" = %(key)s')
_INSERT = (f'INSERT INTO {_T} ("key", "fingerprint", "reservationId", "answer", "createdAt") '
           "VALUES (%(key)s, %(fingerprint)s, %(reservation_id)s, %(answer)s, %(at)s)")
_REPLACE = (f'UPDATE {_T} SET "fingerprint" = %(fingerprint)s, '
            '"reservationId" = %(reservation_id)s, "answer" = %(answer)s, "createdAt" = %(at)s '
            'WHERE "key" = %(key)s')
_PURGE = f'DELETE FROM {_T} WHERE "createdAt" < %(before)s'
_HOLDERS = f'SELECT r."patientName", r."phone" FROM "{RESERVATIONS_TABLE}" r ' \
    f'WHERE r."preferredDate" = %(day)s AND r."status" IN {HOLDING_LIST} AND '


#: PostgreSQL's answers to a CREATE that lost a race with another creator of the same
#: table, besides a unique violation on the catalogue (``_is_duplicate``):
#: duplicate_table, and duplicate_object for the table's row type ("type … already
#: exists"), seen when two first bookings of a fresh database create it at once.
_CREATED_MEANWHILE = ("42P07", "42710")


class KeysAndPatients(SqlPart):
    """A part of the SQL stores: the keys table, and the booking scope's duplicate
    facts and key records (through :class:`~.booking.SqlBookings`)."""

    #: Whether this store has seen (or made) the keys table; reset when a statement
    #: finds it gone.
    _keys_ready = False

    def _sql(self, text: str) -> str:
        return self._dialect.native(text)

    def prepare_idempotency(self) -> None:
        """Create the keys table if it does not exist (once per store; concurrent
        creators in other processes are fine: the loser sees the winner's table)."""
        if self._keys_ready:
            return
        deadline = time.monotonic() + self.busy_budget
        attempt = 0
        dialect = self._dialect.dialect
        while True:
            try:
                with self._write_session(deadline) as session:
                    rows = session.execute(self._sql(_EXISTS[dialect]),
                                           {"name": _T if dialect is Dialect.POSTGRES
                                            else IDEMPOTENCY_KEYS})
                    if not rows[0][0]:
                        for statement in KEYS_DDL[dialect]:
                            session.execute(statement, ())
                self._keys_ready = True
                return
            except StoreBusy:
                pass
            except Exception as exc:
                mapped = self._translate(exc, "create idempotency table")
                if mapped is None:
                    raise
                if not isinstance(mapped, DatabaseError) or not (
                        self._is_duplicate(mapped) or mapped.sqlstate in _CREATED_MEANWHILE):
                    raise mapped from None
                # Another store created it at the same moment: look again.
            attempt += 1
            if not backoff(deadline, attempt):
                raise StoreBusy("could not create the idempotency table within "
                                f"busy_budget {self.busy_budget:g}s")

    def _keys_table_exists(self) -> bool:
        dialect = self._dialect.dialect
        name = _T if dialect is Dialect.POSTGRES else IDEMPOTENCY_KEYS
        with self._session() as session:
            rows = session.execute(self._sql(_EXISTS[dialect]), {"name": name})
        return bool(rows[0][0])

    def purge_idempotency_keys(self, before: dt.datetime) -> int:
        if not self._keys_ready and not self._keys_table_exists():
            return 0  # never made here: purging must not create it
        params = {"before": self._dialect.timestamp_in(before)}

        def purge(st: Statements) -> tuple[str, Params]:
            return self._sql(_PURGE + ' RETURNING "key"'), params

        return len(self._write_with(purge)[1])

    # -- inside a booking ------------------------------------------------------------

    def held_patients(self, session: Session, day: dt.date, code: str) -> list[tuple[str, str]]:
        params = {"day": self._dialect.date_in(day), "code": code}

        def holders(st: Statements) -> tuple[str, Params]:
            if st.schema.has(RESERVATIONS_TABLE, "service"):
                # As text: a code outside the old enum then simply matches nothing.
                where = self._dialect.text('r."service"') + " = %(code)s"
            else:
                where = ('r."serviceId" IN (SELECT s."id" FROM "services" s '
                         'WHERE s."code" = %(code)s)')
            return self._sql(_HOLDERS + where), params

        return [(str(name), str(phone)) for name, phone in self._run(session, holders)]

    def _key_statement(self, session: Session, sql: str, params: Params) -> list[Any]:
        try:
            return session.execute(self._sql(sql), params)
        except StoreBusy:
            raise
        except Exception as exc:
            if self._is_schema_change(exc):
                self._keys_ready = False  # dropped under us: made again on the retry
                raise StoreBusy("the idempotency table is missing; retrying") from None
            mapped = self._translate(exc, "idempotency key")
            if mapped is None:
                raise
            raise mapped from None

    def find_key(self, session: Session, key: str) -> IdempotencyRecord | None:
        rows = self._key_statement(session, _FIND, {"key": key})
        if not rows:
            return None
        fingerprint, reservation_id, answer, created = rows[0]
        at = self._dialect.timestamp_out(created)
        assert at is not None  # noqa: S101 (NOT NULL)
        return IdempotencyRecord(key=key, fingerprint=str(fingerprint),
                                 reservation_id=reservation_id, answer=str(answer),
                                 created_at=at)

    def save_key(self, session: Session, record: IdempotencyRecord, replace: bool) -> None:
        params = {"key": record.key, "fingerprint": record.fingerprint,
                  "reservation_id": record.reservation_id, "answer": record.answer,
                  "at": self._dialect.timestamp_in(record.created_at)}
        try:
            self._key_statement(session, _REPLACE if replace else _INSERT, params)
        except StoreBusy:
            # PostgreSQL: another transaction holds the same key, uncommitted, longer
            # than this booking's lock wait (a request of another date or service —
            # the same request would be waiting on the same locks instead).
            raise IdempotencyInProgress(
                "a request with this Idempotency-Key is still being processed; retry "
                "shortly for its answer") from None
        except DatabaseError as exc:
            if not self._is_duplicate(exc):
                raise
            # Committed by another transaction after this one looked: another request
            # (the same one is serialised by the same locks and would have found it).
            raise IdempotencyKeyReused(
                "this Idempotency-Key was first used with another request; send a new "
                "key for a new booking") from None
        session.mark_written()
