"""Book a reservation: validate, check and insert atomically, writing old and new columns.

Which rule decides is the caller's ``dynamic`` flag (from :class:`slotcap.Rollout`):

* dynamic → the minutes rule for the requested period;
* legacy  → the daily count rule, exactly as the live application does today.

Both paths write every column the schema has (dual-write), and both take the same
locks (the date's period(s), then the date's service), so a legacy booking's minutes
are visible to the next dynamic check at once and neither rule can be raced past.

A booking rides through a busy database and a migration step: an attempt turned away
by a lock wait, a deadlock or a serialization failure (``StoreBusy``) is tried again,
jittered, until the store's ``busy_budget`` is spent; an attempt refused for the
schema state (``SchemaStateError``) is tried again on the state the store sees now
when that state changed (a phase applied or rolled back mid-booking), after asking the
store to re-read its catalogue (rate-limited) when it had not noticed yet. One loop,
one budget (:mod:`slotcap.usecases.attempts`): the store's lock waits and pauses share
its deadline; the worst case is stated in docs/stores.md ("Busy databases").

Under the same locks, before the capacity rule: a patient already holding this service
that date is refused (``DuplicateBooking``, :mod:`slotcap.usecases.duplicates`); a
request whose ``idempotency_key`` has a saved first answer gets it again
(:mod:`slotcap.usecases.idempotency`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TypedDict, Unpack

import attrs

from slotcap.backoff import Budget
from slotcap.domain.calendar import day_of_week
from slotcap.domain.clock import db_timestamp
from slotcap.domain.model import (
    LEGACY_SERVICE_CODES,
    Period,
    Reservation,
    ReservationStatus,
    Service,
)
from slotcap.domain.rules import (
    Decision,
    Reason,
    check_daily_limit,
    check_period_capacity,
    estimated_duration,
    period_started,
)
from slotcap.domain.schema_state import Rule, require
from slotcap.errors import (
    InvalidRequest,
    InvalidService,
    ReservationFull,
    SchemaStateError,
    StoreBusy,
)
from slotcap.ports import BookingTransaction, Clock, IdempotencyRecord, SchemaState, Store
from slotcap.usecases.attempts import Attempts
from slotcap.usecases.clock import clinic_clock
from slotcap.usecases.duplicates import duplicate_of
from slotcap.usecases.idempotency import (
    DEFAULT_IDEMPOTENCY_TTL,
    BookingOutcome,
    Once,
    Refusal,
    check_key,
    first_answer,
    remember,
    replayed_outcome,
    request_fingerprint,
)
from slotcap.usecases.one_trip import deciding, scope, time_text
from slotcap.usecases.request import (
    DEFAULT_HORIZON_DAYS,
    BookingRequest,
    ValidBooking,
    validate_request,
)
from slotcap.usecases.shadow import observe

__all__ = ["book", "book_once"]

class _Options(TypedDict, total=False):
    """:func:`book`'s and :func:`book_once`'s keywords beyond ``dynamic`` (the defaults
    are :func:`book_once`'s)."""

    new_id: Callable[[], str]
    horizon_days: int
    clock: Clock | None
    cutoff: bool
    idempotency_key: str | None
    idempotency_ttl: dt.timedelta


@attrs.frozen
class _New:
    """The new reservation's id and timestamp, fixed before the first attempt so that
    every retry inserts the same row."""

    id: str
    at: dt.datetime


def book(
    store: Store, request: BookingRequest, *, dynamic: bool, **options: Unpack[_Options],
) -> Reservation:
    """Create a reservation atomically and return it as stored.

    Raises ``InvalidRequest`` (every bad field named), ``InvalidService`` (unknown,
    inactive, soft-deleted, or — before phase 4 — not in the legacy enum),
    ``ReservationFull`` (no room; ``.decision`` says why), ``DuplicateBooking`` (this
    patient already holds this service on this date), ``SchemaStateError`` (the
    database's phase cannot serve this rule) or ``StoreBusy`` (locks not had within the
    store's ``busy_budget``; the worst case: docs/stores.md, "Busy databases").

    Keywords (all optional): ``new_id`` (the new reservation's id; default a UUID),
    ``horizon_days``, ``clock``, ``cutoff``, ``idempotency_key``, ``idempotency_ttl``.

    ``idempotency_key`` (1–255 printable ASCII characters): the first call's answer is
    saved with the booking, in its transaction; a later call with the same key and the
    same request gets it again (the same reservation, or the same refusal) and books
    nothing; with another request, ``IdempotencyKeyReused``. Kept ``idempotency_ttl``.
    :func:`book_once` also says whether the answer was a replay.

    ``clock`` is the one source of "today" — the window a ``preferred_date`` must fall
    in, from ``clock.today()`` to ``horizon_days`` ahead (see :func:`validate_request`)
    — and stamps ``created_at``. Default: the clinic's clock, "today" in the time zone
    stored in the store's ``clinic_settings`` (the machine's before phase 1), as
    ``bootstrap`` wires ``App.clock``; pass ``App.clock`` to share its cached zone.
    Nothing reaches the store unless the
    request is valid; ``preferred_time`` is parsed once, with the store's own clinic
    hours on both paths.

    ``cutoff`` (the same-day cut-off, dynamic path): refuse a period that has already
    started on the clinic's wall clock (``clock.local_now()``) with ``InvalidRequest``
    naming ``period``.
    """
    return book_once(store, request, dynamic=dynamic, **options).result()


def book_once(
    store: Store,
    request: BookingRequest,
    *,
    dynamic: bool,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    clock: Clock | None = None,
    cutoff: bool = False,
    idempotency_key: str | None = None,
    idempotency_ttl: dt.timedelta = DEFAULT_IDEMPOTENCY_TTL,
) -> BookingOutcome:
    """:func:`book`, with its answer as a value: the reservation or the refusal (full,
    duplicate) in a :class:`BookingOutcome`, ``replayed`` when it is an
    ``idempotency_key``'s saved first answer. Other errors are raised as by ``book``."""
    clock = clock if clock is not None else clinic_clock(store)
    new = _New(id=new_id(), at=db_timestamp(clock.now()))
    once = None
    if idempotency_key is not None:
        once = Once(check_key(idempotency_key), request_fingerprint(request),
                    new.at - idempotency_ttl)
    # The store's cached state: no I/O yet.
    tries = Attempts(store, Budget.of(store.busy_budget), store.schema_state)
    valid: ValidBooking | None = None
    while True:
        try:
            if valid is None:
                # Inside the loop: reading the clinic's hours (only for an otherwise
                # valid request) may meet a busy database or a phase just rolled back,
                # and is then retried like any other attempt. The parse follows the
                # read, so it still runs once.
                valid = validate_request(request, dynamic=dynamic, clock=clock,
                                         horizon_days=horizon_days,
                                         hours=tries.clinic_hours)
                tries.legacy_recheck()  # free if clinic_hours just did
            if once is not None:
                store.prepare_idempotency()  # once per store; again if it went missing
            if dynamic:
                if cutoff:
                    _refuse_started(store, valid, clock)
                done = _book_dynamic(store, valid, tries, new, once)
            else:
                done = _book_legacy(store, valid, tries, new, once)
            if isinstance(done, IdempotencyRecord):
                found = store.get_reservation(done.reservation_id) \
                    if done.reservation_id is not None else None
                return replayed_outcome(done, found)
            return done
        except StoreBusy:
            if not tries.again_after_busy():
                raise
        except SchemaStateError:
            if not tries.again_after_refusal():
                raise


def _refuse_started(store: Store, valid: ValidBooking, clock: Clock) -> None:
    period = valid.period
    if period is None:
        return
    local = clock.local_now()
    if valid.preferred_date != local.date():
        return
    slot = next((s for s in store.list_time_slots()
                 if s.day_of_week == day_of_week(valid.preferred_date) and s.period is period),
                None)
    if slot is not None and period_started(local, valid.preferred_date, slot):
        raise InvalidRequest({"period": (
            f"the {period.value.lower()} period began at {slot.start_time:%H:%M} "
            f"(clinic time now {local:%H:%M}); choose a later period or date")})


def _require_bookable(service: Service | None, code: str, state: SchemaState) -> Service:
    if service is None:
        raise InvalidService(f"unknown service {code!r}", code="unknown_service")
    if not service.is_bookable:
        raise InvalidService(f"service {code!r} is not bookable (inactive or deleted)",
                             code="service_inactive")
    if state.has_legacy_columns and not service.is_legacy:
        # The old NOT NULL "service" column is typed by the ServiceType enum until
        # phase 4; a new service cannot be dual-written, so it cannot be booked yet.
        raise InvalidService(
            f"service {code!r} is not in the legacy ServiceType enum and cannot be "
            "dual-written before phase 4",
            code="service_not_in_legacy_enum",
        )
    return service


def _refuse(decision: Decision, what: str) -> ReservationFull:
    if decision.reason is Reason.CLOSED:
        message = f"{what}: the clinic is closed then"
        if decision.detail:
            message += f" ({decision.detail})"
    elif decision.reason is Reason.FULL:
        message = f"{what}: full ({decision.remaining} left, {decision.requested} needed)"
    else:
        message = f"{what}: not bookable ({decision.reason.value})"
    return ReservationFull.for_decision(message, decision=decision)


def _refused(refusal: Refusal, dynamic: bool) -> BookingOutcome:
    return BookingOutcome(dynamic=dynamic, refusal=refusal)


def _book_dynamic(store: Store, valid: ValidBooking, tries: Attempts, new: _New,
                  once: Once | None) -> BookingOutcome | IdempotencyRecord:
    state, deadline = tries.state, tries.budget.deadline
    require(state, Rule.MINUTES)
    period = valid.period
    assert period is not None  # noqa: S101 (validate_request guarantees it on this path)
    day, code = valid.preferred_date, valid.service_code
    with scope(store, once is not None, day, code, [period], deadline) as tx:
        first, replace = first_answer(tx, once)
        if first is not None:
            return first
        # One statement decides where it can (usecases/one_trip.py): same rule below.
        done = deciding(tx, period, lambda service, slot: _reservation(
            valid, new, service, period, time_text(valid, period, slot), code))
        facts = tx.period_facts(day, period, code) if done is None else done.period
        assert facts is not None  # noqa: S101 (deciding returns the period's figures)
        service = _require_bookable(facts.service, code, state)
        duplicate = duplicate_of(tx, valid) if done is None else None
        if duplicate is not None:
            return remember(tx, once, new.at, _refused(duplicate, True), replace)
        decision = check_period_capacity(
            service=service, slot=facts.slot, held_minutes=facts.held_minutes,
            closures=facts.closures,
        )
        observe(store, tx, valid, dynamic=True, decision=decision)
        if not decision.allowed:
            refusal = _refuse(decision, f"{day.isoformat()} {period.value}")
            return remember(tx, once, new.at, _refused(refusal, True), replace)
        # Legacy values always carried: a phase-4 rollback mid-booking may need them.
        if done is not None:
            stored = _as_stored(store, done.reservation)
        else:
            stored = _insert(store, tx, _reservation(
                valid, new, service, period, time_text(valid, period, facts.slot), code))
        booked = BookingOutcome(dynamic=True, reservation=stored)
        return remember(tx, once, new.at, booked, replace)


def _book_legacy(store: Store, valid: ValidBooking, tries: Attempts, new: _New,
                 once: Once | None) -> BookingOutcome | IdempotencyRecord:
    """The count rule; the same attempt's inputs as :func:`_book_dynamic`'s."""
    state, deadline = tries.state, tries.budget.deadline
    require(state, Rule.COUNT)
    code = valid.service_code
    if code not in LEGACY_SERVICE_CODES:
        raise InvalidService(f"unknown service {code!r}", code="unknown_service")
    day = valid.preferred_date
    service: Service | None = None
    period: Period | None = None
    if state.has_new_columns:
        service = store.get_service(code)
        # Read (once, in validate_request) with the clinic's own hours.
        period = valid.time_period
    # An unknown period may be either one: lock (and later hold) both.
    periods = [period] if period is not None else list(Period)
    with scope(store, once is not None, day, code,
               periods if state.has_new_columns else [], deadline) as tx:
        first, replace = first_answer(tx, once)
        if first is not None:
            return first
        reservation = _reservation(valid, new, service, period, valid.preferred_time, code)
        done = deciding(tx, period, reservation=reservation)
        duplicate = duplicate_of(tx, valid) if done is None else None
        if duplicate is not None:
            return remember(tx, once, new.at, _refused(duplicate, False), replace)
        # Check and insert in one statement; the store returns the facts it decided on.
        facts = tx.insert_within_daily_limit(reservation) if done is None else done.daily
        assert facts is not None  # noqa: S101 (deciding returns the daily figures)
        decision = check_daily_limit(limit=facts.limit, held_count=facts.held_count)
        observe(store, tx, valid, dynamic=False, decision=decision)
        if not decision.allowed:
            refusal = _refuse(decision, f"{day.isoformat()} {code}")
            return remember(tx, once, new.at, _refused(refusal, False), replace)
        booked = BookingOutcome(dynamic=False, reservation=_as_stored(store, reservation))
        return remember(tx, once, new.at, booked, replace)


def _reservation(
    valid: ValidBooking,
    new: _New,
    service: Service | None,
    period: Period | None,
    time_text: str | None,
    code: str,
) -> Reservation:
    return Reservation(
        id=new.id,
        patient_name=valid.patient_name,
        phone=valid.phone,
        email=valid.email,
        birth_date=valid.birth_date,
        gender=valid.gender,
        treatment_type=valid.treatment_type,
        preferred_date=valid.preferred_date,
        status=ReservationStatus.PENDING,
        notes=valid.notes,
        service=code,
        preferred_time=time_text,
        service_id=service.id if service is not None else None,
        service_name=service.name if service is not None else None,
        estimated_duration=estimated_duration(service) if service is not None else None,
        period=period,
        created_at=new.at,
        updated_at=new.at,
        status_changed_at=new.at,
    )


def _insert(store: Store, tx: BookingTransaction, reservation: Reservation) -> Reservation:
    tx.insert(reservation)
    return _as_stored(store, reservation)


def _as_stored(store: Store, reservation: Reservation) -> Reservation:
    # Report what was stored: the columns of the schema state the insert ran against.
    return store.schema_state.keep_columns(reservation)
