"""The memory store's booking scope: the duplicate rule's facts and the
``Idempotency-Key`` records (kept in its own module so that ``memory.py`` stays short).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

from slotcap.errors import IdempotencyKeyReused
from slotcap.ports import IdempotencyRecord

if TYPE_CHECKING:
    from slotcap.adapters.memory import MemoryStore

__all__ = ["MemoryKeyPurge", "MemoryKeysAndPatients"]


class MemoryKeyPurge:
    """The memory store's ``purge_idempotency_keys``."""

    _lock: threading.RLock
    _idempotency: dict[str, IdempotencyRecord]

    def prepare_idempotency(self) -> None:
        """Nothing to create."""

    def purge_idempotency_keys(self, before: dt.datetime) -> int:
        with self._lock:
            old = [k for k, r in self._idempotency.items() if r.created_at < before]
            for key in old:
                del self._idempotency[key]
            return len(old)


class MemoryKeysAndPatients:
    """Mixed into the memory store's booking transaction (which runs under the
    store's one lock, so a read here sees every committed booking and key)."""

    _store: MemoryStore
    _saved_keys: list[tuple[str, IdempotencyRecord | None]]

    def held_patients(self, day: dt.date, service_code: str) -> list[tuple[str, str]]:
        store = self._store
        by_id = store._services_by_id
        found = []
        for r in store._held_on(day):
            service = by_id.get(r.service_id) if r.service_id is not None else None
            code = r.service if r.service is not None else getattr(service, "code", None)
            if code == service_code:
                found.append((r.patient_name, r.phone))
        return found

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self._store._idempotency.get(key)

    def save_idempotency(self, record: IdempotencyRecord, *, replace: bool = False) -> None:
        saved = self._store._idempotency
        if record.key in saved and not replace:
            # Unreachable under the store's one lock; the SQL stores' contract, kept.
            raise IdempotencyKeyReused("this Idempotency-Key was saved meanwhile")
        self._saved_keys.append((record.key, saved.get(record.key)))
        saved[record.key] = record

    def undo_keys(self, saved: dict[str, IdempotencyRecord]) -> None:
        """Put back what this scope's saves replaced (the booking rolled back)."""
        for key, previous in reversed(self._saved_keys):
            if previous is None:
                saved.pop(key, None)
            else:
                saved[key] = previous
        self._saved_keys.clear()
