"""``python -m tests.killpoint_launcher [--kill-at LABEL] [--log FILE] -- ARGS``: run
``slotcap ARGS`` as ``python -m slotcap.cli`` would, with a checkpoint hook installed.

The shipped CLI passes no checkpoint hook and reads no test variable; the kill-point
tests start this launcher instead, which hands ``slotcap.cli.main.main`` a hook that

* ``--log FILE``: appends every checkpoint label reached, one per line (flushed and
  fsynced, so a SIGKILL right after loses nothing);
* ``--kill-at LABEL`` or ``LABEL#N``: SIGKILLs this process the first (or N-th) time
  that label is reached.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["checkpoint_hook", "launcher_argv", "launcher_env", "main"]

#: The repository's root: ``tests`` is importable from there whatever the cwd.
ROOT = Path(__file__).resolve().parents[1]


def _wanted(spec: str) -> tuple[str, int]:
    label, sep, nth = spec.rpartition("#")
    if sep and nth.isdigit() and int(nth) >= 1:
        return label, int(nth)
    return spec, 1


def checkpoint_hook(*, kill_at: str | None = None,
                    log: str | None = None) -> Callable[[str], None]:
    """A hook that logs each label to ``log`` and SIGKILLs the process at ``kill_at``."""
    counts: dict[str, int] = {}
    wanted = _wanted(kill_at) if kill_at else None

    def reached(label: str) -> None:
        count = counts[label] = counts.get(label, 0) + 1
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(label + "\n")
                out.flush()
                os.fsync(out.fileno())
        if wanted is not None and wanted == (label, count):
            os.kill(os.getpid(), signal.SIGKILL)

    return reached


def launcher_argv(*args: str, kill_at: str | None = None, log: str | None = None) -> list[str]:
    """The command line that runs ``slotcap *args`` through this launcher."""
    options = [*(("--kill-at", kill_at) if kill_at else ()), *(("--log", log) if log else ())]
    return [sys.executable, "-m", "tests.killpoint_launcher", *options, "--", *args]


def launcher_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the repository's root first on ``PYTHONPATH`` (for ``-m tests…``)."""
    path = [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.killpoint_launcher")
    parser.add_argument("--kill-at", dest="kill_at", metavar="LABEL[#N]")
    parser.add_argument("--log", metavar="FILE")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    args = list(options.args)
    if args[:1] == ["--"]:
        args = args[1:]
    from slotcap.cli.main import main as slotcap_main

    return slotcap_main(args, checkpoint=checkpoint_hook(kill_at=options.kill_at,
                                                         log=options.log))


if __name__ == "__main__":
    sys.exit(main())
