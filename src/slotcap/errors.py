"""Every exception slotcap raises, each with a stable machine-readable ``code``.

Callers (the web app's route handlers, the CLI) branch on the class or on ``code``;
the message is for people and may change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

if TYPE_CHECKING:
    from slotcap.domain.rules import Decision

__all__ = [
    "BookingOutcomeUnknown",
    "ClosureExists",
    "ClosureNotFound",
    "ConfigurationError",
    "DatabaseError",
    "DuplicateBooking",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "ImportProblem",
    "InvalidClosure",
    "InvalidHoursDefinition",
    "InvalidRequest",
    "InvalidService",
    "InvalidServiceDefinition",
    "InvalidTimeZone",
    "MigrationBusy",
    "MigrationError",
    "MigrationLockTimeout",
    "ReservationClosed",
    "ReservationExists",
    "ReservationFull",
    "ReservationNotFound",
    "ReviewRejected",
    "SchemaStateError",
    "ServiceExists",
    "SlotcapError",
    "StepPaused",
    "StoreBusy",
    "StoreUnavailable",
    "UsageError",
    "ValidationFailed",
]


class SlotcapError(Exception):
    """Base class of every slotcap error."""

    code: str = "slotcap_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidRequest(SlotcapError):
    """A booking request (or other input) has missing or malformed fields.

    ``fields`` maps each offending field name to what is wrong with it, all at once,
    so a form can show every problem in one round trip.
    """

    code = "invalid_request"
    #: What the message opens with; each kind of input names itself.
    _lead: ClassVar[str] = "invalid request"

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields: dict[str, str] = dict(fields)
        listed = "; ".join(f"{name}: {problem}" for name, problem in sorted(self.fields.items()))
        super().__init__(f"{self._lead}: {listed}")


class InvalidServiceDefinition(InvalidRequest):
    """A service's definition (code, names, minutes, order) was refused by the
    catalogue's validation. ``fields`` maps every bad field to what is wrong with it;
    the values themselves are not repeated."""

    code = "invalid_service_definition"
    _lead = "invalid service definition"


class ServiceExists(SlotcapError):
    """A service with that code already exists (codes are unique, deleted ones included)."""

    code = "service_exists"

    @classmethod
    def for_code(cls, code: str) -> ServiceExists:
        return cls(f"a service with code {code!r} already exists")


class InvalidService(SlotcapError):
    """The service does not exist, is inactive or soft-deleted, or cannot be written here."""

    code = "invalid_service"


class ReservationFull(SlotcapError):
    """No room left: the period's minutes or the service's daily count are used up.

    ``decision`` is the :class:`slotcap.Decision` that refused the booking.
    """

    code = "reservation_full"

    def __init__(self, message: str, *, decision: Decision) -> None:
        super().__init__(message)
        self.decision = decision

    @staticmethod
    def for_decision(message: str, *, decision: Decision) -> ReservationFull:
        """The refusal for ``decision``: :class:`ReservationClosed` when the clinic is
        closed then (``decision.reason`` is ``CLOSED``), else :class:`ReservationFull`."""
        closed = decision.reason == "CLOSED"  # Reason is a StrEnum (domain.rules)
        return (ReservationClosed if closed else ReservationFull)(message, decision=decision)


class ReservationClosed(ReservationFull):
    """The clinic is closed then — a closure, or no opening hours that day or period
    (``decision.reason`` is ``CLOSED``). A :class:`ReservationFull`, so callers that
    catch that, and the HTTP answer (409, code ``reservation_full``), are unchanged;
    tell it from a full period by its class."""


class ReservationNotFound(SlotcapError):
    code = "reservation_not_found"


class SchemaStateError(SlotcapError):
    """The database's schema phase cannot serve what was asked (e.g. the minutes rule
    on a legacy-only database, or the count rule after phase 4)."""

    code = "schema_state"


class StoreBusy(SlotcapError):
    """A lock could not be taken within the lock timeout, even after retries."""

    code = "store_busy"


class StoreUnavailable(SlotcapError):
    """The database could not be reached: the connection was lost, refused or reset (a
    server restart, an administrator's shutdown, a failover, a network blip). Nothing
    was written; the caller may retry shortly (HTTP: 503 with ``Retry-After``)."""

    code = "store_unavailable"


class BookingOutcomeUnknown(StoreUnavailable):
    """The connection was lost after a booking's COMMIT was sent: the booking may or
    may not have been saved. It is never retried blindly; a retry with the same
    ``Idempotency-Key`` answers with the saved booking if there is one (HTTP: 503)."""

    code = "booking_outcome_unknown"


class DuplicateBooking(SlotcapError):
    """The same patient (phone digits and name) already holds a PENDING or CONFIRMED
    booking of the same service on the same date, whatever its period (HTTP: 409)."""

    code = "duplicate_booking"


class IdempotencyKeyReused(SlotcapError):
    """An ``Idempotency-Key`` already used with a different request body (HTTP: 422)."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(SlotcapError):
    """A request with the same ``Idempotency-Key`` is still being processed
    (HTTP: 409); retry shortly to get its answer."""

    code = "idempotency_in_progress"


class DatabaseError(SlotcapError):
    """The database refused a store operation (a constraint, a bad value, another
    driver error). The one-line message names the table, constraint or column and the
    SQLSTATE, never the row's values; the driver's exception is not chained (its DETAIL
    can hold a patient's name). ``code`` is ``constraint_violation``, ``invalid_value``
    or ``database_error``."""

    code = "database_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        sqlstate: str | None = None,
        constraint: str | None = None,
        column: str | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.sqlstate = sqlstate
        self.constraint = constraint
        self.column = column
        self.table = table


class ReservationExists(DatabaseError):
    """A reservation with that id already exists: every store refuses a second insert
    of one id (the SQL stores' primary key; the message names the constraint, never
    the row). A :class:`DatabaseError`, as the SQL stores' refusal was before it had a
    class of its own."""

    code = "reservation_exists"


class ConfigurationError(SlotcapError):
    """Unreadable configuration: an environment variable, a store URL, a CLI option."""

    code = "configuration"


class UsageError(ConfigurationError):
    """A command-line problem found after argument parsing; the message names the option
    (the CLI exits 2)."""

    code = "usage"


class MigrationError(SlotcapError):
    """A migration phase could not be applied or rolled back; nothing was half-written."""

    code = "migration"


class MigrationBusy(MigrationError):
    """Another slotcap run (migrate, rollback, backfill, review import) holds the
    database's migration lock; this one was refused at once instead of interleaving."""

    code = "migration_busy"


class MigrationLockTimeout(MigrationError):
    """A migration statement did not get its lock within the retry budget: other
    sessions kept the table locked. The attempt was rolled back (nothing half-done) and
    the run's record leaves the step resumable; the message names the blocking sessions
    (pid, application_name, state, seconds in transaction, first line of the query)."""

    code = "migration_lock_timeout"


class StepPaused(MigrationError):
    """A migration step stopped on purpose and left its transition open (phase 2's
    validation while rows await manual review): not a failure of the run; the phase
    runner catches it and reports the message."""

    code = "migration_paused"


class ValidationFailed(SlotcapError):
    """The migration's validation checks did not all pass."""

    code = "validation_failed"


@attrs.frozen(kw_only=True)
class ImportProblem:
    """One problem in an operator's review file, with its line number."""

    line: int
    id: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (id {self.id})" if self.id else "")
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "id": self.id, "message": self.message}


class ReviewRejected(SlotcapError):
    """The review file was refused as a whole; nothing was written.

    ``problems`` lists every problem found, each with its line number in the file.
    """

    code = "review_rejected"

    def __init__(self, problems: Sequence[ImportProblem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"review file refused, nothing was written ({len(self.problems)} problem(s)):\n"
            f"{shown}{tail}"
        )


class InvalidHoursDefinition(InvalidRequest):
    """A change of the weekly opening hours was refused by its validation
    (``slotcap hours set``, ``slotcap.usecases.hours``). ``fields`` maps every bad field
    (``weekday``, ``period``, ``start``, ``end``, ``closed``) to what is wrong with it."""

    code = "invalid_hours"
    _lead = "invalid hours"


class InvalidClosure(InvalidRequest):
    """A closure or override (``slotcap closures add``) was refused: ``fields`` names
    every bad field (``start_date``, ``end_date``, ``period``, ``rrule``,
    ``capacity_minutes``, ``reason``) and what is wrong with it."""

    code = "invalid_closure"
    _lead = "invalid closure"


class ClosureNotFound(SlotcapError):
    """No closure with that id (``slotcap closures remove``)."""

    code = "closure_not_found"


class ClosureExists(SlotcapError):
    """A closure with that id already exists (ids are unique; ``add_closure`` makes a
    new one each time, so this means the same closure was saved twice)."""

    code = "closure_exists"


class InvalidTimeZone(InvalidRequest):
    """Not an IANA time zone name zoneinfo knows (``slotcap timezone set``)."""

    code = "invalid_time_zone"
