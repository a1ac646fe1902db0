"""Sticky, Unleash-compatible percentage rollout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotcap import ConfigurationError, Rollout
from slotcap.domain.rollout import bucket, murmur3_32


@pytest.mark.parametrize(
    ("key", "expected"),
    [("user-1", 95), ("user-2", 96), ("user-7", 81), ("user-42", 87), ("alice", 32), ("bob", 76)],
)
def test_unleash_published_buckets_for_group_demo(key: str, expected: int) -> None:
    assert bucket(key, "demo") == expected


def test_murmur3_reference_vectors() -> None:
    # The canonical MurmurHash3_x86_32 test vectors (SMHasher / mmh3).
    assert murmur3_32(b"") == 0
    assert murmur3_32(b"", seed=1) == 0x514E28B7
    assert murmur3_32(b"hello") == 0x248BFA47
    assert murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723


@given(st.text(), st.integers(0, 100), st.integers(0, 100))
def test_raising_the_percentage_never_drops_a_key(key: str, low: int, high: int) -> None:
    low, high = sorted((low, high))
    if Rollout(percentage=low).uses_dynamic(key):
        assert Rollout(percentage=high).uses_dynamic(key)


@given(st.text(), st.integers(0, 100))
def test_sticky_per_key(key: str, percentage: int) -> None:
    rollout = Rollout(percentage=percentage)
    assert rollout.uses_dynamic(key) == rollout.uses_dynamic(key)
    assert 1 <= bucket(key) <= 100


def test_bounds_and_global_flag() -> None:
    assert not Rollout(percentage=0).uses_dynamic("anyone")
    assert Rollout(percentage=100).uses_dynamic("anyone")
    assert Rollout(enabled=True, percentage=0).uses_dynamic("anyone")


def test_from_env_reads_both_variables() -> None:
    rollout = Rollout.from_env(
        {"USE_DYNAMIC_SERVICES": "false", "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "25"}
    )
    assert rollout == Rollout(enabled=False, percentage=25)
    assert Rollout.from_env({}) == Rollout(enabled=False, percentage=0)
    assert Rollout.from_env({"USE_DYNAMIC_SERVICES": "TRUE"}).enabled


@pytest.mark.parametrize("value", ["abc", "150", "-1", "2.5", "10%"])
def test_unreadable_percentage_names_the_variable_and_value(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Rollout.from_env({"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": value})
    assert "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE" in str(caught.value)
    assert repr(value) in str(caught.value)
    assert caught.value.code == "configuration"


def test_unreadable_flag_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"USE_DYNAMIC_SERVICES.*'maybe'"):
        Rollout.from_env({"USE_DYNAMIC_SERVICES": "maybe"})


@given(st.integers(0, 100))
def test_share_of_keys_tracks_the_percentage(percentage: int) -> None:
    keys = [f"session-{i}" for i in range(2000)]
    share = sum(Rollout(percentage=percentage).uses_dynamic(k) for k in keys) / len(keys)
    assert abs(share - percentage / 100) < 0.05
