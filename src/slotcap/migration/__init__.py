"""The migration toolkit: phases 1–4 with rollbacks, validation, and status.

``migrate(url, to="phase1")`` expands a legacy database; ``rollback`` restores an
earlier phase exactly; ``validate`` runs the plan's checklists; ``status`` reports
where a database stands. See docs/migration.md.
"""

from slotcap.migration.catalog import Catalog, snapshot
from slotcap.migration.phases import (
    MigrationReport,
    MigrationStatus,
    Phase,
    StepResult,
    migrate,
    migrate_conn,
    rollback,
    rollback_conn,
    status,
    status_conn,
)
from slotcap.migration.validate import Check, ValidationReport, validate

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
