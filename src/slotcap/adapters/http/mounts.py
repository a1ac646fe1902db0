"""The operator's routes mounted beside the API: ``GET /metrics`` (Prometheus) and the
operator page at ``/``, with the metrics every API request is counted in.

PENDING the ``monitor`` branch (``adapters/http/metrics.py`` and ``page.py``): until it
is merged, ``slotcap serve`` mounts neither and counts nothing.
"""

from __future__ import annotations

from starlette.routing import Route

from slotcap.adapters.http.app import Observer
from slotcap.bootstrap import App

__all__ = ["operator_routes"]


def operator_routes(app: App) -> tuple[Observer | None, list[Route]]:
    """The metrics sink and the routes ``/metrics`` and ``/`` for ``app``."""
    del app
    return None, []
