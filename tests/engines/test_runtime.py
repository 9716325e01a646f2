"""databricks_ids(): job run, task run and cluster ids from every source, in order, never raising."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.runtime import databricks_ids
from tests.helpers import register_hr, rows
from tests.notebook_runner import run_notebook
from tests.unit.test_runtime import CONF_KEYS, _clean  # noqa: F401 - the autouse fixture

P, L = "CORP", "HR_DAILY"


def test_spark_connect_conf_is_one_request(spark, monkeypatch):
    """On a Spark Connect session (Sail, Delta behind Connect) the keys come in one request."""
    if not type(spark).__module__.startswith("pyspark.sql.connect"):
        pytest.skip("not a Spark Connect session")
    calls = []
    original = spark.client.config
    monkeypatch.setattr(spark.client, "config", lambda op: calls.append(op) or original(op))
    try:
        for key, value in zip(CONF_KEYS, ("801", "802", "0409-connect"), strict=True):
            spark.conf.set(key, value)
        calls.clear()
        got = databricks_ids(spark)
        assert got == {"JobRunID": "801", "TaskRunID": "802", "ClusterID": "0409-connect"}
        assert len(calls) == 1
        calls.clear()
        databricks_ids(spark)  # the cluster id is cached: only the run ids are asked again
        assert len(calls) == 1 and len(calls[0].get_with_default.pairs) == 2
    finally:
        for key in CONF_KEYS:
            spark.conf.unset(key)


NOTEBOOK = """# Databricks notebook source
dbutils.widgets.text("job_run_id", "{{job.run_id}}")
dbutils.widgets.text("task_run_id", "{{task.run_id}}")

# COMMAND ----------

with monitor.task(execution_id, "CORP", "HR_DAILY", task_id=1, workflow_id=1):
    pass
"""


def _notebook_task(tmp_path: Path, monitor: ETLMonitorFramework, widgets: dict, day: str) -> str:
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, day)
    path = tmp_path / "load.py"
    path.write_text(NOTEBOOK)
    globals_ = {"monitor": monitor, "execution_id": e}
    run_notebook(path, monitor.spark, widgets, extra_globals=globals_)
    return e


def test_a_notebook_task_records_its_job_and_task_run(tmp_path, monitor: ETLMonitorFramework):
    register_hr(monitor)
    e = _notebook_task(
        tmp_path, monitor, {"job_run_id": "5501", "task_run_id": "5502"}, "2026-04-09"
    )
    events = rows(monitor, "ETLProcessingEvents", ExecutionID=e, TaskID=1)
    written = {(r["StatusCode"], r["JobRunID"], r["TaskRunID"]) for r in events}
    assert ("RUNNING", "5501", "5502") in written and ("DONE", "5501", "5502") in written
    (step,) = rows(monitor, "ETLProcessingSteps", ExecutionID=e, TaskID=1)
    assert (step["Status"], step["JobRunID"], step["TaskRunID"]) == ("DONE", "5501", "5502")
    (detail,) = rows(monitor, "v_taskDetail", ExecutionID=e, TaskID=1)
    assert (detail["JobRunID"], detail["TaskRunID"]) == ("5501", "5502")

    by_hand = _notebook_task(tmp_path, monitor, {}, "2026-04-10")  # widget defaults only
    (step,) = rows(monitor, "ETLProcessingSteps", ExecutionID=by_hand, TaskID=1)
    assert (step["Status"], step["JobRunID"], step["TaskRunID"]) == ("DONE", None, None)


def test_task_run_id_is_the_last_column_of_the_log_and_the_views(monitor: ETLMonitorFramework):
    """Appends are positional and setup() adds columns at the end: the new column stays last,
    and the views show it after every column they had."""
    names = monitor.spark.table(monitor.table_name("ETLProcessingEvents")).columns
    assert names[-1] == "TaskRunID" and names.index("JobRunID") < names.index("TaskRunID")
    for view in ("ETLProcessingSteps", "v_taskDetail"):
        assert monitor.spark.table(monitor.table_name(view)).columns[-1] == "TaskRunID"


def test_an_older_log_gains_the_column_and_values_land_in_their_columns(
    fresh: ETLMonitorFramework, engine, monkeypatch
):
    """A log written before TaskRunID existed: setup() adds it (ALTER on Delta, a mergeSchema
    append on Sail), old rows read NULL, and new events put every id in its own column."""
    from dataclasses import replace

    from etl_monitor.tracking.tables import EVENTS

    spark = fresh.spark
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {fresh.catalog}.{fresh.schema}")
    older = replace(EVENTS, columns=tuple(c for c in EVENTS.columns if c.name != "TaskRunID"))
    spark.sql(older.create_sql(fresh.catalog, fresh.schema, engine))
    report = fresh.setup()
    assert report.columns_added[EVENTS.name] == ["TaskRunID"]
    register_hr(fresh)
    e = fresh.generate_execution_id()
    fresh.generate_execution_steps(e, P, L, "2026-04-09")
    monkeypatch.setenv("DATABRICKS_JOB_RUN_ID", "job-9")
    monkeypatch.setenv("DATABRICKS_TASK_RUN_ID", "task-9")
    monkeypatch.setenv("DB_CLUSTER_ID", "cluster-9")
    with fresh.task(e, P, L, task_id=1, workflow_id=1, source_run_id="adf-9"):
        pass
    done = rows(fresh, "ETLProcessingEvents", ExecutionID=e, TaskID=1, StatusCode="DONE")
    assert [
        (r["SourceRunID"], r["JobRunID"], r["ClusterID"], r["TaskRunID"], r["Seq"]) for r in done
    ] == [("adf-9", "job-9", "cluster-9", "task-9", 3)]
    queued = rows(fresh, "ETLProcessingEvents", ExecutionID=e, TaskID=2)
    assert queued and all(r["TaskRunID"] is None for r in queued)
