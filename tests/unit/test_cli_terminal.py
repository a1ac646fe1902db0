"""The CLI's terminal output (#23): tables folded to the terminal's width, colour only for
a person at a terminal (never in a pipe, with NO_COLOR, or in --json), a progress bar
with rate and ETA on long steps — rich's on a terminal, plain lines elsewhere or
without the cli extra."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.e2e.cli_run import run

from slotcap.cli._progress import Bar
from slotcap.cli._render import _wrap, paint, print_table, width
from slotcap.cli.main import main


class Terminal(io.StringIO):
    """What a terminal looks like to the CLI: a stream that says it is a tty."""

    def isatty(self) -> bool:
        return True


words = st.text(st.sampled_from("abcXYZ=_,0123456789예약"), min_size=1, max_size=30)


@given(st.lists(words, max_size=12).map(" ".join), st.integers(2, 60))
def test_folding_keeps_every_character_and_fits_the_column(text: str, size: int) -> None:
    lines = _wrap(text, size)
    assert all(width(line) <= size for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


@given(st.lists(st.tuples(words, words, st.lists(words, max_size=20).map(" ".join)),
                min_size=1, max_size=6), st.integers(50, 120))
def test_a_table_fits_the_terminal(rows: list[tuple[str, str, str]], columns: int) -> None:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", str(columns))
        print_table(("check", "phase", "detail"), rows, out=out)
    lines = out.getvalue().splitlines()
    # The folded column keeps at least 12 columns; the others are never folded.
    narrowest_possible = (max(width("check"), *(width(r[0]) for r in rows))
                          + max(width("phase"), *(width(r[1]) for r in rows)) + 12 + 4)
    if narrowest_possible <= columns:
        assert all(width(line) <= columns for line in lines)
    assert lines[0].startswith("check") and set(lines[1]) <= {"-", " "}


def test_without_columns_a_pipe_gets_one_line_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()
    print_table(("a", "b"), [("x", "y " * 100)], out=out)
    assert len(out.getvalue().splitlines()) == 3


@pytest.mark.parametrize(("tty", "no_color", "coloured"), [
    (True, None, True), (True, "1", False), (False, None, False)])
def test_colour_only_for_a_terminal_without_no_color(
        tty: bool, no_color: str | None, coloured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)
    out = Terminal() if tty else io.StringIO()
    print_table(("check", "result"), [("a", "PASS"), ("b", "FAIL")], out=out,
                colours={"PASS": "green", "FAIL": "red"})
    assert ("\x1b[31mFAIL\x1b[0m" in out.getvalue()) is coloured
    assert (paint("healthy", "green", out) != "healthy") is coloured


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("terminal") / "demo.db"
    with io.StringIO() as sink:
        saved = sys.stdout
        sys.stdout = sink
        try:
            assert main(["demo", "--path", str(path), "--rows", "300", "--json"]) == 0
        finally:
            sys.stdout = saved
    return path


def test_validate_fits_80_columns_and_json_never_has_colour(
        demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # validate's table was 158 columns wide.
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for argv, is_json in ((["validate"], False), (["validate", "--json"], True)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        assert main([*argv, "--database", f"sqlite:///{demo_db}", "--phase", "phase2"]) == 1
        text = terminal.getvalue()
        if is_json:
            assert "\x1b[" not in text
            json.loads(text)
        else:
            assert all(width(line.replace("\x1b[32m", "").replace("\x1b[31m", "")
                             .replace("\x1b[33m", "").replace("\x1b[0m", "")) <= 80
                       for line in text.splitlines())
            assert "\x1b[32mPASS\x1b[0m" in text


def test_the_demo_shows_progress_while_it_generates_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `demo --rows 100000` was silent for 25 s.
    code, _, err = run(capsys, "demo", "--path", str(tmp_path / "d.db"), "--rows", "4500")
    assert code == 0
    last = [line for line in err.splitlines() if line.startswith("generating reservations")][-1]
    assert "4,500/4,500 rows (100%)" in last and "rows/s" in last and "ETA" in last


def test_a_terminal_gets_riches_bar_and_a_pipe_or_no_rich_plain_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    bar = Bar("step", 10, out=terminal)
    bar.update(5)
    bar.finish()
    assert "step" in terminal.getvalue() and "5/10" in terminal.getvalue()
    assert "rows/s" in terminal.getvalue()
    monkeypatch.setitem(sys.modules, "rich.progress", None)  # the cli extra not installed
    terminal = Terminal()
    bar = Bar("step", 10, out=terminal, interval=0)
    bar.update(10)
    bar.finish()
    assert terminal.getvalue().startswith("step: 10/10 rows (100%),")
