"""The task lifecycle: task() context manager, start/end/fail, failure paths, bookkeeping faults."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError
from etl_monitor.errors import StepStateError
from etl_monitor.tracking import lifecycle
from tests.helpers import commit_count, last_commit, register_hr, rows
from tests.schemas import copied_with

P, L = "CORP", "HR_DAILY"


def _queued(monitor: ETLMonitorFramework) -> str:
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    return e


@pytest.fixture
def run(spark, catalog):
    """HR_DAILY with one execution queued for 2026-04-09 (a copy of this worker's template)."""
    return copied_with(spark, catalog, "queued", _queued)


def _step(monitor, e, task_id=1):
    return rows(monitor, "ETLProcessingSteps", ExecutionID=e, TaskID=task_id)[0]


@pytest.mark.core
def test_success_records_done_with_times_and_watermark(run, warehouse):
    monitor, e = run
    commits_before = commit_count(warehouse, monitor, "ETLProcessingEvents")
    with monitor.task(
        e, P, L, task_id=1, workflow_id=1, sequence_id=2, processing_date="2026-04-09"
    ) as t:
        assert (
            t.active
            and t.status == "RUNNING"
            and t.attempt == 1
            and t.file_name == "load1_20260409.csv"
        )
        inside = _step(monitor, e)
        assert inside["Status"] == "RUNNING" and inside["StartTime"] is not None
        assert (
            rows(monitor, "v_taskDetail", ExecutionID=e, TaskID=1)[0]["EffectiveStatus"]
            == "RUNNING"
        )
        assert rows(monitor, "v_runSummary", ExecutionID=e)[0]["RunStatus"] == "RUNNING"
    assert t.status == "DONE"
    step = _step(monitor, e)
    assert step["Status"] == "DONE" and step["EndTime"] >= step["StartTime"]
    assert step["DurationSeconds"] == pytest.approx(
        (step["EndTime"] - step["StartTime"]).total_seconds()
    )
    assert step["LogType"] == "INFO" and step["ExceptionType"] is None
    # DELTA_DATE advanced to the task's start time
    assert monitor.get_active_watermark(P, L, "W1") == step["StartTime"]
    (watermark,) = rows(monitor, "ETLProcessingEvents", EventType="WATERMARK", ParameterName="W1")
    assert watermark["ExecutionID"] == e and watermark["ValueDateTime"] == step["StartTime"]
    # ...in the same commit as DONE: two commits for the task, the second adding both rows
    assert commit_count(warehouse, monitor, "ETLProcessingEvents") == commits_before + 2
    last = last_commit(warehouse, monitor, "ETLProcessingEvents")
    assert sum(json.loads(a["add"]["stats"])["numRecords"] for a in last if "add" in a) == 2


@pytest.mark.core
def test_task_costs_one_read_one_claim_and_one_append(run):
    monitor, e = run
    before = dict(monitor.executor.stats)
    with monitor.task(e, P, L, task_id=1, workflow_id=1):
        pass
    after = monitor.executor.stats
    # the step read, and the claim's read-back of its own row (both of one date's files)
    assert after["query"] - before.get("query", 0) == 2
    # the RUNNING claim: an idempotent append where the engine has them, else a MERGE
    once = monitor.engine.idempotent_append
    assert after.get("merge", 0) - before.get("merge", 0) == (0 if once else 1)
    assert after.get("write", 0) - before.get("write", 0) == 0
    # DONE with its watermark (and the claim, when it is an append)
    assert after["append"] - before.get("append", 0) == (2 if once else 1)
    assert after["statements"] - before["statements"] == 4


@pytest.mark.core
def test_exception_recorded_verbatim_and_original_reraised(run):
    monitor, e = run
    message = "bad row 'x' -- \"y\"; \\n\nline2 ü"

    class LoadError(Exception):
        pass

    error = LoadError(message)
    with pytest.raises(LoadError) as info, monitor.task(e, P, L, task_id=2, workflow_id=1) as t:
        raise error
    assert info.value is error
    assert t.status == "FAIL"
    step = _step(monitor, e, 2)
    assert (step["Status"], step["LogMessage"], step["ExceptionType"], step["LogType"]) == (
        "FAIL",
        message,
        "LoadError",
        "ERROR",
    )
    assert "raise error" in step["StackTrace"] and "LoadError" in step["StackTrace"]
    assert monitor.get_active_watermark(P, L, "W2") is None  # a failed task does not advance


def test_recording_failure_failing_still_reraises_original(run, monkeypatch):
    monitor, e = run
    with monitor.task(e, P, L, task_id=2, workflow_id=1) as t:
        pass  # warm path: start works
    calls = {"n": 0}
    real = lifecycle.append_events

    def broken(ctx, events):
        calls["n"] += 1
        if calls["n"] > 0:  # RUNNING is a claim (not an append): break every append
            raise OSError("storage unavailable")
        return real(ctx, events)

    monkeypatch.setattr(lifecycle, "append_events", broken)
    monkeypatch.setattr(
        lifecycle, "BOOKKEEPING_RETRY", lifecycle.RetryPolicy(max_attempts=2, base_delay=0.001)
    )
    with pytest.raises(ZeroDivisionError), monitor.task(e, P, L, task_id=3, workflow_id=1) as t:
        1 / 0  # noqa: B018
    assert isinstance(t.bookkeeping_error, OSError)
    assert (
        _step(monitor, e, 3)["Status"] == "RUNNING"
    )  # left running: stale later, never half-written


def test_bookkeeping_failure_after_success_is_retried_not_failed(run, monkeypatch):
    monitor, e = run
    real = lifecycle.append_events
    failures = {"left": 2}

    def flaky(ctx, events):
        if any(r[2] == "STEP" and "DONE" in r for r in events) and failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("network blip")
        return real(ctx, events)

    monkeypatch.setattr(lifecycle, "append_events", flaky)
    monkeypatch.setattr(
        lifecycle, "BOOKKEEPING_RETRY", lifecycle.RetryPolicy(max_attempts=5, base_delay=0.001)
    )
    with monitor.task(e, P, L, task_id=1, workflow_id=1) as t:
        pass
    assert failures["left"] == 0 and t.status == "DONE" and t.bookkeeping_error is None
    assert _step(monitor, e)["Status"] == "DONE"
    assert not [
        r
        for r in rows(monitor, "ETLProcessingEvents", ExecutionID=e, TaskID=1)
        if r["StatusCode"] == "FAIL"
    ]


def test_bookkeeping_failing_for_good_after_success_does_not_raise(run, monkeypatch):
    monitor, e = run
    real = lifecycle.append_events

    def done_breaks(ctx, events):
        if any("DONE" in r for r in events):
            raise ConnectionError("down")
        return real(ctx, events)

    monkeypatch.setattr(lifecycle, "append_events", done_breaks)
    monkeypatch.setattr(
        lifecycle, "BOOKKEEPING_RETRY", lifecycle.RetryPolicy(max_attempts=3, base_delay=0.001)
    )
    with monitor.task(e, P, L, task_id=1, workflow_id=1) as t:
        pass
    assert isinstance(t.bookkeeping_error, ConnectionError)
    assert _step(monitor, e)["Status"] == "RUNNING"


@pytest.mark.parametrize(
    "exc, status",
    [(KeyboardInterrupt(), "CANCELLED"), (SystemExit(2), "FAIL"), (SystemExit(0), "CANCELLED")],
)
def test_interrupts_recorded_and_reraised(run, exc, status):
    monitor, e = run
    with pytest.raises(type(exc)), monitor.task(e, P, L, task_id=1, workflow_id=1) as t:
        raise exc
    assert t.status == status
    step = _step(monitor, e)
    assert step["Status"] == status and step["ExceptionType"] == type(exc).__name__


def test_inactive_runs_write_nothing(run):
    monitor, e = run
    with monitor.task(e, P, L, task_id=1, workflow_id=1):
        pass
    monitor.skip_task(e, P, L, 3, 1)
    monitor.deactivate_task(P, L, 9, 1)
    before = rows(monitor, "ETLProcessingEvents")
    cases = [
        (e, 1, 1, "already DONE"),
        (e, 3, 1, "already SKIPPED"),
        (e, 9, 1, "deactivated"),
        (e, 7, 1, "no such step"),
        (monitor.generate_execution_id(), 1, 1, "no such step"),
    ]
    for execution_id, task_id, workflow_id, reason in cases:
        with monitor.task(execution_id, P, L, task_id=task_id, workflow_id=workflow_id) as t:
            assert not t.active and not t and reason in t.inactive_reason
        assert t.status == "NULL"  # databricks-etl-monitor's "nothing to run"
    by_id = lambda r: r["EventID"]  # noqa: E731
    assert sorted(rows(monitor, "ETLProcessingEvents"), key=by_id) == sorted(before, key=by_id)


def test_exception_in_inactive_block_propagates_and_writes_nothing(run):
    monitor, e = run
    before = rows(monitor, "ETLProcessingEvents")
    with pytest.raises(ValueError), monitor.task(e, P, L, task_id=7, workflow_id=1):
        raise ValueError("x")
    assert rows(monitor, "ETLProcessingEvents") == before


@pytest.mark.core
def test_start_end_fail_api_with_adf_fields(run):
    monitor, e = run
    t0 = datetime(2026, 4, 9, 1, 0, tzinfo=timezone.utc)
    started = monitor.start_task(
        e,
        P,
        L,
        task_id=1,
        workflow_id=1,
        sequence_id=2,
        processing_date="2026-04-09",
        source_type="ADF_PIPELINE",
        timestamp=t0,
        source_run_id="adf-run-1",
    )
    assert started.active
    assert (
        monitor.end_task(
            e,
            P,
            L,
            task_id=1,
            workflow_id=1,
            timestamp="2026-04-09T01:30:00+00:00",
            log_message="ok 42 rows",
            log_code="R42",
        )
        == "DONE"
    )
    step = _step(monitor, e)
    assert (step["SourceType"], step["SourceRunID"], step["LogMessage"], step["LogCode"]) == (
        "ADF_PIPELINE",
        "adf-run-1",
        "ok 42 rows",
        "R42",
    )
    assert step["DurationSeconds"] == 1800.0
    assert (
        monitor.end_task(e, P, L, task_id=1, workflow_id=1) == "DONE"
    )  # a repeated end (ADF retry) is harmless
    monitor.start_task(e, P, L, task_id=2, workflow_id=1)
    assert (
        monitor.fail_task(
            e, P, L, task_id=2, workflow_id=1, log_message="copy failed: 'quota'", log_code="2200"
        )
        == "FAIL"
    )
    failed = _step(monitor, e, 2)
    assert (failed["Status"], failed["LogMessage"], failed["LogCode"], failed["LogType"]) == (
        "FAIL",
        "copy failed: 'quota'",
        "2200",
        "ERROR",
    )
    with pytest.raises(StepStateError, match="already DONE"):
        monitor.fail_task(e, P, L, task_id=1, workflow_id=1)
    # a failed step started again without a reset is an implicit retry
    again = monitor.start_task(e, P, L, task_id=2, workflow_id=1)
    assert again.active and again.attempt == 2


@pytest.mark.core
def test_started_twice_is_not_run_twice(run):
    monitor, e = run
    first = monitor.start_task(e, P, L, task_id=1, workflow_id=1)
    second = monitor.start_task(e, P, L, task_id=1, workflow_id=1)
    assert first.active and not second.active and "RUNNING" in second.inactive_reason


def test_stale_running_task_detected(monitor: ETLMonitorFramework, spark):
    register_hr(monitor)
    stale = ETLMonitorFramework(spark, monitor.catalog, monitor.schema, stale_after_minutes=1)
    stale.setup()
    e = stale.generate_execution_id()
    stale.generate_execution_steps(e, P, L, "2026-04-09")
    stale.start_task(
        e, P, L, task_id=1, workflow_id=1, timestamp=datetime(2026, 4, 9, 1, 0, tzinfo=timezone.utc)
    )
    stale.start_task(e, P, L, task_id=2, workflow_id=1)
    found = stale.stale_tasks(P, L)
    assert [r["TaskID"] for r in found] == [1]
    detail = {r["TaskID"]: r["IsStale"] for r in rows(stale, "v_taskDetail", ExecutionID=e)}
    assert detail[1] is True and detail[2] is False
    summary = rows(stale, "v_runSummary", ExecutionID=e)[0]
    assert (summary["StaleTasks"], summary["RunningTasks"], summary["RunStatus"]) == (
        1,
        1,
        "RUNNING",
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"processing_date": "yesterday"}, "processing_date")
    ],  # the rest: tests/unit/test_refusals.py
)
def test_task_arguments_validated_before_anything(run, kwargs, message):
    monitor, e = run
    args = {"task_id": 1, "workflow_id": 1} | kwargs
    before = rows(monitor, "ETLProcessingEvents")
    with pytest.raises(InvalidArgumentError, match=message):
        monitor.task(e, P, L, **args)
    with pytest.raises(InvalidArgumentError, match="log_type"):
        monitor.end_task(e, P, L, task_id=1, workflow_id=1, log_type="FATAL")
    assert rows(monitor, "ETLProcessingEvents") == before


def test_databricks_run_and_cluster_ids_recorded(run, monkeypatch):
    monitor, e = run
    monkeypatch.setenv("DATABRICKS_JOB_RUN_ID", "778899")
    monkeypatch.setenv("DB_CLUSTER_ID", "0412-101010-abcd")
    with monitor.task(e, P, L, task_id=1, workflow_id=1, source_run_id="adf-123"):
        pass
    step = _step(monitor, e)
    assert (step["JobRunID"], step["ClusterID"], step["SourceRunID"]) == (
        "778899",
        "0412-101010-abcd",
        "adf-123",
    )


def test_a_sequence_date_or_attempt_the_step_does_not_have_is_refused(run):
    """A call naming task 1/1 with another stage, date or attempt reaches no step: it raises."""
    monitor, e = run
    before = rows(monitor, "ETLProcessingEvents")
    for wrong, name in (
        ({"sequence_id": 7}, "sequence_id=7"),
        ({"processing_date": "2030-01-01"}, "processing_date=datetime.date(2030, 1, 1)"),
        ({"attempts": 3}, "attempts=3"),
    ):
        with pytest.raises(InvalidArgumentError, match=re.escape(name) + ".*which has"):
            monitor.start_task(e, P, L, task_id=1, workflow_id=1, **wrong)
        with pytest.raises(InvalidArgumentError, match=re.escape(name)):
            monitor.task(e, P, L, task_id=1, workflow_id=1, **wrong).__enter__()
    assert rows(monitor, "ETLProcessingEvents") == before
    # Positional calls in databricks-etl-monitor's order (task, stage, pass) reach the step.
    started = monitor.start_task(e, P, L, 1, 2, 1, "2026-04-09", 0)
    assert started.active
    monitor.end_task(e, P, L, 1, 2, 1, "2026-04-09", 0, "DONE", "12 rows")
    step = _step(monitor, e)
    assert (step["Status"], step["LogMessage"], step["Attempts"]) == ("DONE", "12 rows", 0)
    # Our earlier order (task, pass, stage) reaches no other step: task 2 of pass 2 does
    # not exist, so nothing starts, and task 2 of pass 1 stays queued.
    e2 = monitor.generate_execution_id()
    monitor.generate_execution_steps(e2, P, L, "2026-04-10")
    wrong_order = monitor.start_task(e2, P, L, 2, 1, 2)
    assert not wrong_order.active and "no such step" in wrong_order.inactive_reason
    assert monitor.task_status(e2, P, L, task_id=2, workflow_id=1) == "NQUE"
