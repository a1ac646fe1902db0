"""The migration toolkit: phases 1–4 with rollbacks, validation, and status.

``migrate(url, to="phase1")`` expands a legacy database; ``rollback`` restores an
earlier phase exactly; ``validate`` runs the plan's checklists; ``status`` reports
where a database stands. See docs/migration.md for the layout of this package:
``phases`` (the commands), ``transitions/`` (each move as data), ``engine/`` (runs
and journals them), ``ddl/`` (the SQL), ``validation/`` (the checklists).
"""

from slotcap.migration.catalog import Catalog, snapshot
from slotcap.migration.phases import (
    migrate,
    migrate_conn,
    rollback,
    rollback_conn,
    status,
    status_conn,
)
from slotcap.migration.report import MigrationReport, MigrationStatus, StepResult
from slotcap.migration.state import Phase
from slotcap.migration.validation import Check, ValidationReport, validate

__all__ = [
    "Catalog",
    "Check",
    "MigrationReport",
    "MigrationStatus",
    "Phase",
    "StepResult",
    "ValidationReport",
    "migrate",
    "migrate_conn",
    "rollback",
    "rollback_conn",
    "snapshot",
    "status",
    "status_conn",
    "validate",
]
