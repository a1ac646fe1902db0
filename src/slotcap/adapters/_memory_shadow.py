"""The memory store's shadow records (``Store.shadow_totals``, ``purge_shadow``,
``held_load``) and its booking scope's ``daily_facts`` / ``record_shadow``: in their
own module so that ``memory.py`` stays short."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

import attrs

from slotcap.domain.model import Period, Reservation, Service
from slotcap.domain.schema_state import SchemaState
from slotcap.domain.shadow import HeldLoad, Mismatch, ShadowCounters, ShadowTotals
from slotcap.ports import DailyFacts

if TYPE_CHECKING:
    from slotcap.adapters.memory import MemoryStore

__all__ = ["MemoryShadow", "MemoryShadowTx"]

#: (booked date, service, control, agreement)
_Key = tuple[dt.date, str, str, str]


class MemoryShadow:
    """Mixed into the memory store."""

    _lock: threading.RLock
    _state: SchemaState
    _reservations: dict[str, Reservation]
    _held: dict[dt.date, dict[str, None]]
    _services_by_id: dict[str, Service]

    def _shadow_init(self, enabled: bool) -> None:
        self._shadow = ShadowCounters(enabled=enabled)
        self._shadow_counts: dict[_Key, tuple[int, dt.datetime]] = {}
        self._mismatches: list[Mismatch] = []

    @property
    def shadow(self) -> ShadowCounters:
        return self._shadow

    def shadow_totals(self, start: dt.date, end: dt.date) -> ShadowTotals:
        with self._lock:
            decisions: dict[tuple[str, str], int] = {}
            for (day, _, control, outcome), (n, _) in self._shadow_counts.items():
                if start <= day <= end:
                    decisions[(control, outcome)] = decisions.get((control, outcome), 0) + n
            found = tuple(m for m in self._mismatches if start <= m.day <= end)
        return ShadowTotals(decisions=decisions, mismatches=found)

    def flush_shadow(self) -> int:
        return 0  # counted in the booking's scope: nothing waits

    def purge_shadow(self, before: dt.datetime) -> int:
        with self._lock:
            old = [k for k, (_, at) in self._shadow_counts.items() if at < before]
            for key in old:
                del self._shadow_counts[key]
            kept = [m for m in self._mismatches
                    if m.decided_at is None or m.decided_at >= before]
            gone = len(self._mismatches) - len(kept)
            self._mismatches[:] = kept
            return len(old) + gone

    def held_load(self, start: dt.date, end: dt.date) -> list[HeldLoad]:
        groups: dict[tuple[dt.date, Period | None, str | None, str | None], list[int]] = {}
        with self._lock:
            for day, ids in self._held.items():
                if not start <= day <= end:
                    continue
                for rid in ids:
                    r = self._reservations[rid]
                    code = r.service
                    if code is None and r.service_id is not None:
                        found = self._services_by_id.get(r.service_id)
                        code = None if found is None else found.code
                    entry = groups.setdefault((day, r.period, code, r.service_id), [0, 0, 0])
                    entry[0] += 1
                    if r.estimated_duration is None:
                        entry[2] += 1
                    else:
                        entry[1] += r.estimated_duration
        return [HeldLoad(day=day, period=period, service=code, service_id=sid,
                         rows=n, minutes=m, unsized=u)
                for (day, period, code, sid), (n, m, u) in sorted(
                    groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), str(kv[0][2])))]


class MemoryShadowTx:
    """Mixed into the memory store's booking scope (under the store's one lock)."""

    _store: MemoryStore
    _shadow_done: list[tuple[_Key, Mismatch | None]]

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        return self._store.daily_facts(day, service_code)

    def usable(self) -> bool:
        return True  # nothing here can abort the scope

    def record_shadow(self, day: dt.date, service_code: str, control: str, outcome: str,
                      mismatch: Mismatch | None) -> None:
        store = self._store
        at = store._clock.now().replace(tzinfo=None)
        key = (day, service_code, control, outcome)
        n, _ = store._shadow_counts.get(key, (0, at))
        store._shadow_counts[key] = (n + 1, at)
        if mismatch is not None:
            mismatch = attrs.evolve(mismatch, decided_at=at)
            store._mismatches.append(mismatch)
        self._shadow_done.append((key, mismatch))

    def undo_shadow(self) -> None:
        """Take back this scope's records (the booking rolled back)."""
        store = self._store
        for key, mismatch in reversed(self._shadow_done):
            n, at = store._shadow_counts[key]
            if n <= 1:
                del store._shadow_counts[key]
            else:
                store._shadow_counts[key] = (n - 1, at)
            if mismatch is not None:
                store._mismatches.remove(mismatch)
        self._shadow_done.clear()
