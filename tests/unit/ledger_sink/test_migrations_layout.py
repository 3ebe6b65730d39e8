"""The migrations as files: one linear history in file-name order, offline SQL, new revisions."""

from __future__ import annotations

import ast
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger_sink import migrate
from sentinel_cli.main import app

VERSIONS = Path(migrate.__file__).parent / "migrations" / "versions"


def test_history_is_linear_and_in_file_name_order() -> None:
    files = sorted(p.name for p in VERSIONS.glob("*.py") if p.name != "__init__.py")
    history = migrate.history()
    assert len(history) == len(files) >= 5
    assert [name[: len(rev)] for name, rev in zip(files, history, strict=True)] == history
    assert all(re.fullmatch(r"\d{8}_\d{4}", rev) for rev in history)
    assert migrate.head() == history[-1]


@pytest.mark.parametrize(
    "path", sorted(p for p in VERSIONS.glob("*.py") if p.name != "__init__.py"), ids=str
)
def test_each_migration_is_documented_raw_sql_and_forward_only(path: Path) -> None:
    tree = ast.parse(path.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring and docstring.splitlines()[0].endswith(".")
    imports = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    # Raw SQL through op only: no project code, whose later edits would change old migrations.
    assert imports <= {"annotations", "op"}
    source = path.read_text()
    assert "raise NotImplementedError" in source.split("def downgrade")[1]


def test_offline_sql_renders_every_migration_without_doubled_percent_signs() -> None:
    script = migrate.sql_script()
    for needle in (
        "CREATE TABLE ledger_entries",
        "CREATE TRIGGER ledger_entries_append_only",
        "CREATE TABLE analytics.fact_decisions",
        "time_key % 60",
    ):
        assert needle in script
    assert "%%" not in script and ";;" not in script
    assert script.rstrip().endswith("COMMIT;")


def test_cli_lists_the_db_commands() -> None:
    result = CliRunner().invoke(app, ["db", "--help"])
    assert result.exit_code == 0
    for command in ("migrate", "current", "sql", "revision"):
        assert command in result.output


def test_a_new_revision_follows_the_head_and_is_named_by_its_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(VERSIONS.parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", str(copy))
    head = migrate.head()
    path = migrate.new_revision("add widgets", now=datetime(2099, 12, 31, 23, 59, tzinfo=UTC))
    assert path.parent == copy / "versions"
    assert path.name == "20991231_2359_add_widgets.py"
    source = path.read_text()
    compile(source, str(path), "exec")
    assert 'revision = "20991231_2359"' in source
    assert f'down_revision: str | None = "{head}"' in source
    assert migrate.head() == "20991231_2359"
