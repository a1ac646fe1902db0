"""The booking benchmark's audit and floor (:mod:`benchmarks.booking`): the periods whose
held minutes exceed their slot, by SQL; and single-row INSERT commits/s with as many
clients, the bookings' floor (at phase 4 without the legacy columns)."""

from __future__ import annotations

import datetime as dt
import threading
import time

from slotcap.sql import open_sql
from slotcap.sql.url import connect_postgres

__all__ = ["INSERT_PHASE4", "insert_floor", "overbooked"]


def overbooked(url: str) -> dict[str, int]:
    """Periods whose held minutes exceed the slot (or that are closed), by SQL."""
    with open_sql(url) as conn:
        over = conn.scalar(
            'SELECT COUNT(*) FROM ('
            ' SELECT r."preferredDate", r."period", SUM(r."estimatedDuration") AS held'
            ' FROM "reservations" r'
            " WHERE r.\"status\" IN ('PENDING', 'CONFIRMED')"
            ' GROUP BY r."preferredDate", r."period") h'
            ' LEFT JOIN "clinic_time_slots" t'
            '  ON t."dayOfWeek" = EXTRACT(DOW FROM h."preferredDate")::int'
            '  AND t."period" = h."period" AND t."isActive"'
            ' WHERE t."id" IS NULL OR h.held > t."totalMinutes"'
        )
        unknown = conn.scalar(
            'SELECT COUNT(*) FROM "reservations" WHERE "status" IN (\'PENDING\', \'CONFIRMED\')'
            ' AND ("period" IS NULL OR "estimatedDuration" IS NULL)'
        )
        total = conn.scalar('SELECT COUNT(*) FROM "reservations"')
    return {"overbooked_periods": int(over or 0), "held_rows_without_minutes": int(unknown or 0),
            "rows_after": int(total or 0)}


_INSERT = (
    'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
    '"treatmentType","preferredDate","preferredTime","service","updatedAt",'
    '"serviceId","serviceName","estimatedDuration","period","status") '
    "VALUES (%s,'Bench','010-0000-0000','1985-05-05','MALE','FOLLOW_UP',"
    "%s,'10:00','SKIN_CARE',CURRENT_TIMESTAMP,'srv_skin_care','피부케어',70,'MORNING',"
    "'PENDING')"
)
#: The same row at phase 4 (no "preferredTime", no "service").
INSERT_PHASE4 = (_INSERT.replace('"preferredTime","service",', "")
                  .replace("'10:00','SKIN_CARE',", ""))


def insert_floor(url: str, clients: int, seconds: float, start_day: dt.date,
                 insert: str | None = None) -> float:
    """Single-row INSERT commits/s, each client its own connection and dates (the
    ledger's trigger on when the table has it): the bookings' floor."""
    done = [0] * clients
    ready, stop = threading.Barrier(clients + 1), threading.Event()

    def client(i: int) -> None:
        conn = connect_postgres(url, autocommit=True)
        try:
            ready.wait()
            n = 0
            while not stop.is_set():
                conn.execute(insert or _INSERT, (f"floor-{start_day}-{i}-{n}",
                                       start_day + dt.timedelta(days=i)))
                n += 1
            done[i] = n
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    rate = round(sum(done) / (time.perf_counter() - began), 1)
    with open_sql(url) as conn:  # out of the next audit: they fit no capacity
        conn.execute('DELETE FROM "reservations" WHERE "id" LIKE %s', ("floor-%",))
    return rate
