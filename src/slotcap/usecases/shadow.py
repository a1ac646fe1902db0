"""Shadow decisions and their report (docs/rollout.md, "Reading the shadow report").

Whenever a rule decides a booking (the *control*, chosen by the rollout), the other
rule is evaluated on the same facts under the same locks (the *shadow*, github's
Scientist pattern). The shadow never changes the answer and never raises: a failure is
counted (``store.shadow.failures``) and logged without patient data. A booking's
comparison goes to the shadow tables (phases 1-3) through ``tx.record_shadow``: a
mismatch, with both rules' figures, is written with the booking; an agreement is counted
once the booking commits and written in batches (the SQL stores'
:mod:`slotcap.adapters.sql.shadow_buffer`; the report flushes its own process's first).
An availability check's only in this process's counters, one in :data:`CHECK_SAMPLE`.
"""

from __future__ import annotations

import datetime as dt
import logging

import attrs

from slotcap.domain.model import Period
from slotcap.domain.rules import (
    Decision,
    Reason,
    check_daily_limit,
    check_period_capacity,
    estimated_duration,
)
from slotcap.domain.shadow import NOT_SHADOWABLE, Agreement, Mismatch, agreement
from slotcap.errors import StoreBusy
from slotcap.ports import BookingTransaction, SchemaState, Store
from slotcap.usecases.request import ValidBooking

__all__ = [
    "CHECK_SAMPLE",
    "RETENTION",
    "ShadowReport",
    "observe",
    "observe_check",
    "purge_expired",
    "shadow_glance",
    "shadow_report",
]

_LOG = logging.getLogger("slotcap.shadow")
#: Mismatches and decision counters are kept this long (``purge_shadow``).
RETENTION = dt.timedelta(days=30)
#: One availability check in this many is shadowed (a check is one indexed read; a
#: shadow read on every one would double its cost).
CHECK_SAMPLE = 20


def _active(store: Store) -> bool:
    # Both rules can run only while the schema has both sets of columns.
    return store.shadow.active and store.schema_state is SchemaState.EXPANDED


def observe(
    store: Store,
    tx: BookingTransaction,
    valid: ValidBooking,
    *,
    dynamic: bool,
    decision: Decision,
) -> None:
    """Shadow one booking the control rule just decided (``decision``), inside its
    locked scope: the dynamic path calls this before its insert, the legacy path after
    its one-step check-and-insert (the row it inserted is taken back out of the
    shadow's figures). Never raises."""
    try:
        if not _active(store):
            return
        control = "dynamic" if dynamic else "legacy"
        day, code = valid.preferred_date, valid.service_code
        if dynamic:
            period: Period | None = valid.period
            facts = tx.daily_facts(day, code)
            shadow = check_daily_limit(limit=facts.limit, held_count=facts.held_count)
        else:
            period = valid.time_period
            if period is None:
                store.shadow.count("booking", control, NOT_SHADOWABLE)
                tx.record_shadow(day, code, control, NOT_SHADOWABLE, None)
                return
            shadow = _minutes_shadow(tx, day, period, code, inserted=decision.allowed)
        outcome = agreement(decision.allowed, shadow.allowed)
        store.shadow.count("booking", control, outcome.value)
        mismatch = None
        if outcome is not Agreement.AGREE:
            mismatch = _mismatch(day, period, code, control, decision, shadow)
        tx.record_shadow(day, code, control, outcome.value, mismatch)
    except Exception as exc:  # the shadow never raises into the booking (but see below)
        store.shadow.failed()
        if tx.usable():
            _LOG.warning("shadow decision failed (%s); the booking is unaffected",
                         type(exc).__name__)
            return
        # The failed statement aborted the booking's transaction (PostgreSQL): committing
        # it would silently lose the booking. Trip the shadow off and have book() run the
        # attempt again from the start, without it.
        store.shadow.trip()
        _LOG.warning("shadow decision failed (%s) and aborted the booking's transaction: "
                     "shadow off for %gs, the booking is retried without it",
                     type(exc).__name__, store.shadow.TRIP_SECONDS)
        raise StoreBusy("a shadow statement failed; retrying the booking without it") from None


def _minutes_shadow(
    tx: BookingTransaction, day: dt.date, period: Period, code: str, *, inserted: bool,
) -> Decision:
    facts = tx.period_facts(day, period, code)
    held = facts.held_minutes
    # A deciding statement's figures (``last_figures``, the one-statement path) were read
    # before its insert; a fresh read comes after the legacy path's dual-written row.
    figures = getattr(tx, "last_figures", None)
    before_insert = figures is not None and figures.period is not None
    if inserted and not before_insert and facts.service is not None:
        held = max(held - estimated_duration(facts.service), 0)
    return check_period_capacity(service=facts.service, slot=facts.slot, held_minutes=held,
                                 closures=facts.closures)


def _mismatch(
    day: dt.date, period: Period | None, code: str, control: str,
    decision: Decision, shadow: Decision,
) -> Mismatch:
    count, minutes = (shadow, decision) if control == "dynamic" else (decision, shadow)
    return Mismatch(
        day=day, period=period, service=code, control=control,
        control_allowed=decision.allowed, shadow_allowed=shadow.allowed,
        control_reason=decision.reason.value, shadow_reason=shadow.reason.value,
        held_count=count.held, daily_limit=count.capacity,
        held_minutes=minutes.held, capacity_minutes=minutes.capacity,
        requested_minutes=minutes.requested,
    )


def observe_check(
    store: Store, day: dt.date, service: str, period: Period | None, *,
    dynamic: bool, decision: Decision, sampled: bool | None = None,
) -> None:
    """Shadow an availability check in this process's counters only (one in
    :data:`CHECK_SAMPLE`); never raises. ``sampled``: the caller drew the sample
    already (``store.shadow.sampled(CHECK_SAMPLE)``, before its round trip — the
    check's code after the reply runs on cold caches); None: drawn here."""
    try:
        if sampled is None:
            sampled = store.shadow.sampled(CHECK_SAMPLE)
        if not sampled or not _active(store):
            return  # the sample first: the cheapest test, and false 19 times in 20
        control = "dynamic" if dynamic else "legacy"
        if decision.reason in (Reason.UNKNOWN_SERVICE, Reason.NOT_YET_BOOKABLE):
            return  # nothing either rule could book
        if dynamic:
            daily = store.daily_facts(day, service)
            shadow = check_daily_limit(limit=daily.limit, held_count=daily.held_count)
        else:
            if period is None:
                store.shadow.count("check", control, NOT_SHADOWABLE)
                return
            facts = store.period_facts(day, period, service)
            shadow = check_period_capacity(service=facts.service, slot=facts.slot,
                                           held_minutes=facts.held_minutes,
                                           closures=facts.closures)
        store.shadow.count("check", control, agreement(decision.allowed, shadow.allowed).value)
    except Exception as exc:
        store.shadow.failed()
        _LOG.warning("shadow check failed (%s)", type(exc).__name__)


@attrs.frozen(kw_only=True)
class ShadowReport:
    """``slotcap shadow report``: the shadowed bookings of booked dates
    ``start``..``end`` by (control, agreement), and the stored mismatches."""

    start: dt.date
    end: dt.date
    by_kind: dict[tuple[str, str], int]
    mismatches: tuple[Mismatch, ...]

    @property
    def decisions(self) -> int:
        """Bookings shadowed (the not-shadowable ones excluded)."""
        return sum(n for (_, kind), n in self.by_kind.items() if kind != NOT_SHADOWABLE)

    @property
    def not_shadowable(self) -> int:
        return sum(n for (_, kind), n in self.by_kind.items() if kind == NOT_SHADOWABLE)

    def groups(self) -> list[tuple[str, str | None, str, str, int]]:
        """Mismatches per (date, period, service, kind), in that order."""
        counts: dict[tuple[str, str | None, str, str], int] = {}
        for m in self.mismatches:
            key = (m.day.isoformat(), None if m.period is None else m.period.value,
                   m.service, m.kind.value)
            counts[key] = counts.get(key, 0) + 1
        return [(*key, n) for key, n in sorted(counts.items(), key=lambda kv: (
            kv[0][0], kv[0][1] or "", kv[0][2], kv[0][3]))]

    def to_dict(self) -> dict[str, object]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "decisions": self.decisions,
            "not_shadowable": self.not_shadowable,
            "by_kind": [{"control": c, "agreement": a, "count": n}
                        for (c, a), n in sorted(self.by_kind.items())],
            "mismatches": [m.to_dict() for m in self.mismatches],
            "groups": [{"date": d, "period": p, "service": s, "kind": k, "count": n}
                       for d, p, s, k, n in self.groups()],
        }


def purge_expired(store: Store, now: dt.datetime) -> int:
    """Delete shadow records older than :data:`RETENTION` (``now`` aware); never raises
    (the server's purge round calls it beside the idempotency keys')."""
    try:
        return store.purge_shadow(now.astimezone(dt.UTC).replace(tzinfo=None) - RETENTION)
    except Exception as exc:
        _LOG.warning("shadow purge failed (%s)", type(exc).__name__)
        return 0


def shadow_report(store: Store, start: dt.date, end: dt.date) -> ShadowReport:
    """The shadow report of booked dates ``start``..``end`` (two queries)."""
    totals = store.shadow_totals(start, end)
    return ShadowReport(start=start, end=end, by_kind=dict(totals.decisions),
                        mismatches=totals.mismatches)


def shadow_glance(store: Store, now: dt.datetime, today: dt.date,
                  hours: int = 24) -> dict[str, object] | None:
    """``slotcap monitor``'s shadow line: mismatches decided in the last ``hours`` and
    the next date (today on, 5 weeks) whose held minutes are over its capacity under the
    minutes rule; None where the shadow tables or the minutes rule are not there."""
    from slotcap.usecases.whatif import whatif

    if store.schema_state is not SchemaState.EXPANDED:
        return None
    since = now.astimezone(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=hours)
    totals = store.shadow_totals(today - RETENTION, today + dt.timedelta(days=400))
    recent = sum(1 for m in totals.mismatches
                 if m.decided_at is not None and m.decided_at >= since)
    over = whatif(store, "dynamic", today, today + dt.timedelta(days=35), names=False).over
    return {"hours": hours, "mismatches": recent,
            "next_over_date": over[0].day.isoformat() if over else None}
