"""The command line every benchmark shares: its parser, the common options, and the
answer when the PostgreSQL server it needs is not there."""

from __future__ import annotations

import argparse

from benchmarks._harness import add_common_arguments, pg_available, say

__all__ = ["add_background_argument", "benchmark_parser", "postgres_missing"]


def benchmark_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """``python -m benchmarks.<name>``'s parser: the module's docstring as its
    description (kept as written) and the options every benchmark takes."""
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{name}", description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    return parser


def add_background_argument(parser: argparse.ArgumentParser) -> None:
    """``--background N``: generated reservations already in the table."""
    parser.add_argument("--background", type=int, default=None,
                        help="generated reservations already in the table "
                        "(default 100000; --quick 2000)")


def postgres_missing(args: argparse.Namespace, name: str) -> int | None:
    """None when the server at ``--pg-url`` answers; else, having said so, the exit code
    of a benchmark that has nothing to do without it (0 for a ``--quick`` smoke run)."""
    if pg_available(args.pg_url):
        return None
    say(f"[{name}] PostgreSQL not reachable at --pg-url: nothing to do")
    return 0 if args.quick else 1
