"""The SQL stores' writes outside a booking: the service catalogue, the clinic's hours,
the daily limits and a reservation's status. Each is its own short transaction whose
lock waits are bounded and retried within ``busy_budget``."""

from __future__ import annotations

from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.reads import SqlReads
from slotcap.adapters.sql.rows import closure_params, reservation_of
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import Params, SqlCore
from slotcap.domain.closures import Closure
from slotcap.domain.model import (
    ClinicTimeSlot,
    Reservation,
    ReservationStatus,
    Service,
    ServiceLimit,
)
from slotcap.errors import (
    ClosureExists,
    DatabaseError,
    ReservationNotFound,
    ServiceExists,
)

__all__ = ["SqlWrites"]


class SqlWrites(SqlPart):
    """Each write its own short transaction (:meth:`SqlCore.write_with`); a write of
    the catalogue, the hours or the closures drops the reads' snapshot of them."""

    def __init__(self, core: SqlCore, reads: SqlReads) -> None:
        super().__init__(core)
        self._reads = reads

    def save_service(self, service: Service) -> None:
        d = self._dialect
        now = d.timestamp_in(self._now())
        params = {
            "id": service.id, "code": service.code, "name": service.name,
            "nameEn": service.name_en, "description": service.description,
            "category": service.category, "durationMinutes": service.duration_minutes,
            "bufferMinutes": service.buffer_minutes, "basePrice": service.base_price,
            "isActive": d.bool_in(service.is_active), "isVisible": d.bool_in(service.is_visible),
            "displayOrder": service.display_order,
            "deletedAt": None if service.deleted_at is None else d.timestamp_in(service.deleted_at),
            "createdAt": now, "updatedAt": now,
        }

        def op(st: Statements) -> tuple[str, Params]:
            self._require_new_tables(st)
            return st.upsert_service, params

        try:
            # The port's contract, as the in-memory store: a code belongs to one service.
            self._write_unique(op, ServiceExists.for_code(service.code))
        finally:
            self._reads.forget_catalogue()  # this store's next check reads the services again

    def save_time_slot(self, slot: ClinicTimeSlot) -> None:
        d = self._dialect
        now = d.timestamp_in(self._now())
        params = {
            "id": slot.id, "dayOfWeek": slot.day_of_week, "period": slot.period.value,
            "startTime": slot.start_time.strftime("%H:%M"),
            "endTime": slot.end_time.strftime("%H:%M"), "totalMinutes": slot.total_minutes,
            "isActive": d.bool_in(slot.is_active), "createdAt": now, "updatedAt": now,
        }

        def op(st: Statements) -> tuple[str, Params]:
            self._require_new_tables(st)
            return st.upsert_slot, params

        try:
            try:
                self._write_with(op)
            except DatabaseError as exc:
                if not self._is_duplicate(exc):
                    raise
                # Two first saves of one (dayOfWeek, period) at once: PostgreSQL's ON
                # CONFLICT arbitrates on (dayOfWeek, period) only, so the later insert
                # meets the primary key (the same id). The other row is committed now:
                # the retry updates it (last write wins), as any later save would.
                self._write_with(op)
        finally:
            self._reads.forget_catalogue()  # this store's next check reads the hours again

    def save_limit(self, limit: ServiceLimit) -> None:
        d = self._dialect
        now = d.timestamp_in(self._now())
        params = {
            "id": limit.id or f"limit_{limit.service_code.lower()}",
            "serviceType": limit.service_code, "dailyLimit": limit.daily_limit,
            "isActive": d.bool_in(limit.is_active), "createdAt": now,
            "updatedAt": now,
        }

        def op(st: Statements) -> tuple[str, Params]:
            self._require_count_rule(st)
            return st.upsert_limit, params

        self._write_with(op)

    def set_status(
        self,
        reservation_id: str,
        status: ReservationStatus,
        *,
        changed_by: str | None = None,
    ) -> Reservation:
        params = {
            "id": reservation_id, "status": ReservationStatus(status).value,
            "now": self._dialect.timestamp_in(self._now()), "changed_by": changed_by,
        }

        def set_status(st: Statements) -> tuple[str, Params]:
            return st.set_status, params

        st, rows = self._write_with(set_status)
        if not rows:
            raise ReservationNotFound(f"no reservation with id {reservation_id!r}")
        return reservation_of(self._dialect, st.reservation_columns, rows[0])

    def add_closure(self, closure: Closure) -> None:
        params = closure_params(self._dialect, closure, self._now())

        def op(st: Statements) -> tuple[str, Params]:
            self._require_closures(st)
            return st.insert_closure or "", params

        try:
            self._write_unique(op, ClosureExists(f"duplicate closure id {closure.id!r}"))
        finally:
            self._reads.forget_closures()  # this store's next check reads the closures again

    def remove_closure(self, closure_id: str) -> bool:
        def op(st: Statements) -> tuple[str, Params]:
            self._require_closures(st)
            return st.delete_closure or "", {"id": closure_id}

        try:
            return bool(self._write_with(op)[1])
        finally:
            self._reads.forget_closures()

    def set_clinic_time_zone(self, name: str) -> None:
        params = {"key": "timeZone", "value": name,
                  "now": self._dialect.timestamp_in(self._now())}

        def op(st: Statements) -> tuple[str, Params]:
            self._require_closures(st)
            return st.upsert_setting or "", params

        self._write_with(op)
