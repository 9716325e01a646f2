"""The sample notebooks in sample_usage/, run cell by cell on the embedded engine."""

from __future__ import annotations

import json
from pathlib import Path

from etl_monitor import ETLMonitorFramework
from tests.emulator import DatabricksEmulator
from tests.helpers import create_metric_tables, rows
from tests.notebook_runner import run_notebook
from tests.unit.test_notebooks import NOTEBOOKS, run

PROJECT, PROCESS = "CORP", "HR_DAILY"
DAY, NEXT_DAY = "2026-04-09", "2026-04-10"


def _adf_step(
    spark, catalog: str, name: str, execution_id: str, schema: str, task: dict, **extra
) -> dict:
    result = run(
        name,
        spark,
        catalog=catalog,
        schema=schema,
        execution_id=execution_id,
        project_code=PROJECT,
        process_load=PROCESS,
        task_id=task["TaskID"],
        workflow_id=task["WorkFlowID"],
        sequence_id=task["SequenceID"],
        processing_date=NEXT_DAY,
        **extra,
    )
    assert result.exited, f"{name} did not call dbutils.notebook.exit"
    return json.loads(result.exit_value)


def test_notebooks_run_top_to_bottom_then_adf_utilities(spark, catalog: str, schema_name: str):
    ws = {"catalog": catalog, "schema": schema_name}

    infra = run("00-infrastructure.py", spark, **ws)
    assert infra.widgets == {"catalog": "main", "schema": "etl"}  # the declared defaults
    assert spark.catalog.databaseExists(f"{catalog}.{schema_name}")
    run("00-infrastructure.py", spark, **ws)  # re-runnable

    install = run("01-install.py", spark, **ws)
    assert install.pip == ["%pip install lakehouse-etl-monitor"]
    assert "ETLProcessingEvents" in install.namespace["report"].tables_created
    shown = {r.tableName.lower() for r in install.displayed[0].rows}
    assert {"etlconfigtasks", "v_watermarks"} <= shown

    config = run("02-config.py", spark, **ws)
    monitor = ETLMonitorFramework(spark, catalog, schema_name)
    tasks = rows(monitor, "ETLconfigTasks", ProjectCode=PROJECT)
    assert sorted(t["TaskID"] for t in tasks) == [0, 1, 2, 3, 9]
    assert [t["TaskID"] for t in tasks if t["TaskMandatory"]] == [0, 1, 9]  # mandatory by default
    params = {r.ParameterName: r.ParameterType for r in config.displayed[1].rows}
    assert set(params.values()) == {"SYSTEM", "DELTA_DATE", "DELTA_ID", "FLAG"}

    runs = run("03-run.py", spark, **ws, processing_date=DAY)
    ns = runs.namespace
    assert ns["first_outcomes"]["Load Departments"].startswith("FAIL (")
    assert ns["first_outcomes"]["Load Employees"] == "DONE"
    assert set(ns["retry_outcomes"]) == {"Load Departments"}  # DONE tasks are not queued again
    assert set(ns["retry_outcomes"].values()) == {"DONE"}
    pending, detail, summary, day_summary, watermarks = (d.rows for d in runs.displayed)
    assert [r.TaskID for r in pending] == [0, 1, 2, 3, 9] and pending[1].FullFileName.endswith(
        ".csv"
    )
    assert {r.TaskName: r.Status for r in detail}["Load Departments"] == "FAIL"
    assert [r.ExecutionID for r in summary] == [ns["exec_id"]]
    assert {r.ExecutionID for r in day_summary} == {ns["exec_id"], ns["retry_id"]}
    assert ns["replayed"] > 0
    steps = rows(monitor, "ETLProcessingSteps", ExecutionID=ns["exec_id"])
    assert {s["Status"] for s in steps} == {"RQUE"}  # the day replay re-queued everything
    by_name = {r.ParameterName: r.ActiveValue for r in watermarks}
    assert by_name["LoadEmployees"] and by_name["LastAbsenceId"] == "0"

    # ADF utility notebooks on a fresh execution for the next day.
    execution_id = ETLMonitorFramework.generate_execution_id()
    pending = monitor.get_pending_tasks(execution_id, PROJECT, PROCESS, NEXT_DAY).collect()
    task = {t["TaskID"]: t.asDict() for t in pending}
    started = _adf_step(spark, catalog, "etl_start_task.py", execution_id, schema_name, task[1])
    assert (started["status"], started["active"], started["attempt"]) == ("RUNNING", True, 1)
    assert started["file_name"].startswith("employees_20260410")
    ended = _adf_step(
        spark, catalog, "etl_end_task.py", execution_id, schema_name, task[1], log_message="42 rows"
    )
    assert ended == {
        "execution_id": execution_id,
        "task_id": 1,
        "workflow_id": 1,
        "status": "DONE",
    }
    assert _adf_step(spark, catalog, "etl_start_task.py", execution_id, schema_name, task[2])[
        "active"
    ]
    failed = _adf_step(
        spark,
        catalog,
        "etl_fail_task.py",
        execution_id,
        schema_name,
        task[2],
        log_message="Copy failed: timeout",
        log_code="2200",
    )
    assert failed["status"] == "FAIL"
    steps = {s["TaskID"]: s for s in rows(monitor, "ETLProcessingSteps", ExecutionID=execution_id)}
    assert steps[1]["Status"] == "DONE" and steps[1]["LogMessage"] == "42 rows"
    assert steps[1]["SourceType"] == "ADF_PIPELINE"
    assert (steps[2]["Status"], steps[2]["LogMessage"], steps[2]["LogCode"]) == (
        "FAIL",
        "Copy failed: timeout",
        "2200",
    )
    assert steps[3]["Status"] == "NQUE"
    # Starting a DONE step again writes nothing and says why.
    again = _adf_step(spark, catalog, "etl_start_task.py", execution_id, schema_name, task[1])
    assert again["active"] is False and again["reason"]


def test_monitoring_notebook_against_emulated_workspace(spark, catalog: str, schema_name: str):
    src, out = f"{catalog}.{schema_name}_src", f"{catalog}.{schema_name}_mon"
    create_metric_tables(spark, out, "orders", js_distance=0.5)
    with DatabricksEmulator() as emu:
        emu.add_schema(out)
        emu.add_table(f"{src}.orders", {"id": "bigint", "ts": "timestamp", "region": "string"})
        emu.add_table(f"{src}.customers", ["id", "name"])
        result = run_notebook(
            NOTEBOOKS / "04-monitoring.py",
            spark,
            {"catalog": catalog, "schema": schema_name, "source_schema": src, "output_schema": out},
            extra_globals={"workspace_client": emu.client()},
        )
        assert result.namespace["workspace_client"] is not None
        applied = result.namespace["result"]
        assert (applied.monitors_created, applied.monitors_failed) == (2, 0)
        assert emu.count("POST", "/api/data-quality/v1/monitors") == 2
    plan_rows, apply_rows, state = result.displayed
    assert {t["action"] for t in plan_rows.value} == {"create"}
    assert len(apply_rows.value) == 2 and len(state.rows) == 2
    views = result.namespace["views"]
    assert views.included["sales"] == [f"{src}.orders"]
    assert f"{src}.customers" in views.left_out  # its metric tables do not exist
    alerts = spark.table(f"{catalog}.{schema_name}.v_monitor_drift_alerts").collect()
    assert alerts and all(r.source_table == f"{src}.orders" for r in alerts)


def test_runner_sql_cells_substitute_widgets(spark, tmp_path: Path):
    nb = tmp_path / "sql.py"
    nb.write_text(
        "# Databricks notebook source\n"
        'dbutils.widgets.text("n", "1")\n\n'
        "# COMMAND ----------\n\n"
        "# MAGIC %sql\n# MAGIC SELECT ${n} AS a;\n# MAGIC SELECT ${n} + 1 AS b\n"
    )
    result = run_notebook(nb, spark, {"n": "41"})
    assert result.sql == ["SELECT 41 AS a", "SELECT 41 + 1 AS b"]
    assert result.displayed[0].rows[0].b == 42 and result.namespace["_sqldf"] is not None


def test_adf_initiation_start_opens_the_execution(spark, catalog: str, schema_name: str):
    """etl_start_task for task 0/0 generates the execution's steps, so a pipeline can begin with it."""
    from tests.helpers import register_hr

    monitor = ETLMonitorFramework(spark, catalog, schema_name)
    monitor.setup()
    register_hr(monitor)
    execution_id = monitor.generate_execution_id()
    result = run(
        "etl_start_task.py",
        spark,
        catalog=catalog,
        schema=schema_name,
        execution_id=execution_id,
        project_code="CORP",
        process_load="HR_DAILY",
        task_id="0",
        workflow_id="0",
        sequence_id="0",
        processing_date=DAY,
    )
    assert json.loads(result.exit_value)["status"] == "RUNNING"
    steps = {
        r["TaskID"]: r["Status"]
        for r in rows(monitor, "ETLProcessingSteps", ExecutionID=execution_id)
    }
    assert steps == {0: "RUNNING", 1: "NQUE", 2: "NQUE", 3: "NQUE", 9: "NQUE"}
