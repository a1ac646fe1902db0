"""The migration's SQL: every DDL statement builder, the names they use, the backfill's
statements, and PostgreSQL's lock policy (short ``lock_timeout``, retries with
backoff, ``CONCURRENTLY`` index builds). No module here decides *when* a statement
runs: that is :mod:`slotcap.migration.transitions`.

``names`` (identifiers, column lists), ``lock_policy`` (short lock timeouts, retries,
session settings), ``postgres`` (CONCURRENTLY index builds, NOT NULL without a scan),
``phase1`` / ``phase2`` / ``phase4`` (what each phase adds or removes), ``rollback``
and ``archive`` (what undoes phase 4 and what it keeps), ``backfill`` (the backfill's
reads and writes).
"""

__all__: list[str] = []
