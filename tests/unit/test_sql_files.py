"""sql/: the committed files match what the code renders, and every statement parses with Spark.

What needs no engine: no session starts here; tests/engines/test_sql_files.py runs the rest on every
engine.
"""

from __future__ import annotations

from pathlib import Path

from etl_monitor.integrations import sql_files as sqlfiles

ROOT = Path(__file__).resolve().parents[2]


def test_committed_sql_matches_the_code():
    stale = sqlfiles.drift(ROOT / "sql")
    assert stale == [], f"out of date: {stale}; run 'etl-monitor sql render'"


def test_rendering_covers_every_object():
    files = sqlfiles.rendered()
    from etl_monitor.monitoring.config import MONITORING_TABLES
    from etl_monitor.tracking.tables import ALL_TABLES
    from tests.helpers import ALL_VIEWS

    names = {Path(p).stem for p in files}
    assert {t.name for t in (*ALL_TABLES, *MONITORING_TABLES)} | {
        v.name for v in ALL_VIEWS
    } <= names
    assert (
        len(sqlfiles.statements(files["ddl/setup_all.sql"]))
        == sum(1 for p in files if p.startswith("ddl/") and p != "ddl/setup_all.sql") + 1
    )  # all objects + schema
