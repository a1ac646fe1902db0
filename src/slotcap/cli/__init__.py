"""The ``slotcap`` command line: a thin shell over the Python APIs (see docs/cli.md)."""

from slotcap.cli.main import main

__all__ = ["main"]
