"""The HTTP adapter: the web app (Starlette), its /metrics and the operator page."""
