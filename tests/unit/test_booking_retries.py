"""``book()`` rides through a busy store and a schema that moves under it.

A store that turns a booking away with ``StoreBusy`` a few times is retried within its
``busy_budget``; a refusal for the schema state is retried on the state the store sees
once it has re-read it, at most ``SCHEMA_CHANGES`` times and never past the budget; a
refusal the schema truly means comes out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest
from tests.builders import ON_TODAY, request

from slotcap.adapters.memory import MemoryStore, _MemoryBooking
from slotcap.domain.model import Period
from slotcap.errors import SchemaStateError, StoreBusy
from slotcap.ports import SchemaState
from slotcap.usecases import book
from slotcap.usecases.attempts import SCHEMA_CHANGES


class BusyFor(MemoryStore):
    """Turns the first ``busy`` bookings away, as a store meeting a lock wait does."""

    def __init__(self, busy: int, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.busy = busy
        self.attempts = 0

    @contextlib.contextmanager
    def booking(self, *args: Any, **kwargs: Any) -> Iterator[_MemoryBooking]:
        self.attempts += 1
        if self.attempts <= self.busy:
            raise StoreBusy("lock wait")
        with super().booking(*args, **kwargs) as tx:
            yield tx


class Flapping(MemoryStore):
    """The schema moves under every attempt: each one is refused for the state it
    started from, and the store has already moved to the other (phase 4 applied,
    rolled back, applied again, …). ``slow``: each attempt takes that long."""

    def __init__(self, busy_budget: float = 2.0, slow: float = 0.0) -> None:
        super().__init__(schema_state=SchemaState.EXPANDED, busy_budget=busy_budget)
        self.attempts = 0
        self.slow = slow

    def booking(self, *args: Any, **kwargs: Any) -> NoReturn:
        self.attempts += 1
        time.sleep(self.slow)
        was = self.schema_state
        self.set_schema_state(SchemaState.CONTRACTED if was is SchemaState.EXPANDED
                              else SchemaState.EXPANDED)
        raise SchemaStateError(f"refused for {was.value}")


class MovesOnRefresh(MemoryStore):
    """A store whose cached state is stale: the real one shows on a re-read."""

    def __init__(self, cached: SchemaState, real: SchemaState) -> None:
        super().__init__(schema_state=cached)
        self.real = real
        self.refreshes = 0

    def refresh_schema_state(self, *, max_age: float = 0.0) -> SchemaState:
        self.refreshes += 1
        self.set_schema_state(self.real)
        return self.real


DYNAMIC = request(service="WRINKLE_BOTOX", period="AFTERNOON", preferred_time=None)


def test_a_busy_store_is_retried_within_its_budget() -> None:
    store = BusyFor(3, busy_budget=2.0)
    assert book(store, DYNAMIC, dynamic=True, clock=ON_TODAY).period is Period.AFTERNOON
    assert store.attempts == 4


def test_busy_past_the_budget_comes_out_after_about_the_budget() -> None:
    store = BusyFor(10**9, busy_budget=0.3)
    started = time.monotonic()
    with pytest.raises(StoreBusy):
        book(store, DYNAMIC, dynamic=True, clock=ON_TODAY)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert store.attempts > 2  # jittered retries, not one long wait


def test_a_stale_legacy_state_is_re_read_before_refusing_the_minutes_rule() -> None:
    store = MovesOnRefresh(SchemaState.LEGACY, SchemaState.EXPANDED)
    assert book(store, DYNAMIC, dynamic=True, clock=ON_TODAY).period is Period.AFTERNOON
    assert store.refreshes == 1


def test_a_refusal_the_schema_means_comes_out() -> None:
    store = MovesOnRefresh(SchemaState.LEGACY, SchemaState.LEGACY)
    with pytest.raises(SchemaStateError):
        book(store, DYNAMIC, dynamic=True, clock=ON_TODAY)
    store = MovesOnRefresh(SchemaState.CONTRACTED, SchemaState.CONTRACTED)
    with pytest.raises(SchemaStateError):
        book(store, request(period=None), dynamic=False, clock=ON_TODAY)


def test_a_flapping_schema_is_followed_the_stated_number_of_times() -> None:
    store = Flapping()
    started = time.monotonic()
    with pytest.raises(SchemaStateError):
        book(store, DYNAMIC, dynamic=True, clock=ON_TODAY)
    # The first attempt, then one per change followed (docs/stores.md).
    assert store.attempts == SCHEMA_CHANGES + 1
    assert time.monotonic() - started < 1.0  # followed at once: no budget spent


def test_no_schema_change_is_followed_past_the_budget() -> None:
    store = Flapping(busy_budget=0.05, slow=0.06)
    with pytest.raises(SchemaStateError):
        book(store, DYNAMIC, dynamic=True, clock=ON_TODAY)
    assert store.attempts == 1
