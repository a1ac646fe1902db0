"""Running the CLI in-process for the command tests: ``run(capsys, *argv)`` is
``slotcap *argv``'s exit code, stdout and stderr."""

from __future__ import annotations

import pytest

from slotcap.cli.main import main

__all__ = ["run"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
