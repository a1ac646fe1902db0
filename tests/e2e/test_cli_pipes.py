"""A reader that closes the pipe never changes what a command does or reports (#23).

``slotcap migrate --to phase1 2>&1 | head -1`` used to abort the migration at its next
progress line and exit 0 (``migrate status``: INTERRUPTED); ``migrate --to phase2 | head``
exited 0 where rows await review (1). Real subprocesses: the closed pipe is the point.
The reader here closes its end before the command writes anything, so every write of
the command fails — the harshest case, and deterministic.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slotcap.cli.main import main
from slotcap.migration import status

#: Closed pipes need a real process.
pytestmark = pytest.mark.subprocess


def _slotcap_into_closed_pipe(*args: str) -> int:
    """The exit code of ``slotcap *args 2>&1 | <a reader that already left>``."""
    proc = subprocess.Popen([sys.executable, "-m", "slotcap.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    proc.stdout.close()
    return proc.wait(timeout=120)


# One engine is enough: the streams are the point, not the database.
@pytest.mark.parametrize("sql_url", ["sqlite"], indirect=True)
def test_a_migration_into_a_closed_pipe_finishes_and_exits_0(legacy_url: str) -> None:
    code = _slotcap_into_closed_pipe("migrate", "--to", "phase1", "--database", legacy_url)
    assert code == 0
    current = status(legacy_url)
    assert (current.state, current.phase) == ("settled", "phase1")


def test_rows_awaiting_review_exit_1_even_into_a_closed_pipe(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = tmp_path / "demo.db"
    assert main(["demo", "--path", str(demo), "--rows", "300", "--json"]) == 0
    capsys.readouterr()
    url = f"sqlite:///{demo}"
    code = _slotcap_into_closed_pipe("migrate", "--to", "phase2", "--database", url)
    assert code == 1  # the demo's unreadable times await review: phase 2 is not reached
    assert status(url).phase == "phase1"


def test_head_reading_one_line_under_pipefail_sees_the_true_exit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = tmp_path / "demo.db"
    assert main(["demo", "--path", str(demo), "--rows", "300", "--json"]) == 0
    capsys.readouterr()
    script = (f"set -o pipefail; {sys.executable} -m slotcap.cli migrate --to phase2 "
              f"--database sqlite:///{demo} 2>&1 | head -1")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
