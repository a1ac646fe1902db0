"""slotcap's benchmarks: latency and throughput, every ratio measured side by side.

Each module is runnable on its own (``python -m benchmarks.<name> --help``), prints a
plain table, and writes its figures as JSON with ``--json FILE``:

* ``availability`` — check latency on memory / SQLite / PostgreSQL at several table
  sizes against the plan's 3-query baseline and a ``SELECT 1`` floor, plus
  ``availability_calendar`` against 62 single checks, and the chart;
* ``booking`` — concurrent booking throughput on PostgreSQL and an overbooking audit;
* ``backfill`` — rows/s and peak memory of ``run_backfill`` (one subprocess per run);
* ``parser`` — µs per ``parse_preferred_time`` call against python-dateutil
  (and dateparser when installed).

``python -m benchmarks`` runs all of them. Method and figures: ``docs/benchmarks.md``.
Nothing here is imported by the library; matplotlib is needed only for the chart and
is imported lazily.
"""
