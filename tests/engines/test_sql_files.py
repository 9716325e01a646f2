"""sql/: the committed files match what the code renders, and every statement parses with Spark."""

from __future__ import annotations

import pytest

from etl_monitor.integrations import sql_files as sqlfiles
from tests.helpers import run_cli
from tests.jvm import parse_with_spark


def test_render_and_check_commands(tmp_path):
    assert run_cli("sql", "render", "--out", "out", cwd=tmp_path).returncode == 0
    assert run_cli("sql", "render", "--out", "out", "--check", cwd=tmp_path).returncode == 0
    view = tmp_path / "out" / "ddl" / "views" / "v_watermarks.sql"
    view.write_text(view.read_text().replace("ActiveValue", "ActiveVal"))
    check = run_cli("sql", "render", "--out", "out", "--check", cwd=tmp_path)
    assert check.returncode == 1 and "ddl/views/v_watermarks.sql" in check.stdout


@pytest.mark.jvm
def test_every_rendered_statement_parses_with_spark():
    files = sqlfiles.rendered()
    statements = [
        s
        for rel, text in files.items()
        if rel.startswith(("ddl/", "adf/")) and rel.endswith(".sql") and rel != "ddl/setup_all.sql"
        for s in sqlfiles.statements(text)
    ]
    assert parse_with_spark(statements) == []


def _tsql_batches(text: str) -> list[str]:
    batches = [b.strip() for b in text.split("\nGO\n")]
    return [b for b in batches if b and not all(line.startswith("--") for line in b.splitlines())]


def test_sqlserver_scripts_parse_as_tsql_and_their_openqueries_run(monitor, spark):
    """Every T-SQL batch parses (sqlglot, tsql); the Spark SQL inside every OPENQUERY runs on the engine."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    files = sqlfiles.rendered(monitor.catalog, monitor.schema)
    inner_queries = []
    for rel in (
        "sqlserver/01_linked_server.sql",
        "sqlserver/02_views.sql",
        "sqlserver/03_procedures.sql",
    ):
        for batch in _tsql_batches(files[rel]):
            trees = sqlglot.parse(batch, read="tsql", error_level=ErrorLevel.RAISE)
            assert all(not isinstance(t, exp.Command) for t in trees), (
                f"{rel}: fell back to a raw command: {batch}"
            )
            for tree in trees:
                for call in tree.find_all(exp.Anonymous):
                    if call.name.upper() == "OPENQUERY":
                        assert call.expressions[0].name == sqlfiles.LINKED_SERVER
                        inner_queries.append(call.expressions[1].this)
    from tests.helpers import ALL_VIEWS

    assert len(inner_queries) == len(ALL_VIEWS)
    for query in inner_queries:
        spark.sql(query).collect()  # raises if the view or the query is wrong


def test_adf_lookups_run_against_the_engine(monitor):
    from tests.helpers import register_hr

    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, "CORP", "HR_DAILY", "2026-04-09")
    with monitor.task(e, "CORP", "HR_DAILY", task_id=1, workflow_id=1):
        pass
    files = sqlfiles.rendered(monitor.catalog, monitor.schema)
    key = {"project_code": "CORP", "process_load": "HR_DAILY"}
    (mark,) = monitor.executor.query(
        sqlfiles.statements(files["adf/lookup_watermark.sql"])[0],
        {**key, "parameter_name": "W1"},
    )
    assert (
        mark.ParameterType == "DELTA_DATE"
        and mark.ActiveValue.startswith("20")
        and "T" in mark.ActiveValue
    )
    pending = monitor.executor.query(
        sqlfiles.statements(files["adf/lookup_pending_tasks.sql"])[0],
        {**key, "execution_id": e, "sequence_id": 2},
    )
    assert [(r.TaskID, r.FullFileName, r.WatermarkName) for r in pending] == [
        (2, "load2_20260409.csv", "W2"),
        (3, "load3_20260409.csv", "W3"),
    ]
    (blockers,) = monitor.executor.query(
        sqlfiles.statements(files["adf/lookup_mandatory_blockers.sql"])[0],
        {**key, "execution_id": e},
    )
    assert blockers.Blockers == 0
