"""What ``slotcap`` says when a user asks for help or slips: the overview printed by a
bare ``slotcap``, examples at the end of every ``--help``, and "did you mean" for a
mistyped command or option, reported in the order given (as gh, pgroll and git do).

argparse checks required options before it reports unknown ones, so ``availability
--form X`` used to be answered "--from is required": here an option the command does
not know is reported first, by the name the user typed, with the closest real one.
"""

from __future__ import annotations

import argparse
import difflib
import re

__all__ = ["EXAMPLES", "VersionAction", "add_examples", "explain", "overview"]

#: Examples per command, by its ``prog`` without the leading "slotcap ".
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("slotcap demo                               # a legacy database, migrated and explained",
         "slotcap migrate status --database sqlite:///slotcap-demo.db",
         "slotcap COMMAND --help                     # every option, with examples"),
    "demo": ("slotcap demo", "slotcap demo --rows 100000 --path big.db", "slotcap demo --json"),
    "migrate": ("slotcap migrate status", "slotcap migrate --to phase1",
                "slotcap migrate --to phase2          # backfill, indexes, validation",
                "slotcap migrate --to phase4 --confirm", "slotcap migrate --rollback-to phase2"),
    "analyze": ("slotcap analyze", "slotcap analyze --limit 200",
                "slotcap analyze --json | jq .periods"),
    "backfill": ("slotcap backfill", "slotcap backfill --dry-run",
                 "slotcap backfill --batch-size 500 --max-rate 2000"),
    "validate": ("slotcap validate", "slotcap validate --phase phase2", "slotcap validate --json"),
    "review": ("slotcap review export --out review.csv",
               "slotcap review import --in review.csv"),
    "review export": ("slotcap review export --out review.csv",),
    "review import": ("slotcap review import --in review.csv",),
    "availability": ("slotcap availability                    # this week, from the clinic's today",
                     "slotcap availability --from 2027-02-08 --to 2027-02-14",
                     "slotcap availability --json"),
    "services": ("slotcap services list --all",
                 "slotcap services add --code LASER_TONING --name '레이저 토닝' --duration 30",
                 "slotcap services deactivate LASER_TONING"),
    "services list": ("slotcap services list", "slotcap services list --all --json"),
    "services add": ("slotcap services add --code LASER_TONING --name '레이저 토닝' "
                     "--duration 30 --buffer 10",),
    "services update": ("slotcap services update LASER_TONING --duration 40",
                        "slotcap services update LASER_TONING --name-en ''"),
    "services deactivate": ("slotcap services deactivate LASER_TONING",),
    "services reactivate": ("slotcap services reactivate LASER_TONING",),
    "serve": ("slotcap serve", "slotcap serve --port 0 --json",
              "slotcap serve --host 127.0.0.1 --port 8080 --threads 8"),
    "monitor": ("slotcap monitor", "slotcap monitor --hours 72 --json"),
    "prisma-schema": ("slotcap prisma-schema --phase phase2 --output schema.prisma",
                      "slotcap prisma-schema --phase phase4 --database postgresql://app@db/clinic"),
    "hours": ("slotcap hours show", "slotcap hours set tue afternoon --start 14:00 --end 19:00"),
    "hours show": ("slotcap hours show", "slotcap hours show --json"),
    "hours set": ("slotcap hours set tue afternoon --start 14:00 --end 19:00 --dry-run",
                  "slotcap hours set sat morning --closed"),
    "closures": ("slotcap closures add --date 2027-02-08 --reason 설날",
                 "slotcap closures list --from 2027-01-01 --to 2027-12-31",
                 "slotcap closures remove clo_0123456789abcdef"),
    "closures add": ("slotcap closures add --date 2027-02-08 --reason 설날",
                     "slotcap closures add --date 2027-01-01 --rrule FREQ=YEARLY "
                     "--reason \"New Year's Day\"",
                     "slotcap closures add --date 2027-03-02 --period morning --capacity 60 "
                     "--reason 'one doctor'"),
    "closures list": ("slotcap closures list", "slotcap closures list --from 2027-02-01 "
                      "--to 2027-02-28 --json"),
    "closures remove": ("slotcap closures remove clo_0123456789abcdef",),
    "timezone": ("slotcap timezone show", "slotcap timezone set Asia/Seoul"),
    "shadow": ("slotcap shadow report", "slotcap shadow report --from 2027-02-01 "
               "--to 2027-02-28 --json"),
    "shadow report": ("slotcap shadow report --json",),
    "whatif": ("slotcap whatif --rule dynamic --from 2027-02-01 --to 2027-02-28",
               "slotcap whatif --rule legacy --from 2027-02-01 --to 2027-02-28 --json"),
    "timezone show": ("slotcap timezone show",),
    "timezone set": ("slotcap timezone set Asia/Seoul",),
}


def _children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _path(parser: argparse.ArgumentParser) -> str:
    return parser.prog.removeprefix("slotcap").strip()


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Put each command's :data:`EXAMPLES` under its ``--help`` (this one and below)."""
    examples = EXAMPLES.get(_path(parser))
    if examples:
        lines = "\n".join(f"  {line}" for line in examples)
        parser.epilog = (f"{parser.epilog}\n\n" if parser.epilog else "") + f"examples:\n{lines}"
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for child in _children(parser).values():
        add_examples(child)


def overview(parser: argparse.ArgumentParser) -> str:
    """What a bare ``slotcap`` prints: one line per command and where to start."""
    lines = [f"slotcap {_version()} — {parser.description}", "", "commands:"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:  # each command's one-line help
                lines.append(f"  {choice.dest:<14} {choice.help or ''}")
    lines += ["", "start here:", *(f"  {line}" for line in EXAMPLES[""])]
    return "\n".join(lines)


def _version() -> str:
    # Read only when asked (--version, the overview): no cost to any other command.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("slotcap")
    except PackageNotFoundError:  # pragma: no cover (a source tree run without installing)
        return "(not installed)"


class VersionAction(argparse.Action):
    """``--version``: ``slotcap X.Y.Z`` on stdout, exit 0."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"slotcap {_version()}")
        parser.exit()


def _selected(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The deepest (sub)command ``argv`` names."""
    for token in argv:
        child = _children(parser).get(token)
        if child is not None:
            parser = child
    return parser


def _unknown_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    known = set(parser._option_string_actions)
    # A token after an option taking a value is that value, not an option: skip them.
    unknown, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in known:
            action = parser._option_string_actions[name]
            skip = "=" not in token and action.nargs != 0
        elif token.startswith("--") and len(token) > 2:
            unknown.append(name)
    return unknown


def _closest(word: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def explain(
    parser: argparse.ArgumentParser, failed: argparse.ArgumentParser, message: str,
    argv: list[str],
) -> tuple[argparse.ArgumentParser, str]:
    """The parser whose usage to show and argparse's ``message`` made helpful: unknown
    options first, in the order typed, each with the closest real option; an invalid
    command with the closest command; a missing ACTION with the actions to choose from.
    The caller has already kept any argument that holds a URL out of ``message``."""
    selected = _selected(parser, argv)
    unknown = _unknown_options(selected, argv)
    if unknown:
        options = sorted(o for o in selected._option_string_actions if o.startswith("--"))
        named = "; ".join(f"{o}{_closest(o, options)}" for o in unknown)
        return selected, f"unrecognized option{'s' if len(unknown) > 1 else ''}: {named}"
    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if choice is not None:
        names = re.findall(r"'([^']*)'", choice.group(2))
        return failed, (f"{message.split(':', 1)[0]}: invalid choice: {choice.group(1)!r}"
                        f"{_closest(choice.group(1), names)}; choose from {', '.join(names)}")
    if message.endswith(("required: ACTION", "required: COMMAND")):
        names = list(_children(failed))
        return failed, f"{message} (one of: {', '.join(names)})"
    return failed, message
