"""Shadow decisions (github/scientist's "control and candidate"): while both rules can
run (phases 1 and 2 of the schema, the rollout's phase 3), the rule the rollout chose
(the *control*) answers every booking and check, and the other rule (the *shadow*) is
evaluated on the same facts beside it. Pure values and the comparison here; the use
case is :mod:`slotcap.usecases.shadow`.
"""

from __future__ import annotations

import collections
import datetime as dt
import enum
import itertools
import threading
import time

import attrs

from slotcap.domain.model import Period

__all__ = [
    "AGREEMENTS",
    "CONTROLS",
    "NOT_SHADOWABLE",
    "Agreement",
    "HeldLoad",
    "Mismatch",
    "ShadowCounters",
    "ShadowTotals",
    "agreement",
]

#: The control rule's names as the report, the table and ``/metrics`` spell them.
CONTROLS = ("legacy", "dynamic")
#: A legacy booking whose preferred time reads to no period: the minutes rule cannot
#: be asked (counted apart, never a mismatch).
NOT_SHADOWABLE = "not_shadowable"


class Agreement(enum.StrEnum):
    """How the two rules' answers compare."""

    AGREE = "agree"
    #: The control allowed, the shadow would have refused.
    CONTROL_ONLY = "control_only"
    #: The control refused, the shadow would have allowed.
    SHADOW_ONLY = "shadow_only"


AGREEMENTS = tuple(a.value for a in Agreement)


def agreement(control_allowed: bool, shadow_allowed: bool) -> Agreement:
    """The comparison of one decision: agree, control_only or shadow_only."""
    if control_allowed == shadow_allowed:
        return Agreement.AGREE
    return Agreement.CONTROL_ONLY if control_allowed else Agreement.SHADOW_ONLY


@attrs.frozen(kw_only=True)
class Mismatch:
    """One booking the two rules decided differently: no patient data, only the date,
    the period (None: a legacy control whose time had no period — never stored as a
    mismatch, see :data:`NOT_SHADOWABLE`), the service, who decided and both rules'
    figures (count/limit; held/capacity/requested minutes) and reasons."""

    day: dt.date
    period: Period | None
    service: str
    control: str
    control_allowed: bool
    shadow_allowed: bool
    control_reason: str
    shadow_reason: str
    held_count: int | None = None
    daily_limit: int | None = None
    held_minutes: int | None = None
    capacity_minutes: int | None = None
    requested_minutes: int | None = None
    decided_at: dt.datetime | None = None

    @property
    def kind(self) -> Agreement:
        return agreement(self.control_allowed, self.shadow_allowed)

    def to_dict(self) -> dict[str, object]:
        return {
            "date": self.day.isoformat(),
            "period": None if self.period is None else self.period.value,
            "service": self.service,
            "control": self.control,
            "control_allowed": self.control_allowed,
            "shadow_allowed": self.shadow_allowed,
            "kind": self.kind.value,
            "control_reason": self.control_reason,
            "shadow_reason": self.shadow_reason,
            "held_count": self.held_count,
            "daily_limit": self.daily_limit,
            "held_minutes": self.held_minutes,
            "capacity_minutes": self.capacity_minutes,
            "requested_minutes": self.requested_minutes,
            "decided_at": None if self.decided_at is None else self.decided_at.isoformat(),
        }


@attrs.frozen(kw_only=True)
class ShadowTotals:
    """``Store.shadow_totals``: shadowed bookings per (control, agreement) and the
    stored mismatches (by date, period, service)."""

    decisions: dict[tuple[str, str], int]
    mismatches: tuple[Mismatch, ...]


@attrs.frozen(kw_only=True)
class HeldLoad:
    """Held reservations of one (date, period, service): ``rows`` of them, ``minutes``
    the sum of those with a duration, ``unsized`` how many lack one (they hold their
    service's duration + buffer: :func:`slotcap.domain.rules.minutes_for`). ``period``
    None: not read yet (holds in both periods); ``service`` the legacy code, or the
    code of ``service_id`` after phase 4."""

    day: dt.date
    period: Period | None
    service: str | None
    service_id: str | None
    rows: int
    minutes: int
    unsized: int


class ShadowCounters:
    """A store's in-process shadow switch and counters (``/metrics``), thread-safe.

    ``counts`` is keyed by (what, control, agreement): ``what`` is ``booking`` or
    ``check``; ``agreement`` one of :data:`AGREEMENTS` or :data:`NOT_SHADOWABLE`.
    ``failures`` counts shadow evaluations or records that failed (never raised)."""

    #: Seconds the shadow stays off after a failure that aborted a booking's transaction.
    TRIP_SECONDS = 60.0

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._tripped_until = -1.0
        self._lock = threading.Lock()
        self._counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._failures = 0
        self._checks = itertools.count()  # next() is atomic: no lock on every check

    def count(self, what: str, control: str, outcome: str) -> None:
        with self._lock:
            self._counts[(what, control, outcome)] += 1

    def failed(self) -> None:
        with self._lock:
            self._failures += 1

    def sampled(self, every: int) -> bool:
        """Whether this call is the one in ``every`` to shadow (the first, then every
        ``every``-th)."""
        return next(self._checks) % every == 0

    def trip(self) -> None:
        """Off for :attr:`TRIP_SECONDS` (a circuit breaker)."""
        self._tripped_until = time.monotonic() + self.TRIP_SECONDS

    @property
    def active(self) -> bool:
        """Switched on and not tripped."""
        return self.enabled and time.monotonic() >= self._tripped_until

    @property
    def failures(self) -> int:
        with self._lock:
            return self._failures

    def snapshot(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self._counts)
