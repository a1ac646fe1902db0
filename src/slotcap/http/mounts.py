"""The operator's routes mounted beside the API: ``GET /metrics`` (Prometheus) and the
operator page at ``/``, with the metrics every API request is counted in
(:class:`~slotcap.http.metrics.ServerMetrics`, one per server).

Both read the database in Starlette's worker threads (the store's calls block); the
metrics' database figures are shared with the page and re-read at most every
``ServerMetrics.DB_MAX_AGE`` seconds.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from slotcap.bootstrap import App
from slotcap.http.app import Observer
from slotcap.http.metrics import ServerMetrics
from slotcap.http.page import render_operator_page

__all__ = ["operator_routes"]


def operator_routes(app: App) -> tuple[Observer | None, list[Route]]:
    """The metrics sink and the routes ``/metrics`` and ``/`` for ``app``."""
    metrics = ServerMetrics()

    async def scrape(_request: Request) -> Response:
        body, content_type = await run_in_threadpool(
            metrics.render, app.store, app.rollout, app.clock.now()
        )
        return Response(body, headers={"Content-Type": content_type})

    async def page(_request: Request) -> Response:
        text = await run_in_threadpool(
            lambda: render_operator_page(
                app.store, rollout=app.rollout, clock=app.clock, metrics=metrics,
                migration=app.migration,
            )
        )
        # The page runs no script and embeds nothing: say so to the browser.
        return HTMLResponse(text, headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "Cache-Control": "no-store",
        })

    return metrics, [
        Route("/metrics", scrape, methods=["GET"]),
        Route("/", page, methods=["GET"]),
    ]
