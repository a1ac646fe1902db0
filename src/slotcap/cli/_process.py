"""What the ``slotcap`` process sets for itself, once, before :func:`~slotcap.cli.main.main`
runs: the console script (and ``python -m slotcap.cli``) calls :func:`console_process`;
``main()`` itself leaves the interpreter's streams and logging as it found them, so a
program (or a test) may call it again and again in one process.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["DEBUG_ENV", "console_process", "quiet_driver_logs", "tolerant_streams"]

#: ``slotcap.sql.driver_errors.DEBUG_ENV``, spelled here so that the top-level help
#: imports no store code.
DEBUG_ENV = "SLOTCAP_DEBUG"


def quiet_driver_logs() -> None:
    """psycopg logs warnings such as "error ignored terminating <Pipeline …>" after a
    failed statement; with no handler configured, logging's last resort would print
    them raw on stderr beside slotcap's one-line error. Shown only under
    ``SLOTCAP_DEBUG``. Idempotent: a second call adds nothing."""
    if os.environ.get(DEBUG_ENV):
        return
    driver = logging.getLogger("psycopg")
    if not any(isinstance(h, logging.NullHandler) for h in driver.handlers):
        driver.addHandler(logging.NullHandler())
    driver.propagate = False


def tolerant_streams() -> None:
    """A C/POSIX locale gives ASCII streams; Korean output must degrade, not crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def console_process() -> None:
    """The process-wide settings of the ``slotcap`` command, made once at its start."""
    tolerant_streams()
    quiet_driver_logs()
