"""How long `slotcap --help` and `import slotcap` take, and what they load.

    python -m benchmarks.cli_startup [--runs N] [--src DIR]

Each command runs ``N`` times as a fresh process (Python's own start-up included, shown
on its own line as the floor); the median and the minimum are printed. ``--src`` runs
another source tree instead of the installed one (e.g. a checkout of an older commit,
to compare before and after). Issue #23: `slotcap --help` must stay well under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": ["-c", "pass"],
    "import slotcap": ["-c", "import slotcap"],
    "slotcap --help": ["-m", "slotcap.cli", "--help"],
    "slotcap --version": ["-m", "slotcap.cli", "--version"],
}
PROBE = ("import sys, contextlib, io\nfrom slotcap.cli.main import main\n"
         "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])\n"
         "print(len([m for m in sys.modules if m.startswith('slotcap')]), "
         "'psycopg' in sys.modules, 'rich' in sys.modules)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--src", help="a source tree to run instead of the installed one")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = args.src
    for name, argv in CASES.items():
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            # Not checked: an older tree may lack --version (timed all the same).
            subprocess.run([sys.executable, *argv], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - began)
        print(f"{name:<18} median {statistics.median(times) * 1000:6.0f} ms   "
              f"min {min(times) * 1000:6.0f} ms   ({args.runs} runs)")
    loaded = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, check=False).stdout.split() or ["?", "?", "?"]
    print(f"after --help: {loaded[0]} slotcap modules loaded, psycopg loaded: {loaded[1]}, "
          f"rich loaded: {loaded[2]}")


if __name__ == "__main__":
    main()
