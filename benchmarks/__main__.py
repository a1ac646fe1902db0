"""Run every benchmark in turn: ``python -m benchmarks [--quick | --full] [--out DIR]``.

``--quick`` is the smoke run (tiny sizes, a minute or two); the default uses each
benchmark's default sizes; ``--full`` the sizes recorded in docs/benchmarks.md
(1M rows: generation and loading take several minutes). Each benchmark writes
``DIR/<name>.json``; the availability benchmark also draws ``DIR/availability.png``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import availability, backfill, booking, http_load, live_migration, parser, pooled
from benchmarks._harness import DEFAULT_PG_URL, say


def main(argv: Sequence[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    size = cli.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smoke run")
    size.add_argument("--full", action="store_true", help="the recorded sizes, up to 1M rows")
    cli.add_argument("--out", type=Path, default=Path("benchmarks/results"),
                     help="folder for the JSON files (default: %(default)s)")
    cli.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = cli.parse_args(argv)
    common = ["--pg-url", args.pg_url] + (["--quick"] if args.quick else [])
    runs: list[tuple[str, Callable[[Sequence[str] | None], int], list[str]]] = [
        ("parser", parser.main, []),
        ("availability", availability.main,
         ["--chart", str(args.out / "availability.png")]
         + (["--sizes", "10000,100000,1000000"] if args.full else [])),
        ("booking", booking.main, []),
        ("backfill", backfill.main, ["--sizes", "100000,1000000"] if args.full else []),
        ("live_migration", live_migration.main,
         ["--sizes", "30000,300000"] if args.full else []),
        ("http_load", http_load.main, []),
        ("pooled", pooled.main, []),
    ]
    failed = []
    for name, run, extra in runs:
        say(f"== {name}")
        code = run([*common, *extra, "--json", str(args.out / f"{name}.json")])
        print(flush=True)
        if code:
            failed.append(name)
    if failed:
        say(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
