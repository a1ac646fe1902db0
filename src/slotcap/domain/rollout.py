"""Sticky percentage rollout of the dynamic (minutes) rule, compatible with Unleash.

The plan's ``Math.random() * 100 < pct`` re-rolls on every request, so one patient can
be checked by the minutes rule and booked by the count rule a second later. Here a
subject key (a session id, a phone number) always lands in the same bucket:

    bucket = murmur3_32(f"{group}:{key}", seed=0) % 100 + 1      (1 … 100)
    enabled = bucket <= percentage

which is Unleash's ``normalizedHash`` for gradual rollout, so a rollout configured
there and here puts the same keys in. Raising the percentage never drops a key that
was already in: the bucket does not move, only the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from slotcap.errors import ConfigurationError

__all__ = ["DEFAULT_GROUP", "Rollout", "bucket", "murmur3_32"]

#: The group name hashed with each key. Changing it reshuffles every bucket.
DEFAULT_GROUP = "dynamic-services"

_FLAG_VAR = "USE_DYNAMIC_SERVICES"
_PERCENT_VAR = "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})

_M32 = 0xFFFFFFFF


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit, unsigned — the hash Unleash's SDKs use."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & _M32
    full = len(data) - len(data) % 4
    for i in range(0, full, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & _M32
        k = _rotl32(k, 15)
        k = (k * c2) & _M32
        h ^= k
        h = _rotl32(h, 13)
        h = (h * 5 + 0xE6546B64) & _M32
    tail = data[full:]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * c1) & _M32
        k = _rotl32(k, 15)
        k = (k * c2) & _M32
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def bucket(key: str, group: str = DEFAULT_GROUP) -> int:
    """Unleash's normalised bucket of ``key`` in ``group``: 1 … 100."""
    return murmur3_32(f"{group}:{key}".encode()) % 100 + 1


def _parse_flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{_FLAG_VAR} must be true or false, got {raw!r}")


def _parse_percentage(raw: str) -> int:
    value = raw.strip()
    if value == "":
        return 0
    try:
        number = int(value, 10)
    except ValueError:
        raise ConfigurationError(
            f"{_PERCENT_VAR} must be a whole number from 0 to 100, got {raw!r}"
        ) from None
    if not 0 <= number <= 100:
        raise ConfigurationError(f"{_PERCENT_VAR} must be from 0 to 100, got {raw!r}")
    return number


def _check_percentage(_instance: object, _attribute: object, value: int) -> None:
    if not 0 <= value <= 100:
        raise ValueError(f"percentage must be from 0 to 100, got {value}")


@attrs.frozen(kw_only=True)
class Rollout:
    """Which requests use the dynamic (minutes) rule.

    ``enabled`` (``USE_DYNAMIC_SERVICES=true``) sends everyone; otherwise the keys whose
    bucket is within ``percentage`` (``DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE``).
    """

    enabled: bool = False
    percentage: int = attrs.field(default=0, validator=_check_percentage)
    group: str = DEFAULT_GROUP

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, group: str = DEFAULT_GROUP) -> Rollout:
        """Read the two variables; anything unreadable raises ``ConfigurationError``
        naming the variable and the value (never a silent 0)."""
        return cls(
            enabled=_parse_flag(env.get(_FLAG_VAR, "false")),
            percentage=_parse_percentage(env.get(_PERCENT_VAR, "0")),
            group=group,
        )

    def uses_dynamic(self, subject_key: str) -> bool:
        """Sticky per key: the same key gets the same answer at the same percentage."""
        if self.enabled:
            return True
        if self.percentage <= 0:
            return False
        return bucket(subject_key, self.group) <= self.percentage
