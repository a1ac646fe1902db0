"""The benchmarks' interleaving (benchmarks/_harness.py ``interleave``): every candidate
once per key, and — shuffled, the default — every candidate right after every other one,
so that what one call leaves in the caches does not always fall on the same neighbour."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable

import pytest
from benchmarks._harness import interleave


def _calls(order: str, keys: int) -> list[str]:
    seen: list[str] = []

    def candidate(name: str) -> Callable[[int], object]:
        return lambda _key: seen.append(name)

    interleave([(n, candidate(n)) for n in "abcd"], list(range(keys)), order=order)
    return seen


@pytest.mark.parametrize("order", ["shuffled", "cyclic"])
def test_every_candidate_runs_once_per_key(order: str) -> None:
    calls = _calls(order, 50)
    for key in range(50):
        assert sorted(calls[key * 4:key * 4 + 4]) == ["a", "b", "c", "d"]


def test_shuffled_puts_every_candidate_after_every_other() -> None:
    calls = _calls("shuffled", 400)
    follows = Counter(itertools.pairwise(calls))
    assert all(follows[p] > 40 for p in itertools.permutations("abcd", 2)), follows


def test_cyclic_keeps_each_candidate_behind_the_same_neighbour() -> None:
    # What the shuffle is for: rotated, "b" is always preceded by "a" within a key.
    calls = _calls("cyclic", 40)
    before_b = Counter(calls[i - 1] for i, c in enumerate(calls) if c == "b" and i % 4)
    assert before_b == Counter({"a": sum(before_b.values())})


def test_an_unknown_order_is_refused() -> None:
    with pytest.raises(ValueError, match="order"):
        interleave([("a", lambda _k: None)], [1], order="random")
