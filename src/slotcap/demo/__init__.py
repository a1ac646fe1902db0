"""Demo data for ``slotcap demo`` and the benchmarks (not part of the migration)."""

__all__: list[str] = []
