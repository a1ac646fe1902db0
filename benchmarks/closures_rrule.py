"""What a recurring closure costs a booking: ``occurs_on`` for new dates, per rule.

    python -m benchmarks.closures_rrule

Issue #23: a rule that never occurs (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) used to cost
≈ 17 s per new date (dateutil walked to the year 9999). ``slotcap.domain.closures``
evaluates every rule in a frame that ends at most 400 years after the asked year, once
per year per process. Printed: the first date of a year (cold: the year's expansion),
then the other dates of that year (warm), for a common rule and the pathological one;
and ``first_occurrence`` (what ``closures add`` pays once to refuse a rule that cannot
occur). Wall-clock figures on whatever machine runs it; nothing is asserted.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from slotcap.domain.closures import Closure, first_occurrence, occurs_on

RULES = {
    "every Sunday": "FREQ=WEEKLY;BYDAY=SU",
    "New Year's Day": "FREQ=YEARLY",
    "never (Feb 30)": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
}
START = dt.date(2026, 1, 4)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:9.3f} ms"


def main() -> None:
    print(f"{'rule':<16} {'cold (1st date of a year)':>26} {'warm (median)':>14} "
          f"{'first_occurrence':>17}")
    for label, rule in RULES.items():
        closure = Closure(id="bench", start_date=START, rrule=rule, reason="bench")
        colds, warms = [], []
        for year in (2027, 2031, 2045):
            first = dt.date(year, 1, 1)
            began = time.perf_counter()
            occurs_on(closure, first)
            colds.append(time.perf_counter() - began)
            for n in range(1, 200):
                began = time.perf_counter()
                occurs_on(closure, first + dt.timedelta(days=n))
                warms.append(time.perf_counter() - began)
        began = time.perf_counter()
        first_occurrence(rule, START)
        refuse = time.perf_counter() - began
        print(f"{label:<16} {_ms(max(colds)):>26} {_ms(statistics.median(warms)):>14} "
              f"{_ms(refuse):>17}")


if __name__ == "__main__":
    main()
