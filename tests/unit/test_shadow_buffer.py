"""The SQL stores' buffer of shadow decision counts (#21, the shadow's cost): counts are
summed per key and written in batches — on the size threshold, on the timer, on
``flush()`` and ``close()`` — and a failed batch is kept, counted and logged without the
keys (no patient data is in them, but nothing of a booking is logged either)."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies.budget import examples

from slotcap.adapters.sql.shadow_buffer import Key, ShadowBuffer

DAY = dt.date(2025, 12, 1)
AGREE: Key = (DAY, "WRINKLE_BOTOX", "legacy", "agree")
OTHER: Key = (DAY + dt.timedelta(days=1), "SKIN_CARE", "dynamic", "not_shadowable")


class Sink:
    def __init__(self) -> None:
        self.batches: list[dict[Key, int]] = []
        self.fail = False
        self.called = threading.Event()

    def __call__(self, counts: Mapping[Key, int]) -> None:
        self.called.set()
        if self.fail:
            raise OSError("the database is away")
        self.batches.append(dict(counts))

    def total(self) -> int:
        return sum(sum(b.values()) for b in self.batches)


def _until(done: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_flush_writes_one_summed_count_per_key() -> None:
    sink = Sink()
    buffer = ShadowBuffer(sink, interval=60)
    buffer.add([AGREE, AGREE, OTHER])
    buffer.add([AGREE])
    assert buffer.waiting == 4
    assert buffer.flush() == 4
    assert sink.batches == [{AGREE: 3, OTHER: 1}]
    assert buffer.flush() == 0 and buffer.waiting == 0
    buffer.close()


def test_the_size_threshold_wakes_the_flusher() -> None:
    sink = Sink()
    buffer = ShadowBuffer(sink, interval=60, size=3)
    buffer.add([AGREE, AGREE])
    time.sleep(0.05)
    assert sink.batches == []
    buffer.add([OTHER])
    assert _until(lambda: sink.total() == 3)
    buffer.close()


def test_the_timer_flushes() -> None:
    sink = Sink()
    buffer = ShadowBuffer(sink, interval=0.02)
    buffer.add([AGREE])
    assert _until(lambda: sink.total() == 1)
    buffer.close()


def test_a_failed_batch_is_kept_counted_and_logged_without_its_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink, failures = Sink(), []
    buffer = ShadowBuffer(sink, on_failure=lambda: failures.append(1), interval=60)
    buffer.add([AGREE, OTHER])
    sink.fail = True
    with caplog.at_level(logging.WARNING, logger="slotcap.shadow"):
        assert buffer.flush() == 0
    assert failures == [1] and buffer.waiting == 2
    assert "2 decisions kept" in caplog.text
    assert "WRINKLE_BOTOX" not in caplog.text and DAY.isoformat() not in caplog.text
    sink.fail = False
    buffer.add([AGREE])
    assert buffer.flush() == 3
    assert sink.batches == [{AGREE: 2, OTHER: 1}]
    buffer.close()


def test_close_writes_what_waits_and_stops_the_thread() -> None:
    sink = Sink()
    buffer = ShadowBuffer(sink, interval=60)
    buffer.add([AGREE])
    thread = buffer._thread
    assert thread is not None and thread.is_alive()
    buffer.close()
    assert sink.total() == 1
    assert not thread.is_alive()
    buffer.add([AGREE])  # after close: kept, no thread started
    assert buffer._thread is None and buffer.waiting == 1


def test_an_unclosed_owner_is_collected_and_its_thread_ends() -> None:
    seen: list[int] = []

    class Owner:
        def __init__(self) -> None:
            self.buffer = ShadowBuffer(self.write, interval=0.02)

        def write(self, counts: Mapping[Key, int]) -> None:
            seen.append(sum(counts.values()))

    owner = Owner()
    owner.buffer.add([AGREE])
    thread = owner.buffer._thread
    assert thread is not None
    assert _until(lambda: seen == [1])
    del owner
    gc.collect()
    assert _until(lambda: not thread.is_alive())


@settings(max_examples=examples(1), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "flush", "fail"]),
                          st.lists(st.sampled_from([AGREE, OTHER]), max_size=5)),
                max_size=30))
def test_nothing_counted_is_lost_or_doubled(steps: list[tuple[str, list[Key]]]) -> None:
    sink = Sink()
    buffer = ShadowBuffer(sink, interval=60, size=10**9)
    added = 0
    for what, keys in steps:
        if what == "add":
            buffer.add(keys)
            added += len(keys)
        else:
            sink.fail = what == "fail"
            buffer.flush()
    sink.fail = False
    assert sink.total() + buffer.waiting == added
    buffer.close()
    assert sink.total() == added and buffer.waiting == 0


def test_many_threads_adding_while_it_flushes() -> None:
    sink = Sink()
    buffer = ShadowBuffer(sink, interval=0.001, size=7)

    def work() -> None:
        for i in range(500):
            buffer.add([AGREE if i % 3 else OTHER])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    buffer.close()
    assert sink.total() == 8 * 500
    assert len(sink.batches) > 1
