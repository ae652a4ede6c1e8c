"""The TUI holds no SQL: every workspace read goes through a core query module
(``medsynth/*/queries.py``, ``medsynth/store/overview.py``, ``medsynth/review/data.py``), so the
screens show what the CLI shows and the queries are tested without a terminal."""

from __future__ import annotations

import re
from pathlib import Path

TUI = Path(__file__).resolve().parents[2] / "medsynth" / "tui"
# a database call by any name (Textual's DOM ``query`` is written query_children/walk_children)
SQL_CALL = re.compile(r"\b(execute|executemany|executescript)\(|\.query\(|\.rows_where\(")


def sql_calls(root: Path) -> list[str]:
    """``path:line: text`` of every line under ``root`` that calls the database."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SQL_CALL.search(line):
                found.append(f"{path.relative_to(root).as_posix()}:{number}: {line.strip()}")
    return found


def test_the_tui_calls_no_sql() -> None:
    assert sql_calls(TUI) == []


def test_the_check_would_find_sql(tmp_path: Path) -> None:
    (tmp_path / "screen.py").write_text(
        "rows = self.ws.db.execute('SELECT 1')\n"
        "rows = list(ws.db.query('SELECT 1'))\n"
        "conn.executemany('INSERT', [])\n"
        "table.rows_where('id = ?', [1])\n"
        "self.query_one('#x')\n",
        encoding="utf-8",
    )
    assert [line.split(":")[1] for line in sql_calls(tmp_path)] == ["1", "2", "3", "4"]
