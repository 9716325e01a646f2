"""sql/: the committed files match what the code renders, and every statement parses with Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_monitor import sqlfiles
from tests.helpers import run_cli
from tests.jvm import parse_with_spark

ROOT = Path(__file__).resolve().parents[1]


def test_committed_sql_matches_the_code():
    stale = sqlfiles.drift(ROOT / "sql")
    assert stale == [], f"out of date: {stale}; run 'etl-monitor sql render'"


def test_render_and_check_commands(tmp_path):
    assert run_cli("sql", "render", "--out", "out", cwd=tmp_path).returncode == 0
    assert run_cli("sql", "render", "--out", "out", "--check", cwd=tmp_path).returncode == 0
    view = tmp_path / "out" / "ddl" / "views" / "v_watermarks.sql"
    view.write_text(view.read_text().replace("ActiveValue", "ActiveVal"))
    check = run_cli("sql", "render", "--out", "out", "--check", cwd=tmp_path)
    assert check.returncode == 1 and "ddl/views/v_watermarks.sql" in check.stdout


def test_rendering_covers_every_object():
    files = sqlfiles.rendered()
    from etl_monitor.monitoring.config import MONITORING_TABLES
    from etl_monitor.schema import ALL_TABLES
    from etl_monitor.views import ALL_VIEWS

    names = {Path(p).stem for p in files}
    assert {t.name for t in (*ALL_TABLES, *MONITORING_TABLES)} | {
        v.name for v in ALL_VIEWS
    } <= names
    assert (
        len(sqlfiles.statements(files["ddl/setup_all.sql"])) == len(files) - 1 + 1
    )  # all objects + schema


@pytest.mark.jvm
def test_every_rendered_statement_parses_with_spark():
    files = sqlfiles.rendered()
    statements = [
        s
        for rel, text in files.items()
        if rel != "ddl/setup_all.sql"
        for s in sqlfiles.statements(text)
    ]
    assert parse_with_spark(statements) == []
