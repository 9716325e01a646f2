"""create_job_runs_view(): steps beside their Databricks job and task runs from the lakeflow timelines.

The two timelines are created in a test schema with every column of Databricks' "Jobs
system table reference" (system.lakeflow), several hourly slices per run, a failed task run,
a repaired run still running, and a job run without timeline rows yet.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError
from etl_monitor.errors import NotFoundError
from etl_monitor.jobs.runs import COLUMNS, VIEW_NAME
from tests.helpers import register_hr, rows

P, L = "CORP", "HR_DAILY"

#: The documented columns, in the documented order. The reference gives ``array``, ``map``
#: and ``struct`` without element types; ``compute``'s element shape here is an assumption
#: (the view does not read it).
_COMPUTE = "ARRAY<STRUCT<type: STRING, cluster_id: STRING, warehouse_id: STRING>>"
JOB_RUN_TIMELINE = (
    ("account_id", "STRING"),
    ("workspace_id", "STRING"),
    ("job_id", "STRING"),
    ("run_id", "STRING"),
    ("period_start_time", "TIMESTAMP"),
    ("period_end_time", "TIMESTAMP"),
    ("trigger_type", "STRING"),
    ("run_type", "STRING"),
    ("run_name", "STRING"),
    ("compute_ids", "ARRAY<STRING>"),
    ("result_state", "STRING"),
    ("termination_code", "STRING"),
    ("job_parameters", "MAP<STRING, STRING>"),
    ("source_task_run_id", "STRING"),
    ("root_task_run_id", "STRING"),
    ("compute", _COMPUTE),
    ("termination_type", "STRING"),
    ("setup_duration_seconds", "BIGINT"),
    ("queue_duration_seconds", "BIGINT"),
    ("run_duration_seconds", "BIGINT"),
    ("cleanup_duration_seconds", "BIGINT"),
    ("execution_duration_seconds", "BIGINT"),
)
JOB_TASK_RUN_TIMELINE = (
    ("account_id", "STRING"),
    ("workspace_id", "STRING"),
    ("job_id", "STRING"),
    ("run_id", "STRING"),
    ("job_run_id", "STRING"),
    ("parent_run_id", "STRING"),
    ("period_start_time", "TIMESTAMP"),
    ("period_end_time", "TIMESTAMP"),
    ("task_key", "STRING"),
    ("compute_ids", "ARRAY<STRING>"),
    ("result_state", "STRING"),
    ("termination_code", "STRING"),
    ("compute", _COMPUTE),
    ("termination_type", "STRING"),
    ("task_parameters", "MAP<STRING, STRING>"),
    ("setup_duration_seconds", "BIGINT"),
    ("cleanup_duration_seconds", "BIGINT"),
    ("execution_duration_seconds", "BIGINT"),
)
SCALAR = {"string", "int", "bigint", "boolean", "double", "date", "timestamp"}


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 4, 9, hour, minute, tzinfo=timezone.utc)


def _job_slice(run_id, start, end, state=None, code=None, name="nightly"):
    return {
        "account_id": "acc",
        "workspace_id": "1234",
        "job_id": "77",
        "run_id": run_id,
        "period_start_time": start,
        "period_end_time": end,
        "trigger_type": "CRON",
        "run_type": "JOB_RUN",
        "run_name": name,
        "compute_ids": ["0409-cluster"],
        "result_state": state,
        "termination_code": code,
        "job_parameters": {"job_run_id": run_id},
        "compute": [{"type": "JOBS_COMPUTE", "cluster_id": "0409-cluster", "warehouse_id": None}],
        "termination_type": None if state is None else "SUCCESS",
    }


def _task_slice(job_run_id, run_id, key, start, end, state=None, code=None):
    return {
        "account_id": "acc",
        "workspace_id": "1234",
        "job_id": "77",
        "run_id": run_id,
        "job_run_id": job_run_id,
        "parent_run_id": job_run_id,
        "period_start_time": start,
        "period_end_time": end,
        "task_key": key,
        "compute_ids": ["0409-cluster"],
        "result_state": state,
        "termination_code": code,
        "task_parameters": {"task_run_id": run_id},
    }


#: J1: three hourly slices, ends FAILED (its task T1b failed); J2: one task run, SUCCEEDED;
#: J3: failed, then repaired and still running (the last slice has no state yet); J4: none.
JOB_SLICES = [
    _job_slice("J1", at(11), at(12)),
    _job_slice("J1", at(12), at(12, 30), "FAILED", "RUN_EXECUTION_ERROR"),
    _job_slice("J1", at(10, 15), at(11)),
    _job_slice("J2", at(13), at(13, 5), "SUCCEEDED", "SUCCESS"),
    _job_slice("J3", at(14), at(14, 5), "FAILED", "RUN_EXECUTION_ERROR"),
    _job_slice("J3", at(14, 10), at(15)),
    _job_slice("J9", at(9), at(9, 1), "SUCCEEDED", "SUCCESS", name="someone else's"),
]
TASK_SLICES = [
    _task_slice("J1", "T1a", "load_a", at(11), at(11, 20), "SUCCEEDED", "SUCCESS"),
    _task_slice("J1", "T1a", "load_a", at(10, 15), at(11)),
    _task_slice("J1", "T1b", "load_b", at(11, 20), at(12, 30), "FAILED", "RUN_EXECUTION_ERROR"),
    _task_slice("J2", "T2", "only", at(13, 1), at(13, 4), "SUCCEEDED", "SUCCESS"),
    _task_slice("J3", "T3", "flaky", at(14), at(14, 5), "FAILED", "RUN_EXECUTION_ERROR"),
    _task_slice("J3", "T3r", "flaky", at(14, 10), at(15)),
]


def _create(spark, name: str, columns, slices) -> None:
    ddl = ", ".join(f"{c} {t}" for c, t in columns)
    spark.sql(f"CREATE TABLE {name} ({ddl}) USING DELTA")
    schema = spark.table(name).schema
    data = [tuple(s.get(c) for c, _ in columns) for s in slices]
    spark.createDataFrame(data, schema).write.mode("append").insertInto(name)


@pytest.fixture
def lakeflow(monitor: ETLMonitorFramework) -> str:
    """A schema holding both timelines; returns ``catalog.schema``."""
    source = f"{monitor.catalog}.{monitor.schema}_lf"
    monitor.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {source}")
    _create(monitor.spark, f"{source}.job_run_timeline", JOB_RUN_TIMELINE, JOB_SLICES)
    _create(monitor.spark, f"{source}.job_task_run_timeline", JOB_TASK_RUN_TIMELINE, TASK_SLICES)
    return source


@pytest.fixture
def steps(monitor: ETLMonitorFramework, monkeypatch) -> str:
    """Steps that recorded J1/T1a, J1/T1b, J2 (no task run), J3/T3 and J4; task 4 never ran."""
    register_hr(monitor, tasks=4)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    for task_id, job_run, task_run in ((0, "J1", "T1a"), (1, "J1", "T1b"), (2, "J2", None)):
        _run(monitor, monkeypatch, e, task_id, job_run, task_run)
    _run(monitor, monkeypatch, e, 3, "J3", "T3")
    _run(monitor, monkeypatch, e, 9, "J4", "T4")
    return e


def _run(monitor, monkeypatch, e, task_id, job_run, task_run):
    for name, value in (("DATABRICKS_JOB_RUN_ID", job_run), ("DATABRICKS_TASK_RUN_ID", task_run)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    workflow = 0 if task_id == 0 else 1
    with monitor.task(e, P, L, task_id=task_id, workflow_id=workflow):
        pass


@pytest.fixture
def bare(fresh: ETLMonitorFramework) -> ETLMonitorFramework:
    """A framework whose schema exists but was never set up: these checks come before any write."""
    fresh.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {fresh.catalog}.{fresh.schema}")
    return fresh


def _objects(monitor: ETLMonitorFramework) -> set[str]:
    shown = monitor.spark.sql(f"SHOW TABLES IN {monitor.catalog}.{monitor.schema}").collect()
    return {r["tableName"].lower() for r in shown}


def test_each_step_beside_its_job_run_and_task_run(monitor, lakeflow, steps):
    assert monitor.create_job_runs_view(lakeflow) == VIEW_NAME
    got = {r["TaskID"]: r for r in rows(monitor, VIEW_NAME)}
    assert sorted(got) == [0, 1, 2, 3, 9]  # task 4 (queued, no job run id) is not listed
    assert {r["ExecutionID"] for r in got.values()} == {steps}

    j1 = got[0]  # three slices, inserted out of order: first start, last end, last slice's state
    assert (j1["JobRunID"], j1["TaskRunID"], j1["WorkspaceID"], j1["JobID"]) == (
        "J1",
        "T1a",
        "1234",
        "77",
    )
    assert (j1["JobRunStart"], j1["JobRunEnd"], j1["JobRunSeconds"]) == (
        at(10, 15),
        at(12, 30),
        8100.0,
    )
    assert (j1["JobResultState"], j1["JobTerminationCode"]) == ("FAILED", "RUN_EXECUTION_ERROR")
    assert (j1["RunName"], j1["RunType"], j1["TriggerType"]) == ("nightly", "JOB_RUN", "CRON")
    assert (j1["MatchedTaskRunID"], j1["TaskMatchedBy"], j1["TaskKey"]) == (
        "T1a",
        "TASK_RUN_ID",
        "load_a",
    )
    assert (j1["TaskRunStart"], j1["TaskRunEnd"], j1["TaskRunSeconds"]) == (
        at(10, 15),
        at(11, 20),
        3900.0,
    )
    assert (j1["TaskResultState"], j1["TaskTerminationCode"], j1["TimelineFound"]) == (
        "SUCCEEDED",
        "SUCCESS",
        True,
    )

    failed = got[1]  # the failed task run of the same job run
    assert (
        failed["MatchedTaskRunID"],
        failed["TaskResultState"],
        failed["TaskTerminationCode"],
    ) == (
        "T1b",
        "FAILED",
        "RUN_EXECUTION_ERROR",
    )
    assert (failed["TaskRunStart"], failed["TaskRunEnd"]) == (at(11, 20), at(12, 30))
    assert failed["JobRunEnd"] == at(12, 30)

    only = got[2]  # no task run id recorded: the job run's only task run
    assert (only["TaskRunID"], only["MatchedTaskRunID"], only["TaskMatchedBy"]) == (
        None,
        "T2",
        "ONLY_TASK_RUN",
    )
    assert (only["JobResultState"], only["TaskResultState"], only["TaskRunSeconds"]) == (
        "SUCCEEDED",
        "SUCCEEDED",
        180.0,
    )

    repaired = got[3]  # failed, repaired, still running: the last slice has no state yet
    assert (repaired["JobRunStart"], repaired["JobRunEnd"]) == (at(14), at(15))
    assert (repaired["JobResultState"], repaired["JobTerminationCode"]) == (None, None)
    assert (repaired["MatchedTaskRunID"], repaired["TaskResultState"]) == ("T3", "FAILED")

    pending = got[9]  # the timelines have no rows for J4 yet
    assert (pending["JobRunID"], pending["TaskRunID"], pending["TimelineFound"]) == (
        "J4",
        "T4",
        False,
    )
    assert all(
        pending[c] is None
        for c in ("JobID", "JobRunStart", "JobResultState", "MatchedTaskRunID", "TaskMatchedBy")
    )
    assert pending["Status"] == "DONE" and pending["StartTime"] is not None

    # a public interface: documented names and types, scalar only
    fields = monitor.spark.table(monitor.table_name(VIEW_NAME)).schema.fields
    assert [f.name for f in fields] == [c[0] for c in COLUMNS]
    assert [f.dataType.simpleString() for f in fields] == [c[1].lower() for c in COLUMNS]
    assert {f.dataType.simpleString() for f in fields} <= SCALAR
    # replaced, not duplicated, when created again
    assert monitor.create_job_runs_view(lakeflow) == VIEW_NAME
    assert len(rows(monitor, VIEW_NAME)) == 5


def test_absent_tables_raise_and_create_nothing(bare: ETLMonitorFramework):
    monitor = bare
    before = _objects(monitor)
    with pytest.raises(NotFoundError, match=r"system\.lakeflow\.job_run_timeline") as raised:
        monitor.create_job_runs_view()
    assert "account admin" in str(raised.value) and "Nothing was created" in str(raised.value)
    missing = f"{monitor.catalog}.{monitor.schema}_nothing"
    with pytest.raises(NotFoundError, match=rf"{missing}\.job_run_timeline"):
        monitor.create_job_runs_view(missing)
    assert _objects(monitor) == before and VIEW_NAME.lower() not in before


def test_one_absent_table_is_named_and_nothing_created(bare: ETLMonitorFramework):
    monitor = bare
    source = f"{monitor.catalog}.{monitor.schema}_half"
    monitor.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {source}")
    _create(monitor.spark, f"{source}.job_run_timeline", JOB_RUN_TIMELINE, JOB_SLICES[:1])
    with pytest.raises(NotFoundError, match=r"_half\.job_task_run_timeline"):
        monitor.create_job_runs_view(source)
    assert VIEW_NAME.lower() not in _objects(monitor)


def test_a_table_without_the_documented_columns_is_refused(bare: ETLMonitorFramework):
    monitor = bare
    source = f"{monitor.catalog}.{monitor.schema}_old"
    monitor.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {source}")
    _create(monitor.spark, f"{source}.job_run_timeline", JOB_RUN_TIMELINE, [])
    narrow = [c for c in JOB_TASK_RUN_TIMELINE if c[0] != "job_run_id"]
    _create(monitor.spark, f"{source}.job_task_run_timeline", narrow, [])
    with pytest.raises(NotFoundError, match="lacks the columns job_run_id"):
        monitor.create_job_runs_view(source)
    assert VIEW_NAME.lower() not in _objects(monitor)


@pytest.mark.parametrize(
    "source", ["system", "system.lakeflow.jobs", "sys tem.lakeflow", "system.`lakeflow`", "", 7]
)
def test_source_must_be_a_two_part_name(fresh: ETLMonitorFramework, source):
    with pytest.raises(InvalidArgumentError, match="source"):
        fresh.create_job_runs_view(source)


def test_cli_refuses_absent_system_tables(tmp_path):
    """`etl-monitor job-runs-view` off Databricks: exit 3, the table and how to enable it named."""
    from tests.helpers import run_cli

    warehouse = str(tmp_path / "wh")
    base = ("--warehouse", warehouse, "--schema", "etl_jr")
    assert run_cli("setup", *base, cwd=tmp_path).returncode == 0
    result = run_cli("job-runs-view", *base, cwd=tmp_path)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 3, output
    assert "system.lakeflow.job_run_timeline" in output and "account admin" in output
    bad = run_cli("job-runs-view", *base, "--source", "just_one_part", cwd=tmp_path)
    assert bad.returncode == 1 and "catalog.schema" in " ".join(bad.stdout.split())
