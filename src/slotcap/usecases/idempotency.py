"""Idempotent bookings (``book(..., idempotency_key=)``): what a key is, the request's
fingerprint, and the first answer as it is saved and replayed.

A key's record is saved in the same transaction as the booking it answers, under the
booking's locks (the IETF httpapi draft "The Idempotency-Key HTTP Header Field";
Stripe's API). So a retry — after a timeout, a lost connection, a restart, or on
another server process — finds either the committed record (and gets the first answer
again, no second row) or nothing (and books once). What is saved:

* a booking → the reservation's id and its status when booked: a replay answers that
  reservation as it was first answered (``PENDING``), whatever has happened to it since;
* a refusal decided under the locks — ``ReservationFull`` (full, closed, no limit) or
  ``DuplicateBooking`` → the refusal: a replay is refused the same way, even if room
  has been freed since. A new attempt is a new key.

Nothing is saved for what never reached the decision (an invalid request, an unknown
service, a busy or unreachable database, a schema phase that cannot serve it): a
retry with the same key runs again. A key is kept ``DEFAULT_IDEMPOTENCY_TTL`` (24 h);
an expired record counts as absent and is replaced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import attrs

from slotcap.domain.model import Reservation, ReservationStatus
from slotcap.domain.rules import Decision, Reason
from slotcap.errors import (
    DuplicateBooking,
    IdempotencyKeyReused,
    InvalidRequest,
    ReservationFull,
)
from slotcap.ports import BookingTransaction, IdempotencyRecord
from slotcap.usecases.request import BookingRequest

__all__ = [
    "DEFAULT_IDEMPOTENCY_TTL",
    "MAX_KEY_LENGTH",
    "BookingOutcome",
    "Once",
    "Refusal",
    "answer_of_booking",
    "answer_of_refusal",
    "check_key",
    "first_answer",
    "remember",
    "replayed_outcome",
    "request_fingerprint",
]

#: How long a key's first answer is kept (Stripe's 24 hours).
DEFAULT_IDEMPOTENCY_TTL = dt.timedelta(hours=24)
#: The longest key accepted (the draft's examples are UUIDs; Stripe allows 255).
MAX_KEY_LENGTH = 255

Refusal = ReservationFull | DuplicateBooking


@attrs.frozen(kw_only=True)
class BookingOutcome:
    """What ``book_once`` did: booked (``reservation``) or refused (``refusal``), and
    whether this is the replay of a key's first answer (``replayed``). ``dynamic`` is
    the rule that decided (the first call's, on a replay)."""

    dynamic: bool
    replayed: bool = False
    reservation: Reservation | None = None
    refusal: Refusal | None = None

    def result(self) -> Reservation:
        """The reservation, or the refusal raised."""
        if self.refusal is not None:
            raise self.refusal
        assert self.reservation is not None  # noqa: S101 (one of the two is set)
        return self.reservation


def check_key(key: str, *, field: str = "idempotency_key") -> str:
    """``key`` if it is 1–255 printable ASCII characters, else ``InvalidRequest``
    naming ``field`` (the key is not repeated: it may be anything a client sent)."""
    if not key:
        raise InvalidRequest({field: "empty: send 1 to 255 printable ASCII characters"})
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest({field: f"longer than {MAX_KEY_LENGTH} characters"})
    if not all(" " <= ch <= "~" for ch in key):
        raise InvalidRequest({field: "only printable ASCII characters are allowed"})
    return key


def request_fingerprint(request: BookingRequest) -> str:
    """SHA-256 of the request's fields as canonical JSON: the same body sent again
    (whatever its key order, spacing or unknown keys) has the same fingerprint."""
    fields = attrs.asdict(request, recurse=False)
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def answer_of_booking(reservation: Reservation, *, dynamic: bool) -> str:
    return json.dumps({"kind": "booked", "status": reservation.status.value,
                       "dynamic": dynamic})


def answer_of_refusal(refusal: Refusal, *, dynamic: bool) -> str:
    body: dict[str, Any] = {"kind": "duplicate", "message": refusal.message,
                            "dynamic": dynamic}
    if isinstance(refusal, ReservationFull):
        d = refusal.decision
        body.update(kind="full", reason=d.reason.value, remaining=d.remaining,
                    capacity=d.capacity, held=d.held, requested=d.requested, detail=d.detail)
    return json.dumps(body, ensure_ascii=False)


def replayed_outcome(record: IdempotencyRecord, reservation: Reservation | None) -> BookingOutcome:
    """The first answer of ``record`` again (``reservation``: its booking as stored now,
    shown with the status it was first answered with)."""
    answer = json.loads(record.answer)
    dynamic = bool(answer.get("dynamic"))
    kind = answer.get("kind")
    if kind == "booked":
        if reservation is None:
            # Reservations are never deleted by slotcap; one removed by hand leaves a
            # key pointing nowhere: say so rather than book again.
            return BookingOutcome(dynamic=dynamic, replayed=True, refusal=DuplicateBooking(
                "the reservation this Idempotency-Key created no longer exists"))
        first = attrs.evolve(reservation, status=ReservationStatus(answer["status"]))
        return BookingOutcome(dynamic=dynamic, replayed=True, reservation=first)
    message = str(answer.get("message", ""))
    if kind == "full":
        decision = Decision(allowed=False, reason=Reason(answer["reason"]),
                            remaining=answer.get("remaining"), capacity=answer.get("capacity"),
                            held=answer.get("held"), requested=answer.get("requested"),
                            detail=answer.get("detail"))
        return BookingOutcome(dynamic=dynamic, replayed=True,
                              refusal=ReservationFull.for_decision(message, decision=decision))
    return BookingOutcome(dynamic=dynamic, replayed=True, refusal=DuplicateBooking(message))


@attrs.frozen
class Once:
    """An idempotent booking's key, its request's fingerprint, and the oldest
    ``created_at`` a live record of it may have."""

    key: str
    fingerprint: str
    expires_before: dt.datetime


def first_answer(tx: BookingTransaction, once: Once | None) -> tuple[
        IdempotencyRecord | None, bool]:
    """Under the locks: the key's live record (a replay), and whether an expired one
    is to be replaced. Another request's key is ``IdempotencyKeyReused``."""
    if once is None:
        return None, False
    record = tx.find_idempotency(once.key)
    if record is None:
        return None, False
    if record.created_at < once.expires_before:
        return None, True
    if record.fingerprint != once.fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was first used with another request; send a new key "
            "for a new booking")
    return record, False


def remember(tx: BookingTransaction, once: Once | None, at: dt.datetime,
             outcome: BookingOutcome, replace: bool) -> BookingOutcome:
    """Save the key's first answer in the booking's transaction."""
    if once is not None:
        if outcome.refusal is not None:
            answer, rid = answer_of_refusal(outcome.refusal, dynamic=outcome.dynamic), None
        else:
            assert outcome.reservation is not None  # noqa: S101 (booked)
            rid = outcome.reservation.id
            answer = answer_of_booking(outcome.reservation, dynamic=outcome.dynamic)
        tx.save_idempotency(IdempotencyRecord(
            key=once.key, fingerprint=once.fingerprint, reservation_id=rid, answer=answer,
            created_at=at), replace=replace)
    return outcome
