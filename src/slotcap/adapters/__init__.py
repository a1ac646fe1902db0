"""Storage adapters: every line of SQL lives here (and in ``slotcap.migration``)."""
