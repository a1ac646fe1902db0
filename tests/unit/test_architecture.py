"""The package layout of docs/architecture.md, read from the source.

The table "Allowed imports" in docs/architecture.md is the rule: each row names a part
of ``slotcap`` and the parts it may import. This test parses that table and every
module's imports, so the drawing and the code cannot drift apart; it also holds every
module to the size a reader can take in one sitting.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import slotcap

SRC = Path(slotcap.__file__).parent
DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
MAX_LINES = 400


def _allowed() -> dict[str, set[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Allowed imports", 1)[1].split("\n## ", 1)[0]
    rules: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        part = cells[0].strip("`")
        rules[part] = {name.strip("`") for name in re.findall(r"`[^`]+`", cells[1])}
    return rules


def _part(module: str) -> str:
    """``slotcap.adapters.sql.store`` → ``adapters``; ``slotcap`` → ``slotcap``;
    the two entry points sit side by side: ``slotcap.http.app`` → ``http``,
    ``slotcap.cli.main`` → ``cli``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "slotcap"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    name = ".".join(rel.parts)
    return name.removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level == 0:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "slotcap" or name.startswith("slotcap.")}


def test_the_table_names_every_part_of_the_package() -> None:
    rules = _allowed()
    parts = {_part(_module_name(p)) for p in SRC.rglob("*.py")}
    assert parts - set(rules) == set(), "add a row to docs/architecture.md"
    assert set(rules) - parts == set(), "a row names a part that does not exist"


def test_every_module_imports_only_what_its_part_may() -> None:
    rules = _allowed()
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        part = _part(_module_name(path))
        for name in sorted(_imports(path)):
            used = _part(name)
            if used != part and used not in rules.get(part, set()):
                wrong.append(f"{path.relative_to(SRC)} ({part}) imports {name}")
    assert wrong == []


def test_the_pure_core_imports_no_storage_and_no_io() -> None:
    # Stated apart from the table, so a careless edit of the table cannot undo it.
    rules = _allowed()
    for core in ("domain", "ports", "errors", "usecases"):
        assert rules[core] <= {"domain", "ports", "errors", "backoff"}, core


def test_no_module_is_longer_than_one_sitting() -> None:
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


#: The server extra's packages: only the HTTP adapter and ``slotcap serve`` import them.
SERVER_PACKAGES = ("starlette", "uvicorn", "prometheus_client")


def _third_party(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found & set(SERVER_PACKAGES)


def test_only_the_http_adapter_imports_the_server_extra() -> None:
    users = {_module_name(p) for p in SRC.rglob("*.py") if _third_party(p)}
    assert users, "the HTTP adapter imports starlette: the check must see it"
    assert {m for m in users if not m.startswith("slotcap.http")} \
        <= {"slotcap.cli._serve"}


def test_the_cli_loads_without_the_server_extra() -> None:
    # `slotcap --help` and every other command work without the extra; `serve` imports
    # it only when it runs (and says which extra to install when it is missing).
    assert _third_party(SRC / "cli" / "_serve.py", top_level_only=True) == set()
    assert _third_party(SRC / "cli" / "_serve.py") == {"uvicorn"}
