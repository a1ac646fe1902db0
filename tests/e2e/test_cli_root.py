"""The CLI builds what it needs through the composition root: the demo opens its
database once, and the root's configuration errors are usage errors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from slotcap.cli.main import main


def test_demo_opens_its_database_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[object] = []
    real: Callable[..., sqlite3.Connection] = sqlite3.connect

    def counted(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(args[0] if args else kwargs.get("database"))
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", counted)
    assert main(["demo", "--path", str(tmp_path / "demo.db"), "--rows", "300", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["calendar"], "the calendar was read on the same connection"
    assert len(opened) == 1


def test_a_bad_clinic_time_zone_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLOTCAP_CLINIC_TZ", "Mars/Olympus")
    assert main(["demo", "--path", str(tmp_path / "demo.db"), "--rows", "10"]) == 2
    assert "SLOTCAP_CLINIC_TZ" in capsys.readouterr().err
    assert not (tmp_path / "demo.db").exists()
