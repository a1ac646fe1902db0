"""Where a database stands: one answer, from the record checked against the catalogue.

:func:`locate` says exactly one of

* ``settled`` at a phase, and the catalogue agrees (columns, nullability, indexes and
  their validity, constraints, archive tables, triggers);
* ``interrupted`` during a transition at its first step not recorded done, with the
  command that finishes it (``forward``) and the one that undoes it (``back``) — a
  phase 2 stopped because rows await review is the phase1→phase2 transition paused at
  its ``validate`` step;
* ``inconsistent``: the record says a settled phase the catalogue contradicts; the
  ``problems`` say what differs.
"""

from __future__ import annotations

from typing import Any

import attrs

from slotcap.migration.catalog import Catalog, snapshot
from slotcap.migration.ddl.ledger import fill_done, ledger_recount_problems
from slotcap.migration.ddl.names import (
    ARCHIVE_LEGACY,
    ARCHIVE_LIMITS,
    ARCHIVE_SCHEMA,
    CLOSURES,
    FINAL_INDEXES,
    FK_SERVICE,
    IDX_HELD,
    IDX_HELD_CONTRACTED,
    IDX_LEGACY_SERVICE,
    IDX_PERIOD,
    IDX_SERVICE,
    JOURNAL,
    LEDGER_TABLES,
    LEDGER_TABLES_CONTRACTED,
    LEDGER_TRIGGERS,
    LEGACY_ONLY_COLUMNS,
    LIMITS,
    NEW_COLUMNS,
    PERIOD_TYPE,
    READ_INDEXES,
    RESERVATIONS_TABLE,
    SERVICE_TYPE,
    SERVICES,
    SETTINGS,
    SLOTS,
    STATE,
)
from slotcap.migration.engine.steps import transition_name
from slotcap.migration.state import Phase, current_phase_row, open_transition
from slotcap.migration.transitions import transition
from slotcap.sql import Dialect, SqlConnection

__all__ = [
    "INCONSISTENT",
    "INTERRUPTED",
    "SETTLED",
    "Location",
    "command_to",
    "expected_problems",
    "ledger_problems",
    "locate",
]

SETTLED = "settled"
INTERRUPTED = "interrupted"
INCONSISTENT = "inconsistent"


@attrs.frozen
class Location:
    state: str
    #: The settled phase; for an interrupted transition, the phase it started from.
    phase: Phase
    transition: str | None = None
    #: The first step of ``transition`` not recorded done.
    step: str | None = None
    #: The command that finishes the transition, and the one that undoes it.
    forward: str | None = None
    back: str | None = None
    #: True when the transition stopped on purpose (rows await manual review).
    paused: bool = False
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.state == SETTLED:
            return f"settled at {self.phase.value}"
        if self.state == INTERRUPTED:
            how = "paused" if self.paused else "interrupted"
            return (f"{how} during {self.transition} at sub-step {self.step}; "
                    f"forward: {self.forward}; back: {self.back}")
        return f"inconsistent: the record says {self.phase.value} but " + "; ".join(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "phase": self.phase.value,
            "transition": self.transition,
            "step": self.step,
            "forward": self.forward,
            "back": self.back,
            "paused": self.paused,
            "problems": list(self.problems),
        }


def command_to(start: Phase, end: Phase) -> str:
    """The CLI command that takes a database from ``start`` to ``end``."""
    if end.rank > start.rank:
        confirm = " --confirm" if end is Phase.PHASE4 else ""
        return f"slotcap migrate --to {end.value}{confirm}"
    return f"slotcap migrate --rollback-to {end.value}"


def _cols(cat: Catalog) -> dict[str, bool]:
    """reservations' column -> nullable."""
    return {c: info.nullable for c, info in cat.table_columns(RESERVATIONS_TABLE).items()}


def _index(cat: Catalog, name: str) -> bool | None:
    found = cat.indexes.get(name)
    return None if found is None else found[2]


def expected_problems(cat: Catalog, phase: Phase) -> list[str]:
    """How the catalogue differs from what ``phase`` has (empty: it agrees)."""
    out: list[str] = []
    cols = _cols(cat)
    pg_side = cat.dialect == Dialect.POSTGRES.value

    def need(ok: bool, what: str) -> None:
        if not ok:
            out.append(what)

    invalid = sorted(n for n, (_t, _d, valid) in cat.indexes.items() if not valid)
    need(not invalid, f"invalid (half-built) indexes {invalid}")
    helper = sorted(n for (_t, n) in cat.constraints
                    if n.startswith("slotcap_") and n.endswith("_not_null"))
    need(not helper, f"helper constraints {helper}")
    # The ledger (phases 2 and 4, ddl/ledger.py): its tables and triggers, and no others;
    # phase 4's without the per-service counts.
    ledger_triggers = set(LEDGER_TRIGGERS[:1] if pg_side else LEDGER_TRIGGERS)
    ledger_tables = [t for t in LEDGER_TABLES if t in cat.tables]
    if phase in (Phase.PHASE2, Phase.PHASE4):
        want = LEDGER_TABLES if phase is Phase.PHASE2 else LEDGER_TABLES_CONTRACTED
        need(ledger_tables == list(want) and ledger_triggers <= set(cat.triggers),
             f"ledger missing (have tables {ledger_tables}, triggers "
             f"{sorted(ledger_triggers & set(cat.triggers))}): run "
             f"{command_to(Phase.LEGACY, phase)}")
        other = sorted(set(cat.triggers) - ledger_triggers)
        need(not other, f"triggers {other}")
    else:
        need(not ledger_tables, f"ledger tables present {ledger_tables}")
        need(not cat.triggers, f"triggers {sorted(cat.triggers)}")
    legacy_cols = [c for c in LEGACY_ONLY_COLUMNS if c in cols]
    new_cols = [c for c in NEW_COLUMNS if c in cols]
    archives = [t for t in (ARCHIVE_LEGACY, ARCHIVE_LIMITS, ARCHIVE_SCHEMA) if t in cat.tables]
    if phase is Phase.LEGACY:
        need(len(legacy_cols) == len(LEGACY_ONLY_COLUMNS),
             f"legacy columns missing ({legacy_cols})")
        need(not new_cols, f"new columns present {new_cols}")
        extra = [t for t in (SERVICES, SLOTS, CLOSURES, SETTINGS, JOURNAL, STATE, *archives)
                 if t in cat.tables]
        need(not extra, f"tables present {extra}")
        need(LIMITS in cat.tables, f"{LIMITS} missing")
        need(_index(cat, IDX_LEGACY_SERVICE) is True, f"index {IDX_LEGACY_SERVICE} missing")
        if pg_side:
            need(SERVICE_TYPE in cat.enums, f"enum {SERVICE_TYPE} missing")
            need(PERIOD_TYPE not in cat.enums, f"enum {PERIOD_TYPE} present")
        return out
    missing_tables = [t for t in (SERVICES, SLOTS, CLOSURES, SETTINGS, JOURNAL, STATE)
                      if t not in cat.tables]
    need(not missing_tables, f"tables missing {missing_tables}")
    need(len(new_cols) == len(NEW_COLUMNS), f"new columns missing (have {new_cols})")
    finals = [n for n, _c in FINAL_INDEXES if n in cat.indexes]
    if phase in (Phase.PHASE1, Phase.PHASE2):
        need(len(legacy_cols) == len(LEGACY_ONLY_COLUMNS),
             f"legacy columns missing ({legacy_cols})")
        legacy_null = [c for c in legacy_cols if cols[c]]
        need(not legacy_null, f"legacy columns nullable {legacy_null}")
        not_null = [c for c in new_cols if not cols[c]]
        need(not not_null, f"new columns NOT NULL {not_null}")
        need(not archives, f"archive tables present {archives}")
        need(LIMITS in cat.tables, f"{LIMITS} missing")
        need(_index(cat, IDX_LEGACY_SERVICE) is True, f"index {IDX_LEGACY_SERVICE} missing")
        need(not finals, f"phase-4 indexes present {finals}")
        need(IDX_HELD_CONTRACTED not in cat.indexes, f"index {IDX_HELD_CONTRACTED} present")
        if pg_side:
            need(SERVICE_TYPE in cat.enums, f"enum {SERVICE_TYPE} missing")
            need((RESERVATIONS_TABLE, FK_SERVICE) in cat.constraints, f"{FK_SERVICE} missing")
        if phase is Phase.PHASE2:
            gone = [n for n in READ_INDEXES if _index(cat, n) is not True]
            need(not gone, f"read indexes missing {gone}")
        return out
    need(not legacy_cols, f"legacy columns present {legacy_cols}")
    nullable = [c for c in new_cols if cols[c]]
    need(not nullable, f"new columns nullable {nullable}")
    need(ARCHIVE_LEGACY in cat.tables, f"{ARCHIVE_LEGACY} missing")
    need(LIMITS not in cat.tables, f"{LIMITS} present")
    need(IDX_LEGACY_SERVICE not in cat.indexes, f"index {IDX_LEGACY_SERVICE} present")
    need(IDX_HELD not in cat.indexes, f"index {IDX_HELD} present")
    gone = [n for n in (*(n for n, _c in FINAL_INDEXES), IDX_PERIOD, IDX_SERVICE,
                        IDX_HELD_CONTRACTED) if _index(cat, n) is not True]
    need(not gone, f"indexes missing {gone}")
    if pg_side:
        need(SERVICE_TYPE not in cat.enums, f"enum {SERVICE_TYPE} present")
    return out


def ledger_problems(conn: SqlConnection, phase: Phase = Phase.PHASE2) -> list[str]:
    """The ledger of a phase-2 (or phase-4) database against a recount of the
    reservations, row for row (one statement per ledger table: one snapshot of both)."""
    if not fill_done(conn):
        return [f"ledger not completely filled: run {command_to(Phase.LEGACY, phase)}"]
    return [f"ledger {table}: {n} row(s) differ from a recount of reservations"
            for table, n in ledger_recount_problems(conn).items()]


def locate(conn: SqlConnection, *, catalog: Catalog | None = None) -> Location:
    """The one answer to "where is this database" (see the module docstring)."""
    pending = open_transition(conn)
    if pending is not None:
        steps = _step_names(conn.dialect, pending.start, pending.end)
        step = next((s for s in steps if s not in pending.done), steps[-1] if steps else None)
        paused = (pending.start, pending.end) == (Phase.PHASE1, Phase.PHASE2) \
            and step == "validate" and pending.last_action == "validate"
        forward = command_to(pending.start, pending.end)
        if paused:
            forward = ("slotcap review export --out review.csv, set each row's period, "
                       "slotcap review import --in review.csv, then " + forward)
        return Location(
            state=INTERRUPTED, phase=pending.start,
            transition=transition_name(pending.start, pending.end), step=step,
            forward=forward, back=command_to(pending.end, pending.start), paused=paused,
        )
    row = current_phase_row(conn)
    phase = Phase.LEGACY if row is None else row.phase
    cat = catalog if catalog is not None else snapshot(conn)
    problems = expected_problems(cat, phase)
    if phase in (Phase.PHASE2, Phase.PHASE4) and not problems:
        problems.extend(ledger_problems(conn, phase))
    if row is None and STATE in cat.tables:
        problems.append(f"{STATE} exists but records no settled phase")
    if problems:
        return Location(state=INCONSISTENT, phase=phase, problems=tuple(problems))
    return Location(state=SETTLED, phase=phase)


def _step_names(dialect: Dialect, start: Phase, end: Phase) -> tuple[str, ...]:
    return transition(dialect, start, end).step_names()
