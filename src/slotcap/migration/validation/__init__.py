"""The plan's validation checklists as code (read-only): ``validate(conn, phase=...)``
returns a :class:`ValidationReport` of :class:`Check` values.

:mod:`.report` holds the values, :mod:`.checks` the checks of each phase's checklist
and the function that picks and runs them.
"""

from slotcap.migration.validation.checks import validate
from slotcap.migration.validation.report import Check, ValidationReport

__all__ = ["Check", "ValidationReport", "validate"]
