"""What slotcap's migration leaves in a PostgreSQL database, as Prisma models.

``phase2``: expanded and backfilled — legacy and new reservation columns side by side
(the new ones still nullable, as phase 2 leaves them), the legacy limits table and the
``ServiceType`` enum. ``phase4``: contracted — the legacy columns, table and enum gone,
the new columns NOT NULL, the relation field renamed ``service`` (the plan's final
schema). The archive tables phase 4 keeps are slotcap's and not modelled.

Names are the DDL's (slotcap.migration.ddl.names, phase1.py, phase2.py, phase4.py); what
Prisma cannot describe is listed by :func:`not_expressed`. tests/integration/
test_prisma_live.py compares both with the catalogue of a migrated database.
"""

from __future__ import annotations

from typing import Final

from slotcap.errors import ConfigurationError
from slotcap.migration.ddl.names import (
    ARCHIVE_LEGACY,
    ARCHIVE_LIMITS,
    ARCHIVE_SCHEMA,
    CK_DURATION,
    CLOSURES,
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
    LIMITS,
    PERIOD_TYPE,
    RESERVATIONS_TABLE,
    SERVICE_TYPE,
    SERVICES,
    SETTINGS,
    SHADOW_TABLES,
    SLOTS,
    STATE,
)
from slotcap.migration.prisma.model import (
    Column,
    Enum,
    Index,
    Model,
    NotExpressed,
    Relation,
    Schema,
)

__all__ = [
    "CLOSURES",
    "OWN_TABLES",
    "PHASES",
    "PROVIDERS",
    "SETTINGS",
    "not_expressed",
    "schema_for",
]

#: The phases a schema can be generated for (the only two a web app deploys against).
PHASES: Final = ("phase2", "phase4")
#: Datasource providers. Only PostgreSQL: on SQLite, slotcap's dates and timestamps are
#: ISO-8601 TEXT, which Prisma's ``DateTime`` (stored as a number there) cannot read.
PROVIDERS: Final = ("postgresql",)

_NOW = "now()"


def _stamps(*, default_updated: bool, updated_at: bool) -> tuple[Column, Column]:
    return (
        Column("createdAt", "DateTime", default=_NOW),
        Column("updatedAt", "DateTime", default=_NOW if default_updated else None,
               updated_at=updated_at),
    )


def _service(phase: str) -> Model:
    return Model(
        "Service", SERVICES,
        (
            Column("id", "String", id=True),
            Column("code", "String", unique=True),
            Column("name", "String"),
            Column("nameEn", "String", optional=True),
            Column("description", "String", optional=True),
            Column("category", "String", optional=True),
            Column("durationMinutes", "Int", default="30"),
            Column("bufferMinutes", "Int", default="10"),
            Column("basePrice", "Int", optional=True),
            Column("isActive", "Boolean", default="true"),
            Column("isVisible", "Boolean", default="true"),
            Column("displayOrder", "Int", default="0"),
            *_stamps(default_updated=True, updated_at=True),
            Column("deletedAt", "DateTime", optional=True),
        ),
        (Relation("reservations", "Reservation", many=True),),
        (
            Index(("isActive", "isVisible", "displayOrder"),
                  "services_isActive_isVisible_displayOrder_idx"),
            Index(("code",), "services_code_idx"),
        ),
        comment="The service catalogue (slotcap phase 1), replacing the ServiceType enum.",
    )


def _slots() -> Model:
    return Model(
        "ClinicTimeSlot", SLOTS,
        (
            Column("id", "String", id=True),
            Column("dayOfWeek", "Int", comment="0 = Sunday … 6 = Saturday"),
            Column("period", PERIOD_TYPE),
            Column("startTime", "String", comment="'HH:MM'"),
            Column("endTime", "String", comment="'HH:MM'"),
            Column("totalMinutes", "Int", comment="endTime - startTime, kept by a CHECK"),
            Column("isActive", "Boolean", default="true"),
            *_stamps(default_updated=True, updated_at=True),
        ),
        (),
        (
            Index(("dayOfWeek", "period"), "clinic_time_slots_dayOfWeek_period_key",
                  unique=True),
            Index(("isActive",), "clinic_time_slots_isActive_idx"),
        ),
        comment="The clinic's opening hours: minutes per weekday and period (slotcap phase 1).",
    )


def _closures() -> Model:
    return Model(
        "ClinicClosure", CLOSURES,
        (
            Column("id", "String", id=True),
            Column("startDate", "DateTime", native="@db.Date"),
            Column("endDate", "DateTime", optional=True, native="@db.Date"),
            Column("period", PERIOD_TYPE, optional=True, comment="null = the whole day"),
            Column("rrule", "String", optional=True),
            Column("capacityMinutes", "Int", optional=True, comment="null = closed"),
            Column("reason", "String"),
            Column("createdAt", "DateTime", default=_NOW),
        ),
        (),
        (Index(("startDate",), "clinic_closures_startDate_idx"),),
        comment="Days or periods the clinic is closed or has reduced capacity.",
    )


def _settings() -> Model:
    return Model(
        "ClinicSetting", SETTINGS,
        (
            Column("key", "String", id=True),
            Column("value", "String"),
            Column("updatedAt", "DateTime", default=_NOW, updated_at=True),
        ),
        comment="Clinic-wide settings, one row per key.",
    )


def _reservation(phase: str) -> Model:
    contracted = phase == "phase4"
    legacy: tuple[Column, ...] = () if contracted else (
        Column("preferredTime", "String", comment="legacy: removed by phase 4"),
    )
    legacy_service: tuple[Column, ...] = () if contracted else (
        Column("service", SERVICE_TYPE, comment="legacy: removed by phase 4"),
    )
    nullable = not contracted
    indexes = [Index(("status",), "reservations_status_idx")]
    if not contracted:
        indexes.insert(0, Index(("preferredDate", "service", "status"), IDX_LEGACY_SERVICE,
                                comment="legacy: dropped by phase 4"))
    indexes.append(Index(("serviceId", "preferredDate", "status"), IDX_SERVICE))
    if contracted:
        indexes += [
            Index(("preferredDate", "period", "serviceId", "status"),
                  "reservations_preferredDate_period_serviceId_status_idx"),
            Index(("createdAt", "status"), "reservations_createdAt_status_idx"),
        ]
    return Model(
        "Reservation", RESERVATIONS_TABLE,
        (
            Column("id", "String", id=True),
            Column("patientName", "String"),
            Column("phone", "String"),
            Column("email", "String", optional=True),
            Column("birthDate", "DateTime"),
            Column("gender", "Gender"),
            Column("treatmentType", "TreatmentType"),
            Column("preferredDate", "DateTime", native="@db.Date"),
            *legacy,
            Column("status", "ReservationStatus", default="PENDING"),
            Column("notes", "String", optional=True),
            Column("adminNotes", "String", optional=True),
            Column("createdAt", "DateTime", default=_NOW),
            Column("updatedAt", "DateTime"),
            *legacy_service,
            Column("statusChangedAt", "DateTime", default=_NOW),
            Column("statusChangedBy", "String", optional=True),
            Column("serviceId", "String", optional=nullable),
            Column("serviceName", "String", optional=nullable),
            Column("estimatedDuration", "Int", optional=nullable,
                   comment="minutes: the service's duration + buffer"),
            Column("period", PERIOD_TYPE, optional=nullable),
        ),
        (
            Relation(
                # Phase 2 still has the legacy enum column "service"; the relation takes
                # that name once phase 4 has dropped it (the plan's final schema).
                "service" if contracted else "serviceRelation", "Service",
                optional=nullable, fields=("serviceId",), references=("id",),
                on_delete="Restrict", on_update="NoAction", constraint=FK_SERVICE,
            ),
        ),
        tuple(indexes),
        comment=(
            "A booking. Contracted by slotcap phase 4: the new columns are required."
            if contracted else
            "A booking, expanded by slotcap phases 1-2: legacy and new columns side by side."
        ),
    )


def _limits() -> Model:
    return Model(
        "service_reservation_limits", LIMITS,
        (
            Column("id", "String", id=True),
            Column("serviceType", SERVICE_TYPE, unique=True),
            Column("dailyLimit", "Int"),
            Column("isActive", "Boolean", default="true"),
            *_stamps(default_updated=False, updated_at=False),
        ),
        comment="legacy: the per-service daily limits; phase 4 archives and drops the table.",
    )


_ENUMS_ALWAYS = (
    Enum("Gender", ("MALE", "FEMALE")),
    Enum("TreatmentType", ("FIRST_VISIT", "FOLLOW_UP")),
    Enum("ReservationStatus", ("PENDING", "CONFIRMED", "CANCELLED", "COMPLETED", "NO_SHOW")),
    Enum(PERIOD_TYPE, ("MORNING", "AFTERNOON")),
)
_SERVICE_TYPE = Enum(
    SERVICE_TYPE,
    ("WRINKLE_BOTOX", "VOLUME_LIFTING", "SKIN_CARE", "REMOVAL_PROCEDURE", "BODY_CARE",
     "OTHER_CONSULTATION"),
    comment="legacy: phase 4 drops the type; use the Service table.",
)


def _check_phase(phase: str) -> None:
    if phase not in PHASES:
        raise ConfigurationError(f"--phase: {phase!r} is not one of {', '.join(PHASES)}")


def schema_for(phase: str, provider: str = "postgresql") -> Schema:
    """The declarative schema of a database after ``phase`` (``phase2`` or ``phase4``)."""
    _check_phase(phase)
    if provider not in PROVIDERS:
        raise ConfigurationError(
            f"--provider: {provider!r} is not supported (only {', '.join(PROVIDERS)})"
        )
    models = [_reservation(phase), _service(phase), _slots(), _closures(), _settings()]
    enums = list(_ENUMS_ALWAYS)
    if phase == "phase2":
        models.append(_limits())
        enums.append(_SERVICE_TYPE)
    return Schema(phase, provider, tuple(models), tuple(enums))


_WHY_TABLE = "slotcap's own bookkeeping; not for the application"
_WHY_INCLUDE = "INCLUDE columns (covering index) cannot be written in Prisma"
_WHY_PARTIAL = "a partial index (WHERE) and INCLUDE columns cannot be written in Prisma"
_WHY_CHECK = "Prisma has no CHECK constraints (it neither creates nor drops them)"
_WHY_LEDGER = ("the ledger of held load, kept by slotcap's trigger on reservations; "
               "the application never writes it")
_WHY_TRIGGER = "Prisma has no triggers; this one keeps slotcap's ledger (phases 2 to 4)"

_CHECKS = (
    (SERVICES, "services_durationMinutes_check"),
    (SERVICES, "services_bufferMinutes_check"),
    (SLOTS, "clinic_time_slots_dayOfWeek_check"),
    (SLOTS, "clinic_time_slots_period_check"),
    (SLOTS, "clinic_time_slots_startTime_check"),
    (SLOTS, "clinic_time_slots_endTime_check"),
    (SLOTS, "clinic_time_slots_totalMinutes_check"),
    (RESERVATIONS_TABLE, CK_DURATION),
    # As the closures change's phase-1 DDL names them (its branch, not yet merged).
    (CLOSURES, "clinic_closures_capacityMinutes_check"),
    (CLOSURES, "clinic_closures_endDate_check"),
)


#: slotcap's own tables, which the schema never models: (table, the phases it exists
#: in). A change that adds a table adds its row here (and to docs/prisma.md's list).
OWN_TABLES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (STATE, PHASES),
    (JOURNAL, PHASES),
    (ARCHIVE_LEGACY, ("phase4",)),
    (ARCHIVE_LIMITS, ("phase4",)),
    (ARCHIVE_SCHEMA, ("phase4",)),
    *((t, PHASES) for t in SHADOW_TABLES),
)


def not_expressed(phase: str) -> tuple[NotExpressed, ...]:
    """Every object slotcap's migration leaves in a PostgreSQL database after ``phase``
    that the Prisma schema does not (cannot) describe, sorted by kind, table, name."""
    _check_phase(phase)
    held = IDX_HELD_CONTRACTED if phase == "phase4" else IDX_HELD
    items = [NotExpressed("table", t, t, _WHY_TABLE) for t, phases in OWN_TABLES
             if phase in phases]
    if phase in ("phase2", "phase4"):  # phase 4's without the per-service counts
        ledger = LEDGER_TABLES if phase == "phase2" else LEDGER_TABLES_CONTRACTED
        items += [NotExpressed("table", t, t, _WHY_LEDGER) for t in ledger]
        items.append(NotExpressed("trigger", RESERVATIONS_TABLE, LEDGER_TRIGGERS[0], _WHY_TRIGGER))
    items += [
        NotExpressed("index", RESERVATIONS_TABLE, IDX_PERIOD, _WHY_INCLUDE),
        NotExpressed("index", RESERVATIONS_TABLE, held, _WHY_PARTIAL),
    ]
    items += [NotExpressed("check", table, name, _WHY_CHECK) for table, name in _CHECKS]
    return tuple(sorted(items, key=lambda i: (i.kind, i.table, i.name)))
