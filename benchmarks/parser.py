"""µs per ``parse_preferred_time`` call, against python-dateutil (and dateparser).

    python -m benchmarks.parser --json benchmarks/results/parser.json

Texts: ``shared/data/preferred_times_sample.tsv`` (text, expected label). Every call is
timed on its own; the texts are visited in a shuffled order, ``--reps`` times, and the
candidates run round-robin on each text:

* ``slotcap (cache warm)`` — the text was parsed just before (untimed), so this is a
  cache hit: what a booking pays for a time string it has seen;
* ``slotcap (cache cold)`` — the parse cache is cleared before the call (untimed): the
  full normalise → lex → group → resolve pipeline, every time;
* ``slotcap, hours=list of 11 slots (cold)`` — the same with the clinic's hours passed
  as a fresh list, as a store's ``list_time_slots()`` returns them (they are hashed to
  key the cache on every call);
* ``dateutil parse(fuzzy=True)`` — a baseline that reads a clock and no period: hour
  < 12 is taken for MORNING; an exception counts as "no answer";
* ``dateparser.parse`` — only if the package is importable (it is not a dependency),
  in a second, shorter round against the warm slotcap call;
* ``empty call`` — the timer's own overhead.

Agreement with the file's labels (NONE = the parser must abstain) is reported too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    Stats,
    Target,
    add_common_arguments,
    finish,
    render_table,
    repo_root,
    say,
    summarize,
)
from slotcap.domain import timeparse
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period
from slotcap.domain.timeparse import parse_preferred_time

WARM = "slotcap (cache warm)"
COLD = "slotcap (cache cold)"
HOURS_COLD = "slotcap, hours=list (cold)"
DATEUTIL = "dateutil parse(fuzzy=True)"
DATEPARSER = "dateparser.parse"
EMPTY = "empty call"

DEFAULT_SAMPLE = repo_root().parent / "shared" / "data" / "preferred_times_sample.tsv"
if not DEFAULT_SAMPLE.exists():  # a clone away from shared/: the repository's copy
    DEFAULT_SAMPLE = repo_root() / "tests" / "data" / "preferred_times_sample.tsv"

Prepare = Callable[[str], object] | None
Candidate = tuple[str, Prepare, Callable[[str], object]]


def load_sample(path: Path) -> list[tuple[str, str]]:
    """(text, label) pairs; label is MORNING, AFTERNOON or NONE."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) >= 2:
            pairs.append((parts[0], parts[1]))
    if not pairs:
        raise SystemExit(f"no texts in {path}")
    return pairs


def _clear_parse_cache() -> None:
    cached = getattr(timeparse, "_parse_cached", None)
    clear = getattr(cached, "cache_clear", None)
    if clear is None:
        raise SystemExit("slotcap's parser has no cache to clear: update benchmarks/parser.py")
    clear()


def _hour_period(value: Any) -> str | None:
    if not isinstance(value, dt.datetime):
        return None
    return "MORNING" if value.hour < 12 else "AFTERNOON"


def _dateutil() -> Callable[[str], object]:
    from dateutil import parser as du

    def parse(text: str) -> object:
        try:
            return du.parse(text, fuzzy=True)
        except (ValueError, OverflowError):
            return None

    return parse


def _dateparser() -> Callable[[str], object] | None:
    try:
        module: Any = importlib.import_module("dateparser")
    except ImportError:
        return None
    parse: Callable[[str], object] = module.parse
    return parse


def _timed(
    candidates: Sequence[Candidate], keys: Sequence[str], warmup: int
) -> dict[str, Stats]:
    samples: dict[str, list[int]] = {name: [] for name, _, _ in candidates}
    clock = time.perf_counter_ns
    order = list(candidates)
    gc.collect()
    for i, text in enumerate(keys):
        shift = i % len(order)
        for name, prepare, fn in order[shift:] + order[:shift]:
            if prepare is not None:
                prepare(text)
            started = clock()
            fn(text)
            elapsed = clock() - started
            if i >= warmup:
                samples[name].append(elapsed)
    return {name: summarize(v) for name, v in samples.items()}


def _agreement(sample: Sequence[tuple[str, str]], read: Callable[[str], str | None]) -> float:
    hits = 0
    for text, label in sample:
        got = read(text)
        hits += (got or "NONE") == label
    return hits / len(sample)


def run(
    sample: Sequence[tuple[str, str]], *, reps: int, dateparser_reps: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    texts = [t for t, _ in sample]
    keys: list[str] = []
    for _ in range(reps):
        batch = texts[:]
        rng.shuffle(batch)
        keys.extend(batch)
    hours_list = list(DEFAULT_TIME_SLOTS)
    dateutil_parse = _dateutil()

    def empty(text: str) -> object:
        return None

    def warm_prepare(text: str) -> object:
        return parse_preferred_time(text)

    def cold_prepare(text: str) -> object:
        _clear_parse_cache()
        return None

    candidates: list[Candidate] = [
        (WARM, warm_prepare, parse_preferred_time),
        (COLD, cold_prepare, parse_preferred_time),
        (HOURS_COLD, cold_prepare, lambda text: parse_preferred_time(text, hours=list(hours_list))),
        (DATEUTIL, None, dateutil_parse),
        (EMPTY, None, empty),
    ]
    say(f"[parser] {len(keys):,} calls per candidate over {len(texts)} texts …")
    stats = _timed(candidates, keys, warmup=len(texts))

    dateparser_parse = _dateparser()
    second: dict[str, Stats] = {}
    if dateparser_parse is not None:
        dp_keys = keys[: len(texts) * dateparser_reps]
        say(f"[parser] dateparser: {len(dp_keys):,} calls …")
        dateparser_parse(texts[0])  # load its language data outside the clock
        second = _timed(
            [(WARM, warm_prepare, parse_preferred_time), (DATEPARSER, None, dateparser_parse)],
            dp_keys, warmup=min(10, len(dp_keys) // 2),
        )

    def slotcap_label(text: str) -> str | None:
        p = parse_preferred_time(text).period
        return None if p is None else Period(p).value

    agreement = {
        WARM: _agreement(sample, slotcap_label),
        DATEUTIL: _agreement(sample, lambda t: _hour_period(dateutil_parse(t))),
    }
    if dateparser_parse is not None:
        agreement[DATEPARSER] = _agreement(sample, lambda t: _hour_period(dateparser_parse(t)))
    return {
        "benchmark": "parser",
        "params": {"texts": len(texts), "reps": reps, "dateparser_reps": dateparser_reps,
                   "seed": seed, "dateparser_installed": dateparser_parse is not None},
        "candidates": {k: v.to_dict() for k, v in stats.items()},
        "dateparser_round": {k: v.to_dict() for k, v in second.items()},
        "agreement_with_labels": {k: round(v, 3) for k, v in agreement.items()},
    }


def targets(payload: dict[str, Any]) -> list[Target]:
    c = payload["candidates"]
    warm, cold = c[WARM]["p50_us"], c[COLD]["p50_us"]
    return [
        Target("parser median per call, cache warm", f"{warm:.2f} µs", "≤ 5 µs", warm <= 5),
        Target("parser median per call, cache cold", f"{cold:.2f} µs", "≤ 5 µs", cold <= 5),
    ]


def tables(payload: dict[str, Any]) -> str:
    c = payload["candidates"]
    agree = payload["agreement_with_labels"]
    warm = c[WARM]["p50_us"]
    # The three slotcap rows are the same function, so the same answers.
    agree_of = {WARM: agree[WARM], COLD: agree[WARM], HOURS_COLD: agree[WARM], **agree}
    rows = [
        (name, s["p50_us"], s["p99_us"], s["mean_us"], _times(s["p50_us"], warm),
         f"{agree_of[name] * 100:.0f}%" if name in agree_of else "")
        for name, s in c.items()
    ]
    second = payload["dateparser_round"]
    if second:
        dp, w2 = second[DATEPARSER], second[WARM]
        rows.append((f"{DATEPARSER} (2nd round)", dp["p50_us"], dp["p99_us"], dp["mean_us"],
                     _times(dp["p50_us"], w2["p50_us"]), f"{agree[DATEPARSER] * 100:.0f}%"))
    return "Parser (µs per call)\n\n" + render_table(
        ["candidate", "p50 µs", "p99 µs", "mean µs", "× slotcap warm", "agrees with label"],
        rows,
    )


def _times(value: float, reference: float) -> str:
    return f"{value / reference:.1f}×" if reference else "—"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.parser", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE,
                        help="TSV of text<TAB>label (default: %(default)s)")
    parser.add_argument("--reps", type=int, default=None,
                        help="passes over the texts (default 300; --quick 5)")
    parser.add_argument("--dateparser-reps", type=int, default=None,
                        help="passes for dateparser, which is slow (default 10; --quick 1)")
    args = parser.parse_args(argv)
    sample = load_sample(args.sample)
    payload = run(
        sample,
        reps=args.reps or (5 if args.quick else 300),
        dateparser_reps=args.dateparser_reps or (1 if args.quick else 10),
        seed=args.seed,
    )
    finish(payload, targets_of=targets, tables_of=tables, pg_url=args.pg_url,
           json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
