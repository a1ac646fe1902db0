"""``python -m tests.killpoints`` (or ``scripts/killtest``): the kill-point sweep.

Prints one line per kill point (dialect, scenario, where it was killed, what
``status`` said, and OK or the problems) and exits 1 if any point failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.killpoints.harness import SCENARIOS, Outcome, run_dialect

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="killtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialect", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rows", type=int, default=30_000, help="reservations (default 30000)")
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS],
                        help="only these scenarios (repeatable; default all)")
    parser.add_argument("--most", type=int, default=None,
                        help="at most this many checkpoint kills per scenario (default: all)")
    parser.add_argument("--timed", type=int, default=4,
                        help="kills at spread-out times per scenario (default 4)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    admin = os.environ.get("SLOTCAP_TEST_POSTGRES_URL", DEFAULT_PG_URL)
    dialects = ("sqlite", "postgresql") if args.dialect == "both" else (args.dialect,)
    scenarios = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]

    def show(o: Outcome) -> None:
        verdict = "OK" if o.ok else "FAIL: " + " | ".join(o.problems)
        died = "killed" if o.killed else "finished first"
        print(f"{o.dialect:<10} {o.scenario:<19} {o.point:<52} {died:<14} "
              f"status: {o.status:<50} {verdict}", flush=True)

    failed = total = 0
    started = time.monotonic()
    for dialect in dialects:
        outcomes = run_dialect(dialect, rows=args.rows, scenarios=scenarios, most=args.most,
                               timed=args.timed, workers=args.workers, admin_url=admin,
                               seed=args.seed, report=show)
        total += len(outcomes)
        failed += sum(not o.ok for o in outcomes)
    print(f"{total - failed} passed, {failed} failed "
          f"({args.rows} rows, {time.monotonic() - started:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
