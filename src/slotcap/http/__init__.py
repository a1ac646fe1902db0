"""The optional HTTP adapter (``pip install 'slotcap[server]'``, ``slotcap serve``):
the plan's public reservation API over Starlette. The library's core never imports it.
"""

from slotcap.http.app import DEFAULT_MAX_BODY_BYTES, SUBJECT_HEADER, create_app

__all__ = ["DEFAULT_MAX_BODY_BYTES", "SUBJECT_HEADER", "create_app"]
