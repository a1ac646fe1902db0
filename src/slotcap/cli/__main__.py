"""``python -m slotcap.cli``: the same as the ``slotcap`` console script."""

from slotcap.cli.main import console

console()
