"""Reporting views: contents after failures and retries, get_status, receipts, and real Spark."""

from __future__ import annotations

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError
from tests.helpers import ALL_VIEWS, register_hr, rows
from tests.schemas import copied_with

P, L = "CORP", "HR_DAILY"


def _run(monitor, e, task_id, fail=False):
    try:
        with monitor.task(e, P, L, task_id=task_id, workflow_id=1 if task_id else 0):
            if fail:
                raise RuntimeError(f"task {task_id} broke")
    except RuntimeError:
        pass


@pytest.fixture
def retried(spark, catalog):
    """Execution 1: task 1 (mandatory) and 3 fail, 2 done (a copy of this worker's template)."""
    return copied_with(spark, catalog, "failed_run", _failed_run)


def _failed_run(monitor: ETLMonitorFramework):
    register_hr(monitor)
    e1 = monitor.generate_execution_id()
    monitor.generate_execution_steps(e1, P, L, "2026-04-09")
    _run(monitor, e1, 0)
    _run(monitor, e1, 1, fail=True)
    _run(monitor, e1, 2)
    _run(monitor, e1, 3, fail=True)
    return e1


@pytest.mark.core
def test_failures_and_blockers_before_retry(retried):
    monitor, e1 = retried
    failures = rows(monitor, "v_currentFailures")
    assert sorted((r["TaskID"], r["Status"], r["LogMessage"]) for r in failures) == [
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
            "Done",
            "Failed",
            "Pending",
            "RunStatus",
            "InitiationStatus",
            "IsLatestExecution",
        )
    } == {
        "TotalTasks": 4,
        "Done": 1,
        "Failed": 2,
        "Pending": 1,
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
    pending = [r.TaskID for r in monitor.get_pending_tasks(e2, P, L, "2026-04-09").collect()]
    assert pending == [0, 1, 3, 9]
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
        (summaries[e1]["Attempts"], summaries[e2]["Attempts"]),
        (summaries[e1]["OverallStatus"], summaries[e2]["OverallStatus"]),
    ) == ("DONE", True, 2, (0, 1), ("FAILED", "COMPLETE"))
    (status,) = rows(monitor, "v_processStatus")
    assert (
        status["ProcessStatus"],
        status["Done"],
        status["TotalTasks"],
        status["TotalRuns"],
    ) == ("DONE", 4, 4, 2)  # the initiation step is not counted as a task
    current = {r["TaskID"]: r["ExecutionID"] for r in rows(monitor, "v_taskDetail", IsCurrent=True)}
    assert current == {0: e2, 1: e2, 2: e1, 3: e2, 9: e2}


def test_sla_breach_flag(monitor: ETLMonitorFramework):
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    monitor.start_task(e, P, L, task_id=1, workflow_id=1, timestamp="2026-04-09T01:00:00+00:00")
    monitor.end_task(
        e, P, L, task_id=1, workflow_id=1, timestamp="2026-04-09T02:30:00+00:00"
    )  # 90 min, SLA 60
    monitor.start_task(e, P, L, task_id=2, workflow_id=1, timestamp="2026-04-09T01:00:00+00:00")
    monitor.end_task(e, P, L, task_id=2, workflow_id=1, timestamp="2026-04-09T01:20:00+00:00")
    flags = {r["TaskID"]: r["SLABreached"] for r in rows(monitor, "v_taskDetail", ExecutionID=e)}
    assert flags[1] is True and flags[2] is False and flags[3] is False
    assert rows(monitor, "v_runSummary")[0]["SLABreachedTasks"] == 1


@pytest.mark.core
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
    summary = monitor.get_status(P, L, "2026-04-09", summary_mode=True).collect()
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
