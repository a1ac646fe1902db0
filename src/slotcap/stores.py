"""``open_store(url)``: kept at this import path; it lives in the composition root."""

from __future__ import annotations

from slotcap.bootstrap import open_store

__all__ = ["open_store"]
