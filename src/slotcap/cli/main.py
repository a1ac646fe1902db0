"""``slotcap``: the command line over the migration toolkit and the availability calendar.

Exit codes (docs/cli.md): 0 success; 1 checks failed, rows need review, or the
operation was refused (``migrate status``: a transition is interrupted); 2 usage or
configuration (bad option, bad or unreachable database URL) or another slotcap run
holds the database (``migration_busy``); 3 an unexpected internal error;
4 ``migrate status`` found the record and the catalogue inconsistent. Errors are one
message on stderr with the error's machine-readable code, never a traceback
(``SLOTCAP_DEBUG=1`` shows it), and never a password.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

# Only what `slotcap`, `slotcap --help` and `--version` need is imported here: every
# command module (and through them the stores, the migration toolkit, the use cases) is
# imported by build_parser() when a command is parsed. `slotcap --help` stays well
# under half a second (issue #23); tests/unit/test_lazy_imports.py holds it to that.
from slotcap.cli._help import VersionAction, add_examples, explain, overview
from slotcap.cli._process import DEBUG_ENV, console_process
from slotcap.cli._streams import guarded_streams
from slotcap.redaction import redact_db_text, scrub, url_secrets

if TYPE_CHECKING:
    from slotcap.migration.engine.steps import Checkpoint

__all__ = [
    "COMMANDS", "EXIT_INTERNAL", "EXIT_USAGE", "build_parser", "console", "main", "top_parser",
]

EXIT_USAGE = 2
EXIT_INTERNAL = 3
#: ``slotcap.bootstrap.DATABASE_ENV``, spelled here so that the top-level help imports
#: no store code (tests/unit/test_lazy_imports.py checks they agree).
DATABASE_ENV = "SLOTCAP_DATABASE_URL"
#: ``slotcap.cli._args.DIRECT_DATABASE_ENV``, likewise.
DIRECT_DATABASE_ENV = "SLOTCAP_DIRECT_DATABASE_URL"
#: Every command and its one line, in the order of the help: what ``slotcap``,
#: ``slotcap --help`` and ``--version`` show without importing any command module.
#: tests/unit/test_lazy_imports.py checks that the full parser says exactly the same.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("demo", "build a demo SQLite database and migrate it, step by step"),
    ("migrate", "apply or roll back a migration phase, or show the status"),
    ("analyze", "what is in the reservations table (the plan's step 2.1)"),
    ("backfill", "fill the new columns from the legacy ones (resumable)"),
    ("validate", "run every migration check; exit 0 only if all pass"),
    ("review", "manual review of rows without a period"),
    ("availability", "booked / capacity / remaining minutes per date and period"),
    ("services", "the service catalogue (needs phase 1)"),
    ("serve", "serve the reservation API over HTTP (needs the server extra)"),
    ("monitor", "phase-3 monitoring from the database: reservations per hour by path, "
                "dual-write gaps, rollout settings (exit 0 healthy, 1 look at this)"),
    ("prisma-schema", "print the Prisma schema of a database after phase 2 or phase 4 "
                      "(no database needed)"),
    ("hours", "the clinic's weekly opening hours (needs phase 1)"),
    ("closures", "closures and capacity overrides by date (needs phase 1)"),
    ("timezone", "the clinic's time zone (needs phase 1)"),
    ("shadow", "shadow decisions: what the other rule would have decided (phases 1-3; "
               "docs/rollout.md)"),
    ("whatif", "replay a date range's held reservations under one rule with today's "
               "settings: where would they not fit? (exit 0 either way)"),
)
_PHASES = ("legacy", "phase1", "phase2", "phase4")

Handler = Callable[[argparse.Namespace], int]


class _ArgumentError(Exception):
    """An argparse usage error, held back so that ``main`` can print it scrubbed."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse echoes a bad argument verbatim ("unrecognized arguments: postgresql://
    u:PW@host/db"); this parser hands the message to ``main`` instead of printing it.
    Subparsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(self, message)


def _subcommand(
    subparsers: argparse._SubParsersAction[_Parser],
    name: str,
    handler: Handler,
    help_text: str,
    *,
    database: bool = True,
) -> argparse.ArgumentParser:
    from slotcap.cli._args import add_database, add_json

    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    if database:
        add_database(parser)
    add_json(parser)
    parser.set_defaults(handler=handler)
    return parser


def _top() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[_Parser]]:
    parser = _Parser(
        prog="slotcap",
        description="Migrate a clinic's reservation database to duration-based capacity, "
        "with zero downtime and zero data loss.",
        epilog=f"--database defaults to ${DATABASE_ENV}. Exit codes: 0 ok, 1 checks failed "
        "or review needed (status: interrupted), 2 usage/configuration or another run "
        "holds the database, 3 internal error, 4 (status) inconsistent.",
    )
    parser.add_argument("--version", action=VersionAction, help="print slotcap's version")
    # Not required: a bare `slotcap` prints the overview instead of a usage error.
    return parser, parser.add_subparsers(dest="command", metavar="COMMAND")


def top_parser() -> argparse.ArgumentParser:
    """The top level alone — commands named, none of their options: what a bare
    ``slotcap``, ``--help`` and ``--version`` need, without importing any command."""
    parser, sub = _top()
    for name, text in COMMANDS:
        sub.add_parser(name, help=text, description=text)
    add_examples(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from slotcap.cli import _commands as commands
    from slotcap.cli._args import iso_date, non_negative_float, positive_float, positive_int
    from slotcap.cli._closures import register as register_closures
    from slotcap.cli._demo import cmd_demo
    from slotcap.cli._hours import register as register_hours
    from slotcap.cli._monitor import register as register_monitor
    from slotcap.cli._prisma import register as register_prisma
    from slotcap.cli._serve import register as register_serve
    from slotcap.cli._services import register as register_services
    from slotcap.cli._shadow import register as register_shadow
    from slotcap.migration.ddl.lock_policy import DEFAULT_POLICY
    from slotcap.migration.throttle import DEFAULT_PAUSE

    parser, sub = _top()

    demo = _subcommand(sub, "demo", cmd_demo,
                       "build a demo SQLite database and migrate it, step by step",
                       database=False)
    demo.add_argument("--path", default="slotcap-demo.db",
                      help="demo database file (default: ./slotcap-demo.db)")
    demo.add_argument("--rows", type=positive_int, default=3000,
                      help="reservations to generate (default: 3000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")

    migrate = _subcommand(sub, "migrate", commands.cmd_migrate,
                          "apply or roll back a migration phase, or show the status")
    migrate.add_argument("action", nargs="?", choices=["status"],
                         help="'status': show the current phase and history")
    migrate.add_argument("--to", choices=_PHASES, help="migrate forward to this phase")
    migrate.add_argument("--rollback-to", choices=_PHASES, dest="rollback_to",
                         help="roll back to this phase")
    migrate.add_argument("--confirm", action="store_true",
                         help="required for phase4 (removes the legacy columns)")
    migrate.add_argument("--batch-size", type=positive_int, default=1000,
                         help="rows per batch of the backfill, the phase-4 archive copy, and "
                         "the rollbacks' refill and journal clear (default: 1000)")
    # The lock policy (PostgreSQL), in seconds: dest lock_timeout, lock_timeout_max, ...
    for flag, default, what in (
        ("--lock-timeout", DEFAULT_POLICY.start, "lock_timeout of the first try of each "
         "statement that needs a strong lock; the app waits at most this long behind it"),
        ("--lock-timeout-max", DEFAULT_POLICY.cap,
         "the tries' lock_timeout grows slowly up to this"),
        ("--lock-retry-budget", DEFAULT_POLICY.budget, "total time of one statement's tries "
         "and jittered pauses before it stops cleanly with migration_lock_timeout"),
    ):
        migrate.add_argument(flag, type=positive_float, default=default, metavar="SECONDS",
                             dest=flag[2:].replace("-", "_"),
                             help=f"PostgreSQL: {what} (default: %(default)s)")
    migrate.add_argument("--quiet", action="store_true", help="no progress on stderr")

    analyze = _subcommand(sub, "analyze", commands.cmd_analyze,
                          "what is in the reservations table (the plan's step 2.1)")
    analyze.add_argument("--limit", type=positive_int, default=50,
                         help="preferredTime values to list in the text output (default: 50)")

    backfill = _subcommand(sub, "backfill", commands.cmd_backfill,
                           "fill the new columns from the legacy ones (resumable)")
    backfill.add_argument("--batch-size", type=positive_int, default=1000,
                          help="rows per transaction (default: 1000)")
    backfill.add_argument("--pause", type=non_negative_float, default=DEFAULT_PAUSE,
                          help="seconds to sleep between batches; the run also backs off "
                          "by itself while app sessions wait for locks or a batch is slow "
                          "(default: %(default)s)")
    backfill.add_argument("--max-rate", type=positive_float, default=None, dest="max_rate",
                          metavar="ROWS_PER_S",
                          help="at most this many rows per second, all workers together "
                          "(default: no cap)")
    backfill.add_argument("--workers", type=positive_int, default=1,
                          help="PostgreSQL: connections working in parallel on separate "
                          "key ranges (default: 1; SQLite always uses 1)")
    backfill.add_argument("--dry-run", action="store_true",
                          help="report what would be written; write nothing")
    backfill.add_argument("--quiet", action="store_true", help="no progress on stderr")

    validate = _subcommand(sub, "validate", commands.cmd_validate,
                           "run every migration check; exit 0 only if all pass")
    validate.add_argument("--phase", choices=_PHASES,
                          help="run the checks of this phase (default: the database's own); "
                          "--phase phase2 on a phase-1 database asks 'may it move on now?'")

    review = sub.add_parser("review", help="manual review of rows without a period",
                            description="manual review of rows without a period")
    review_sub = review.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    export = _subcommand(review_sub, "export", commands.cmd_review_export,
                         "write a CSV of the reservations without a period")
    export.add_argument("--out", required=True, metavar="FILE.csv", help="CSV file to write")
    imported = _subcommand(review_sub, "import", commands.cmd_review_import,
                           "apply an operator's CSV in one transaction (all or nothing)")
    imported.add_argument("--in", required=True, dest="input", metavar="FILE.csv",
                          help="the reviewed CSV file")

    availability = _subcommand(sub, "availability", commands.cmd_availability,
                               "booked / capacity / remaining minutes per date and period")
    availability.add_argument("--from", dest="start", type=iso_date, metavar="DATE",
                              help="first date, YYYY-MM-DD (default: the clinic's today, "
                              "in its time zone)")
    availability.add_argument("--to", dest="end", type=iso_date, metavar="DATE",
                              help="last date, YYYY-MM-DD (default: a week from --from)")
    register_services(sub, _subcommand)
    register_serve(sub, _subcommand)
    register_monitor(sub, _subcommand)
    register_prisma(sub)
    register_hours(sub, _subcommand)
    register_closures(sub, _subcommand)
    register_shadow(sub, _subcommand)
    # The commands that migrate or read the migration's record take PostgreSQL's own
    # address when --database goes through a pooler (Prisma's directUrl).
    from slotcap.cli._args import add_direct_url

    for needs_direct in (migrate, backfill, validate, export, imported):
        add_direct_url(needs_direct)
    add_examples(parser)
    return parser


def _secrets(argv: list[str]) -> list[str]:
    """Passwords of any database URL we were given, to scrub from error text."""
    found: list[str] = []
    for value in [*argv, os.environ.get(DATABASE_ENV, ""),
                  os.environ.get(DIRECT_DATABASE_ENV, "")]:
        found.extend(url_secrets(value))
    return found


def _safe(text: str, secrets: list[str]) -> str:
    return scrub(redact_db_text(text), secrets)


def _error(message: str, code: str, secrets: list[str]) -> None:
    print(_safe(f"slotcap: error [{code}]: {message}", secrets), file=sys.stderr)


def _holds_url(token: str) -> bool:
    return "://" in token or bool(url_secrets(token))


def _argument_message(message: str, argv: list[str], secrets: list[str]) -> str:
    """argparse's message, or — when it would repeat an argument holding a database
    URL (given as a positional, or to a misspelled option) — one that does not."""
    if any(_holds_url(token) and token in message for token in argv):
        what = message.split(":", 1)[0]
        return (f"{what}: an argument holding a database URL is not accepted here and is "
                "not repeated (it may hold a password); pass the URL as --database URL "
                f"or in {DATABASE_ENV}")
    return scrub(message, secrets)


def _debug_text(exc: BaseException, secrets: list[str]) -> str:
    """The traceback (with chained exceptions) for SLOTCAP_DEBUG=1: passwords scrubbed
    and, in the exception messages (the unindented lines), row values hidden."""
    lines = "".join(traceback.format_exception(exc)).splitlines()
    return scrub("\n".join(line if line.startswith(" ") else redact_db_text(line)
                           for line in lines), secrets)


def _report(exc: Exception, secrets: list[str]) -> int:
    """Print one error line (and, with SLOTCAP_DEBUG=1, the traceback); the exit code."""
    from slotcap.cli._commands import EXIT_ATTENTION
    from slotcap.errors import ConfigurationError, InvalidRequest, MigrationBusy, SlotcapError
    from slotcap.sql.driver_errors import database_error

    if os.environ.get(DEBUG_ENV):
        print(_debug_text(exc, secrets), file=sys.stderr)
    error = database_error(exc) or exc
    if isinstance(error, ConfigurationError | InvalidRequest | MigrationBusy):
        _error(error.message, error.code, secrets)
        return EXIT_USAGE
    if isinstance(error, SlotcapError):
        _error(error.message, error.code, secrets)
        return EXIT_ATTENTION
    first = (str(error).strip().splitlines() or [""])[0]
    _error(f"unexpected {type(error).__name__}: {first} ({DEBUG_ENV}=1 for details)",
           "internal", secrets)
    return EXIT_INTERNAL


def main(argv: list[str] | None = None, *, checkpoint: Checkpoint | None = None) -> int:
    """Run the command line; return the exit code (also on argparse errors).

    Leaves the process as it found it: ``sys.stdout``/``sys.stderr`` are guarded for
    the run and restored, logging is untouched. :func:`console` (the console script)
    makes the process-wide settings, once. ``checkpoint``: told of every checkpoint
    label ``migrate`` passes (only the kill-point tests' launcher installs one)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    # A reader that closes the pipe (``| head``) must not stop the command half-way:
    # output that cannot be written is dropped and the exit code stays the command's.
    with guarded_streams():
        return _run(args_list, checkpoint)


def console() -> NoReturn:
    """The ``slotcap`` console script and ``python -m slotcap.cli``: the process's
    streams and the driver's logs set once (:mod:`slotcap.cli._process`), then
    :func:`main`; exits with its code."""
    console_process()
    sys.exit(main())


def _run(args_list: list[str], checkpoint: Checkpoint | None = None) -> int:
    secrets = _secrets(args_list)
    # The top level alone when nothing more is asked: no command module is imported.
    quick = not args_list or args_list in (["-h"], ["--help"], ["--version"])
    parser = top_parser() if quick else build_parser()
    try:
        args = parser.parse_args(args_list)
    except _ArgumentError as exc:
        shown, message = exc.parser, _argument_message(exc.message, args_list, secrets)
        if message == scrub(exc.message, secrets):  # nothing held back: explain it
            shown, message = explain(parser, exc.parser, message, args_list)
        shown.print_usage(sys.stderr)
        print(f"{shown.prog}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # argparse: --help, --version
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "handler", None) is None:  # a bare `slotcap`
        print(overview(parser))
        return 0
    args.checkpoint = checkpoint
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("slotcap: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return _report(exc, secrets)


if __name__ == "__main__":
    console()
