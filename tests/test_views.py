"""Reporting views: contents after failures and retries, get_status, receipts, and real Spark."""

from __future__ import annotations

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError
from etl_monitor.schema import ALL_TABLES
from etl_monitor.views import ALL_VIEWS
from tests.helpers import register_hr, rows
from tests.jvm import JVM_PRELUDE, run_jvm_script

P, L = "CORP", "HR_DAILY"


def _run(monitor, e, task_id, fail=False):
    try:
        with monitor.task(e, P, L, task_id, 1 if task_id else 0):
            if fail:
                raise RuntimeError(f"task {task_id} broke")
    except RuntimeError:
        pass


@pytest.fixture
def retried(monitor: ETLMonitorFramework):
    """Execution 1: task 1 (mandatory) and 3 fail, 2 done; execution 2 retries and everything succeeds."""
    register_hr(monitor)
    e1 = monitor.generate_execution_id()
    monitor.generate_execution_steps(e1, P, L, "2026-04-09")
    _run(monitor, e1, 0)
    _run(monitor, e1, 1, fail=True)
    _run(monitor, e1, 2)
    _run(monitor, e1, 3, fail=True)
    return monitor, e1


def test_failures_and_blockers_before_retry(retried):
    monitor, e1 = retried
    failures = rows(monitor, "v_currentFailures")
    assert sorted((r["TaskID"], r["StatusCode"], r["LogMessage"]) for r in failures) == [
        (1, "FAIL", "task 1 broke"),
        (3, "FAIL", "task 3 broke"),
    ]
    (blocker,) = rows(monitor, "v_mandatoryBlockers")
    assert (blocker["TaskID"], blocker["ExecutionID"], blocker["BlockedTaskCount"]) == (
        1,
        e1,
        1,
    )  # task 9, stage 3
    (summary,) = rows(monitor, "v_runSummary")
    assert {
        k: summary[k]
        for k in (
            "TotalTasks",
            "DoneTasks",
            "FailedTasks",
            "QueuedTasks",
            "RunStatus",
            "InitiationStatus",
            "IsLatestExecution",
        )
    } == {
        "TotalTasks": 4,
        "DoneTasks": 1,
        "FailedTasks": 2,
        "QueuedTasks": 1,
        "RunStatus": "FAIL",
        "InitiationStatus": "DONE",
        "IsLatestExecution": True,
    }
    (status,) = rows(monitor, "v_processStatus")
    assert (status["ProcessStatus"], status["ProcessName"], status["LatestExecutionID"]) == (
        "FAIL",
        "HR Daily Load",
        e1,
    )


def test_after_successful_retry_failures_are_superseded(retried):
    monitor, e1 = retried
    e2 = monitor.generate_execution_id()
    pending = monitor.get_pending_tasks(e2, P, L, "2026-04-09")
    assert [r["TaskID"] for r in pending] == [0, 1, 3, 9]
    for task_id in (0, 1, 3, 9):
        _run(monitor, e2, task_id)
    assert rows(monitor, "v_currentFailures") == []
    assert rows(monitor, "v_mandatoryBlockers") == []
    summaries = {r["ExecutionID"]: r for r in rows(monitor, "v_runSummary")}
    assert (summaries[e1]["RunStatus"], summaries[e1]["IsLatestExecution"]) == ("FAIL", False)
    assert (
        summaries[e2]["RunStatus"],
        summaries[e2]["IsLatestExecution"],
        summaries[e2]["MaxAttemptNo"],
    ) == ("DONE", True, 2)
    (status,) = rows(monitor, "v_processStatus")
    assert (
        status["ProcessStatus"],
        status["DoneTasks"],
        status["TotalTasks"],
        status["Executions"],
    ) == ("DONE", 4, 4, 2)  # the initiation step is not counted as a task
    current = {r["TaskID"]: r["ExecutionID"] for r in rows(monitor, "v_taskDetail", IsCurrent=True)}
    assert current == {0: e2, 1: e2, 2: e1, 3: e2, 9: e2}


def test_sla_breach_flag(monitor: ETLMonitorFramework):
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    monitor.start_task(e, P, L, 1, 1, timestamp="2026-04-09T01:00:00+00:00")
    monitor.end_task(e, P, L, 1, 1, timestamp="2026-04-09T02:30:00+00:00")  # 90 min, SLA 60
    monitor.start_task(e, P, L, 2, 1, timestamp="2026-04-09T01:00:00+00:00")
    monitor.end_task(e, P, L, 2, 1, timestamp="2026-04-09T01:20:00+00:00")
    flags = {r["TaskID"]: r["SLABreached"] for r in rows(monitor, "v_taskDetail", ExecutionID=e)}
    assert flags[1] is True and flags[2] is False and flags[3] is False
    assert rows(monitor, "v_runSummary")[0]["SLABreachedTasks"] == 1


def test_get_status_detail_and_summary(retried):
    monitor, e1 = retried
    detail = monitor.get_status(P, L, execution_id=e1).collect()
    assert [(r.WorkFlowID, r.SequenceID, r.TaskID) for r in detail] == [
        (0, 0, 0),
        (1, 2, 1),
        (1, 2, 2),
        (1, 2, 3),
        (1, 3, 9),
    ]
    summary = monitor.get_status(P, L, summary_mode=True).collect()
    assert [(r.ExecutionID, r.RunStatus) for r in summary] == [(e1, "FAIL")]
    assert monitor.get_status(P, L, processing_date="2026-04-10").count() == 0
    with pytest.raises(InvalidArgumentError, match="summary_mode"):
        monitor.get_status(P, L, summary_mode="yes")


def test_views_use_scalar_types_only(monitor: ETLMonitorFramework, spark):
    allowed = {"string", "int", "bigint", "boolean", "double", "date", "timestamp"}
    for view in ALL_VIEWS:
        types = {
            f.dataType.simpleString()
            for f in spark.table(monitor.table_name(view.name)).schema.fields
        }
        assert types <= allowed, (view.name, types - allowed)


def test_receipts_round_trip(monitor: ETLMonitorFramework):
    payload = '{"runId": "abc", "status": "Succeeded", "note": "it\'s \\\\ -- ok"}'
    log_id = monitor.log_receipt(
        "ADF_PIPELINE",
        payload,
        execution_id="e-1",
        project_code=P,
        status="Succeeded",
        source_run_id="abc",
        log_message="pipeline finished",
    )
    (row,) = rows(monitor, "ETLsysLogs")
    assert (row["LogID"], row["Payload"], row["Status"], row["SourceType"], row["ExecutionID"]) == (
        log_id,
        payload,
        "Succeeded",
        "ADF_PIPELINE",
        "e-1",
    )
    with pytest.raises(InvalidArgumentError, match="source_type"):
        monitor.log_receipt("FTP", payload)
    assert len(rows(monitor, "ETLsysLogs")) == 1


VIEWS_ON_SPARK = (
    JVM_PRELUDE
    + """
spark.sql("CREATE DATABASE IF NOT EXISTS etl")
results = {}
for ddl in payload["tables"]:
    spark.sql(ddl)
for insert in payload["inserts"]:
    spark.sql(insert)
for name, ddl in payload["views"]:
    spark.sql(ddl)
    results[name] = [r.asDict() for r in spark.sql(f"SELECT * FROM spark_catalog.etl.{name}").collect()]
print("RESULT:" + json.dumps(results, default=str))
"""
)


@pytest.mark.jvm
def test_views_run_on_real_spark(monitor: ETLMonitorFramework):
    """The same table definitions as Parquet tables in JVM Spark, a few rows, every view created and read."""
    from etl_monitor.engines import DELTA_SPARK

    tables = [
        t.create_sql("spark_catalog", "etl", DELTA_SPARK)
        .replace("USING DELTA", "USING PARQUET")
        .replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE")
        for t in ALL_TABLES
    ]
    tables = [t[: t.index("TBLPROPERTIES")] for t in tables]  # Delta-only properties
    q = "spark_catalog.etl"
    inserts = [
        f"INSERT INTO {q}.ETLconfigProcess VALUES ('CORP', 'HR', 'HR load', NULL, 'ops', 'D', true, "
        "current_timestamp(), 'me', current_timestamp(), 'me')",
        f"INSERT INTO {q}.ETLconfigTasks VALUES ('CORP', 'HR', 1, 1, 2, 'Load', 'DBX_NOTEBOOK', 'W1', true, true, "
        "'D', NULL, NULL, NULL, NULL, 60, NULL, current_timestamp(), 'me', current_timestamp(), 'me')",
        f"INSERT INTO {q}.ETLconfigParameters VALUES ('CORP', 'HR', 'W1', 'DELTA_DATE', NULL, NULL, NULL, NULL, "
        "true, current_timestamp(), 'me', current_timestamp(), 'me')",
    ]
    events = [
        c.name for c in next(t for t in ALL_TABLES if t.name == "ETLProcessingEvents").columns
    ]

    def event(status: str, event_id: str, minute: int, **extra: str) -> str:
        values = {
            "EventID": f"'{event_id}'",
            "EventTime": f"TIMESTAMP'2026-04-09 01:{minute:02d}:00'",
            "EventType": "'STEP'",
            "ExecutionID": "'e1'",
            "ProjectCode": "'CORP'",
            "ProcessLoad": "'HR'",
            "TaskID": "1",
            "WorkFlowID": "1",
            "SequenceID": "2",
            "ProcessingDate": "DATE'2026-04-09'",
            "AttemptNo": "1",
            "StatusCode": f"'{status}'",
            "TaskMandatory": "true",
            "SLAMinutes": "60",
            "SourceSystemCode": "'W1'",
            **extra,
        }
        return f"INSERT INTO {q}.ETLProcessingEvents VALUES ({', '.join(values.get(c, 'NULL') for c in events)})"

    inserts += [
        event("NQUE", "a", 0),
        event("RUNNING", "b", 1, StartTime="TIMESTAMP'2026-04-09 01:01:00'"),
        event(
            "FAIL",
            "c",
            2,
            StartTime="TIMESTAMP'2026-04-09 01:01:00'",
            EndTime="TIMESTAMP'2026-04-09 01:02:00'",
        ),
        event(
            "FAIL",
            "c",
            2,
            StartTime="TIMESTAMP'2026-04-09 01:01:00'",
            EndTime="TIMESTAMP'2026-04-09 01:02:00'",
        ),
    ]
    views = [
        (v.name, v.create_sql("spark_catalog", "etl", {"stale_after_seconds": 3600}))
        for v in ALL_VIEWS
    ]
    result = run_jvm_script(VIEWS_ON_SPARK, {"tables": tables, "inserts": inserts, "views": views})
    assert set(result) == {v.name for v in ALL_VIEWS}
    (step,) = result["ETLProcessingSteps"]
    assert step["StatusCode"] == "FAIL" and step["DurationSeconds"] == 60.0
    assert [r["TaskID"] for r in result["v_currentFailures"]] == [1]
    assert result["v_mandatoryBlockers"][0]["BlockedTaskCount"] == 0
    assert result["v_runSummary"][0]["RunStatus"] == "FAIL"
    assert result["v_processStatus"][0]["ProcessStatus"] == "FAIL"
    assert result["v_watermarks"][0]["ActiveValue"] == "1900-01-01T00:00:00.000"
    assert result["v_pendingTasks"] == []
