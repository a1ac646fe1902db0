"""How many examples a property test runs, derived from the Hypothesis profile.

The profiles (``dev``, ``ci``, ``fast``) are registered in ``tests/conftest.py``: ``ci``
under ``CI=true``, ``fast`` under ``scripts/test --fast`` (``pytest --fast``), ``dev``
otherwise; ``SLOTCAP_HYPOTHESIS_PROFILE`` names one explicitly. A test that needs more
or fewer examples than the profile's ``max_examples`` says how many times as many, and
the profile decides the number: ``settings(max_examples=examples(3))`` is 300 examples
under ``dev`` and ``ci`` (100 each) and a fraction of that under ``fast``. No test
writes a literal ``max_examples``.
"""

from __future__ import annotations

from hypothesis import settings

__all__ = ["examples"]


def examples(times: float) -> int:
    """``times`` × the current profile's ``max_examples`` (at least one)."""
    profile = settings.default
    assert profile is not None
    return max(1, round(profile.max_examples * times))
