"""µs per ``parse_preferred_time`` call on texts it has never seen, against python-dateutil.

    python -m benchmarks.parser --json benchmarks/results/parser.json

The corpus is a mix of real-looking texts, every one unique, so every timed slotcap call
is the text's **first sight** (the cache is cleared once before the round and never
holds the text: what a migration pays on a column of distinct values):

* ``sample`` — ``shared/data/preferred_times_sample.tsv`` (text, expected label);
* ``production shapes`` — the distinct ``preferredTime`` values of the demo data
  (``slotcap.demo.data``: the sample's families, in production's proportions,
  every clock the clinic's hours allow);
* ``variants`` — texts of the two parts above as people decorate them: sentence text
  around them ("희망 시간: …", "… 쯤", "… please"), full-width characters, case, and two
  of them offered as options ("A나 B", "A or B") or a range ("A~B", "A부터 B까지");
* ``words & negations`` — the held-out sets of issue 24 (``tests/data/preferred_times_
  {words,negations,daily,blind,blind2}.tsv``: English number words, negations, open bounds,
  European clocks, daily-life phrases, typing slips), each text once.

The first three are the common digit shapes; the last is what issue 24 taught the parser.

Every call is timed on its own; the candidates run round-robin on each text:

* ``slotcap (first sight)`` — the full normalise → quick path / lex → group → resolve;
* ``dateutil parse(fuzzy=True)`` — a baseline that reads a clock and no period: hour
  < 12 is taken for MORNING; an exception counts as "no answer";
* ``slotcap before (REV)`` — with ``--baseline REV``, the parser as it was at git revision
  REV, loaded from ``git show`` under another package name and timed in the same rounds
  on the same texts (its cache cleared too): before/after measured side by side;
* ``empty call`` — the timer's own overhead.

A second round times ``slotcap (cache warm)`` (the text parsed just before, untimed),
and ``dateparser.parse`` against it only if that package is importable (it is not a
dependency). Agreement with the sample's labels (NONE = the parser must abstain) is
reported too.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._cli import benchmark_parser
from benchmarks._harness import (
    Stats,
    Target,
    finish,
    render_table,
    repo_root,
    say,
    summarize,
)
from slotcap.demo.data import LEGACY_ROW_COLUMNS, generate_reservations
from slotcap.domain import timeparse
from slotcap.domain.model import Period
from slotcap.domain.timeparse import parse_preferred_time

FIRST = "slotcap (first sight)"
WARM = "slotcap (cache warm)"
DATEUTIL = "dateutil parse(fuzzy=True)"
DATEPARSER = "dateparser.parse"
EMPTY = "empty call"
NEW_FAMILIES = "words & negations"
GENERAL_PATH = "(of the first three: off the quick path)"
PARTS = ("sample", "production shapes", "variants", NEW_FAMILIES)
HELD_OUT = tuple(
    repo_root() / "tests" / "data" / f"preferred_times_{name}.tsv"
    for name in ("words", "negations", "daily", "blind", "blind2")
)

DEFAULT_SAMPLE = repo_root().parent / "shared" / "data" / "preferred_times_sample.tsv"
if not DEFAULT_SAMPLE.exists():  # a clone away from shared/: the repository's copy
    DEFAULT_SAMPLE = repo_root() / "tests" / "data" / "preferred_times_sample.tsv"

Prepare = Callable[[str], object] | None
Candidate = tuple[str, Prepare, Callable[[str], object]]

_PREFIXES = ("희망 시간: ", "가능하면 ", "around ", "약 ", "preferred: ", "")
_SUFFIXES = ("쯤", "에 가능해요", " please", "요", "!", " 정도", " 희망합니다", "")
_OPTIONS = ("{}나 {}", "{} or {}", "{}, {}", "{}~{}", "{} - {}", "{}부터 {}까지")


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


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def _decorate(rng: random.Random, text: str) -> str:
    if rng.random() < 0.2:
        text = _fullwidth(text)
    elif rng.random() < 0.2:
        text = text.upper() if rng.random() < 0.5 else text.lower()
    return rng.choice(_PREFIXES) + text + rng.choice(_SUFFIXES)


def held_out_texts() -> list[str]:
    """The texts of issue 24's held-out sets (labels are the tests' business)."""
    texts: list[str] = []
    for path in HELD_OUT:
        texts += [text for text, _ in load_sample(path)]
    return texts


def corpus(
    sample: Sequence[str], *, variants: int, seed: int, new_families: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(part, text) for distinct texts: the sample, production shapes, their variants,
    and the new families."""
    rng = random.Random(seed)
    column = LEGACY_ROW_COLUMNS.index("preferredTime")
    rows = generate_reservations(20_000, seed=seed, today=dt.date(2026, 1, 5))
    seen = dict.fromkeys(sample)
    shapes = [t for t in dict.fromkeys(str(row[column]) for row in rows) if t not in seen]
    out = [("sample", t) for t in seen] + [("production shapes", t) for t in shapes]
    seen.update(dict.fromkeys(shapes))
    bases = [*sample, *shapes]
    attempts = 0
    while sum(part == "variants" for part, _ in out) < variants and attempts < 50 * variants:
        attempts += 1
        if rng.random() < 0.75:
            text = _decorate(rng, rng.choice(bases))
        else:
            text = rng.choice(_OPTIONS).format(rng.choice(bases), rng.choice(bases))
        if text not in seen:
            seen[text] = None
            out.append(("variants", text))
    out += [(NEW_FAMILIES, text) for text in dict.fromkeys(new_families) if text not in seen]
    rng.shuffle(out)
    return out


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
    candidates: Sequence[Candidate], keys: Sequence[str], warmup: int, *, seed: int = 0
) -> dict[str, list[int]]:
    """Nanoseconds per call, per candidate, in the order of ``keys`` (after ``warmup``).

    The candidates run in a fresh random order on each text. A fixed rotation would give
    each candidate the same predecessor every time, and the one that always runs right
    after dateutil (whose calls evict the CPU caches) would be measured colder than the
    one that always runs right after it: with four candidates that bias alone made the
    same quick path look 30 % slower in one of two copies.
    """
    samples: dict[str, list[int]] = {name: [] for name, _, _ in candidates}
    clock = time.perf_counter_ns
    shuffle = random.Random(seed).sample
    gc.collect()
    for i, text in enumerate(keys):
        for name, prepare, fn in shuffle(candidates, len(candidates)):
            if prepare is not None:
                prepare(text)
            started = clock()
            fn(text)
            elapsed = clock() - started
            if i >= warmup:
                samples[name].append(elapsed)
    return samples


def _agreement(sample: Sequence[tuple[str, str]], read: Callable[[str], str | None]) -> float:
    hits = 0
    for text, label in sample:
        got = read(text)
        hits += (got or "NONE") == label
    return hits / len(sample)


def _clear_parse_cache(module: Any = timeparse) -> None:
    clear = getattr(module, "_clear_caches", None)
    if clear is None:
        raise SystemExit("slotcap's parser has no cache to clear: update benchmarks/parser.py")
    clear()


_BASELINE_PACKAGE = "_slotcap_timeparse_baseline"


def load_baseline(rev: str) -> Any:
    """The parser package as it was at git revision ``rev``, importable beside today's.

    Its files come from ``git show``; ``slotcap.domain.timeparse`` in them is renamed to a
    package of its own, so both versions run in one process, on the same texts, in the
    same rounds (the rest of slotcap, its model and defaults, is shared).
    """
    root = repo_root()
    listing = subprocess.run(
        ["git", "-C", str(root), "ls-tree", "--name-only", rev, "src/slotcap/domain/timeparse/"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    folder = Path(tempfile.mkdtemp(prefix="slotcap_parser_baseline_")) / _BASELINE_PACKAGE
    folder.mkdir()
    for path in listing:
        if not path.endswith(".py"):
            continue
        source = subprocess.run(
            ["git", "-C", str(root), "show", f"{rev}:{path}"],
            capture_output=True, text=True, check=True,
        ).stdout
        (folder / Path(path).name).write_text(
            source.replace("slotcap.domain.timeparse", _BASELINE_PACKAGE), encoding="utf-8"
        )
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module(_BASELINE_PACKAGE)


def run(
    sample: Sequence[tuple[str, str]], *, variants: int, warm_reps: int,
    dateparser_texts: int, seed: int, baseline: str | None = None, rounds: int = 1,
) -> dict[str, Any]:
    texts = corpus([t for t, _ in sample], variants=variants, seed=seed,
                   new_families=held_out_texts())
    keys = [text for _, text in texts]
    dateutil_parse = _dateutil()
    before = load_baseline(baseline) if baseline else None
    before_name = f"slotcap before ({baseline})"

    def empty(text: str) -> object:
        return None

    # The first few calls warm the interpreter, not the cache: they are texts of their
    # own, never timed, never repeated.
    warmup = [f"warm-up {i}:{i % 60:02d}" for i in range(50)]
    candidates: list[Candidate] = [(FIRST, None, parse_preferred_time),
                                   (DATEUTIL, None, dateutil_parse), (EMPTY, None, empty)]
    if before is not None:
        candidates.insert(1, (before_name, None, before.parse_preferred_time))
    say(f"[parser] {len(keys):,} distinct texts, one first-sight call each, "
        f"{rounds} round(s) …")
    # Each round empties the caches first, so every timed call is still a first sight;
    # a text's figure is its median over the rounds (one call each).
    per_round = []
    for number in range(rounds):
        _clear_parse_cache()
        if before is not None:
            _clear_parse_cache(before)
        per_round.append(_timed(candidates, warmup + keys, warmup=len(warmup),
                                seed=seed + number))
    raw = {name: [round(statistics.median(r[name][i] for r in per_round))
                  for i in range(len(keys))] for name, _, _ in candidates}
    stats = {name: summarize(v) for name, v in raw.items()}
    by_part: dict[str, dict[str, Any]] = {}
    compared = (FIRST, DATEUTIL) + ((before_name,) if before is not None else ())
    for part in PARTS:
        index = [i for i, (p, _) in enumerate(texts) if p == part]
        by_part[part] = {"texts": len(index)} | {
            name: round(statistics.median(raw[name][i] for i in index) / 1000, 2)
            for name in compared
        }
    # The digit shapes the quick path does not answer (options, ranges, open bounds of
    # the first three parts): where the lexer and the grouping are paid for.
    quick = getattr(timeparse, "_QUICK", None)
    if quick is not None:
        from slotcap.domain.timeparse._normalise import normalise

        general = [i for i, (p, t) in enumerate(texts)
                   if p != NEW_FAMILIES and quick.fullmatch(normalise(t)) is None]
        by_part[GENERAL_PATH] = {"texts": len(general)} | {
            name: round(statistics.median(raw[name][i] for i in general) / 1000, 2)
            for name in compared
        }
    # The corpus the ≤ 5 µs target was set on (issue 5): every part but the new families.
    digit_index = [i for i, (p, _) in enumerate(texts) if p != NEW_FAMILIES]
    digit_corpus = {
        name: round(statistics.median(raw[name][i] for i in digit_index) / 1000, 2)
        for name in compared
    }

    def warm_prepare(text: str) -> object:
        return parse_preferred_time(text)

    warm_keys = keys[: len(keys) // max(1, len(keys) // 2000)] * warm_reps
    second = _timed([(WARM, warm_prepare, parse_preferred_time), (EMPTY, None, empty)],
                    warm_keys, warmup=0)
    stats[WARM] = summarize(second[WARM])
    dateparser_parse = _dateparser()
    third: dict[str, Stats] = {}
    if dateparser_parse is not None:
        dp_keys = keys[:dateparser_texts]
        say(f"[parser] dateparser: {len(dp_keys):,} calls …")
        dateparser_parse(keys[0])  # load its language data outside the clock
        third = {name: summarize(v) for name, v in _timed(
            [(WARM, warm_prepare, parse_preferred_time), (DATEPARSER, None, dateparser_parse)],
            dp_keys, warmup=min(10, len(dp_keys) // 2),
        ).items()}

    def slotcap_label(text: str) -> str | None:
        p = parse_preferred_time(text).period
        return None if p is None else Period(p).value

    agreement = {
        FIRST: _agreement(sample, slotcap_label),
        DATEUTIL: _agreement(sample, lambda t: _hour_period(dateutil_parse(t))),
    }
    held_out = [pair for path in HELD_OUT for pair in load_sample(path)]
    held_out_agreement = {
        FIRST: _agreement(held_out, slotcap_label),
        DATEUTIL: _agreement(held_out, lambda t: _hour_period(dateutil_parse(t))),
    }
    if before is not None:
        def before_label(text: str) -> str | None:
            p = before.parse_preferred_time(text).period
            return None if p is None else Period(p).value

        held_out_agreement[before_name] = _agreement(held_out, before_label)
    if dateparser_parse is not None:
        agreement[DATEPARSER] = _agreement(sample, lambda t: _hour_period(dateparser_parse(t)))
    return {
        "benchmark": "parser",
        "params": {"texts": len(keys), "sample_texts": len(sample), "variants": variants,
                   "warm_reps": warm_reps, "seed": seed, "baseline": baseline,
                   "rounds": rounds,
                   "dateparser_installed": dateparser_parse is not None},
        "candidates": {k: v.to_dict() for k, v in stats.items()},
        "p50_us_by_part": by_part,
        "p50_us_without_new_families": digit_corpus,
        "dateparser_round": {k: v.to_dict() for k, v in third.items()},
        "agreement_with_labels": {k: round(v, 3) for k, v in agreement.items()},
        "agreement_with_held_out_labels": {
            k: round(v, 3) for k, v in held_out_agreement.items()
        },
    }


def _baseline_name(payload: dict[str, Any]) -> str | None:
    rev = payload["params"].get("baseline")
    return f"slotcap before ({rev})" if rev else None


def targets(payload: dict[str, Any]) -> list[Target]:
    c = payload["candidates"]
    first, warm = c[FIRST]["p50_us"], c[WARM]["p50_us"]
    speedup = c[DATEUTIL]["p50_us"] / first
    digits = payload["p50_us_without_new_families"][FIRST]
    found = [
        Target("parser median per call, first sight (issue 5's mixed corpus: sample, "
               "production shapes, variants)", f"{digits:.2f} µs", "≤ 5 µs", digits <= 5),
        Target("parser median per call, cache warm", f"{warm:.2f} µs", "≤ 5 µs", warm <= 5),
        Target("first sight vs dateutil fuzzy, same texts (median, whole corpus)",
               f"{speedup:.1f}×", "≥ 4×", speedup >= 4),
    ]
    before = _baseline_name(payload)
    if before is not None:
        for part in ("sample", "production shapes"):
            v = payload["p50_us_by_part"][part]
            ratio = v[before] / v[FIRST]
            found.append(Target(f"common digit shapes ({part}): before / after", f"{ratio:.2f}×",
                                "≥ 1.0× (not slower)", ratio >= 1.0))
    return found


def tables(payload: dict[str, Any]) -> str:
    c = payload["candidates"]
    agree = payload["agreement_with_labels"]
    first = c[FIRST]["p50_us"]
    agree_of = {WARM: agree[FIRST], **agree}
    rows = [
        (name, s["p50_us"], s["p99_us"], s["mean_us"], _times(s["p50_us"], first),
         f"{agree_of[name] * 100:.0f}%" if name in agree_of else "")
        for name, s in c.items()
    ]
    third = payload["dateparser_round"]
    if third:
        dp, w = third[DATEPARSER], third[WARM]
        rows.append((f"{DATEPARSER} (3rd round, × warm)", dp["p50_us"], dp["p99_us"],
                     dp["mean_us"], _times(dp["p50_us"], w["p50_us"]),
                     f"{agree[DATEPARSER] * 100:.0f}%"))
    before = _baseline_name(payload)
    headers = ["part", "texts", FIRST, DATEUTIL, "dateutil / slotcap"]
    if before is not None:
        headers += [before, "before / after"]
    parts = []
    for part, v in payload["p50_us_by_part"].items():
        row = [part, v["texts"], v[FIRST], v[DATEUTIL], _times(v[DATEUTIL], v[FIRST])]
        if before is not None:
            row += [v[before], _times(v[before], v[FIRST])]
        parts.append(tuple(row))
    return (
        f"Parser (µs per call; {payload['params']['texts']:,} distinct texts)\n\n"
        + render_table(
            ["candidate", "p50 µs", "p99 µs", "mean µs", "× slotcap first sight",
             "agrees with label"], rows)
        + "\n\nMedian by part of the corpus (µs)\n\n"
        + render_table(headers, parts)
        + "\n\nAgrees with the labels of the held-out sets (words & negations): "
        + ", ".join(f"{name} {value * 100:.0f}%"
                    for name, value in payload["agreement_with_held_out_labels"].items())
    )


def _times(value: float, reference: float) -> str:
    return f"{value / reference:.1f}×" if reference else "—"


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("parser", __doc__)
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE,
                        help="TSV of text<TAB>label (default: %(default)s)")
    parser.add_argument("--variants", type=int, default=None,
                        help="distinct decorated / combined texts (default 3000; --quick 300)")
    parser.add_argument("--warm-reps", type=int, default=None,
                        help="passes of the cache-warm round (default 5; --quick 1)")
    parser.add_argument("--dateparser-texts", type=int, default=None,
                        help="texts for dateparser, which is slow (default 500; --quick 50)")
    parser.add_argument("--baseline", metavar="REV", default=None,
                        help="also time the parser as it was at git revision REV, side by side")
    parser.add_argument("--rounds", type=int, default=1,
                        help="first-sight rounds (caches emptied before each); a text's "
                             "figure is its median over them (default 1)")
    args = parser.parse_args(argv)
    sample = load_sample(args.sample)
    payload = run(
        sample,
        variants=args.variants or (300 if args.quick else 3000),
        warm_reps=args.warm_reps or (1 if args.quick else 5),
        dateparser_texts=args.dateparser_texts or (50 if args.quick else 500),
        seed=args.seed,
        baseline=args.baseline,
        rounds=max(1, args.rounds),
    )
    finish(payload, targets_of=targets, tables_of=tables, pg_url=args.pg_url,
           json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
