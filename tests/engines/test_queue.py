"""Steps and the queue: generation, idempotency, retries, period rules, pending, skip, reset."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError, NotFoundError
from etl_monitor.engine.executor import add_statement_listener
from etl_monitor.errors import StepStateError
from tests.helpers import pending as pending_tasks
from tests.helpers import rows, statuses
from tests.schemas import copied

P, L = "CORP", "HR_DAILY"


def _run(monitor, execution_id, task_id, fail=False):
    try:
        with monitor.task(
            execution_id, P, L, task_id=task_id, workflow_id=1 if task_id else 0
        ) as t:
            if fail:
                raise RuntimeError(f"task {task_id} failed")
    except RuntimeError:
        pass
    return t


@pytest.mark.core
def test_generate_queues_active_tasks_with_snapshot(hr: ETLMonitorFramework):
    hr.register_task(P, L, task_id=5, workflow_id=1, sequence_id=2, is_active=False)
    e = hr.generate_execution_id()
    assert hr.generate_execution_steps(e, P, L, "2026-04-09") == 5
    steps = {
        (r["TaskID"], r["WorkFlowID"]): r for r in rows(hr, "ETLProcessingSteps", ExecutionID=e)
    }
    assert sorted(steps) == [(0, 0), (1, 1), (2, 1), (3, 1), (9, 1)]
    one = steps[(1, 1)]
    assert (one["Status"], one["AttemptNo"], one["ProcessingDate"]) == (
        "NQUE",
        1,
        date(2026, 4, 9),
    )
    assert (one["TaskName"], one["SequenceID"], one["TaskMandatory"], one["SLAMinutes"]) == (
        "Load 1",
        2,
        True,
        60,
    )
    assert one["FullFileName"] == "load1_20260409.csv"
    # the snapshot does not follow later catalogue edits
    hr.register_task(P, L, task_id=1, workflow_id=1, sequence_id=3, task_name="Renamed")
    again = rows(hr, "ETLProcessingSteps", ExecutionID=e, TaskID=1)[0]
    assert (again["TaskName"], again["SequenceID"]) == ("Load 1", 2)


def test_generate_twice_and_concurrently_is_a_no_op(hr: ETLMonitorFramework):
    e = hr.generate_execution_id()
    with ThreadPoolExecutor(4) as pool:
        counts = list(
            pool.map(lambda _: hr.generate_execution_steps(e, P, L, "2026-04-09"), range(4))
        )
    assert max(counts) == 5
    assert hr.generate_execution_steps(e, P, L, "2026-04-09") == 0
    assert len(rows(hr, "ETLProcessingSteps", ExecutionID=e)) == 5


def test_a_repeat_generation_reads_only_its_date(hr: ETLMonitorFramework, spark, catalog):
    e = hr.generate_execution_id()
    assert hr.generate_execution_steps(e, P, L, "2026-04-09") == 5
    seen = []
    remove = add_statement_listener(seen.append)
    try:
        # another process (no memory of the execution) with the date: that date only
        other = ETLMonitorFramework(spark, catalog, hr.schema)
        assert other.generate_execution_steps(e, P, L, "2026-04-09") == 0
        # and without it: every date is read, and the execution is still found
        assert ETLMonitorFramework(spark, catalog, hr.schema).generate_execution_steps(e, P, L) == 0
    finally:
        remove()
    checks = [s for s in seen if "x.existing" in s.text]
    # the date filter, as a named parameter or (engines that drop them) bound as a subquery
    assert [("ProcessingDate = " in s.text and "known" in s.text) for s in checks] == [
        True,
        False,
    ]


@pytest.mark.core
def test_retry_under_new_execution_requeues_only_unfinished(hr: ETLMonitorFramework):
    e1 = hr.generate_execution_id()
    hr.generate_execution_steps(e1, P, L, "2026-04-09")
    _run(hr, e1, 1)
    _run(hr, e1, 2, fail=True)
    e2 = hr.generate_execution_id()
    assert hr.generate_execution_steps(e2, P, L, "2026-04-09") == 4
    second = {
        (r["TaskID"]): (r["Status"], r["AttemptNo"])
        for r in rows(hr, "ETLProcessingSteps", ExecutionID=e2)
    }
    assert second == {0: ("RQUE", 2), 2: ("RQUE", 2), 3: ("RQUE", 2), 9: ("RQUE", 2)}
    # another date starts afresh
    e3 = hr.generate_execution_id()
    assert hr.generate_execution_steps(e3, P, L, "2026-04-10") == 5
    assert {r["AttemptNo"] for r in rows(hr, "ETLProcessingSteps", ExecutionID=e3)} == {1}


#: (frequency, DONE on, next run on, queued again?)
PERIOD_CASES = [
    ("M", "2026-04-02", "2026-04-28", False),
    ("M", "2026-03-31", "2026-04-01", True),
    ("Y", "2026-01-05", "2026-12-30", False),
    ("Y", "2025-12-31", "2026-01-01", True),
    ("W", "2026-04-06", "2026-04-12", False),  # Monday and Sunday of ISO week 15
    ("W", "2026-04-12", "2026-04-13", True),
    ("W", "2025-12-29", "2026-01-01", False),  # ISO week 1 of 2026 starts in 2025
    # Backfills: DONE later in the period counts for an earlier date of the same period.
    ("M", "2026-03-31", "2026-03-15", False),
    ("M", "2026-04-01", "2026-03-31", True),
    ("Y", "2026-12-31", "2026-01-01", False),
    ("Y", "2027-01-01", "2026-12-31", True),
    ("W", "2026-04-12", "2026-04-06", False),  # Sunday, then the Monday of ISO week 15
    ("W", "2026-04-13", "2026-04-12", True),
    ("D", "2026-04-09", "2026-04-09", False),
    ("D", "2026-04-09", "2026-04-10", True),
    ("A", "2026-04-09", "2026-04-09", True),
]


@pytest.fixture(scope="module")
def periods(spark, catalog) -> ETLMonitorFramework:
    """One schema per engine with a process per period case (PERIOD00...): an initiation
    task and task 1 of the case's frequency. Cases share the schema, not a process."""
    import yaml

    from etl_monitor.tracking import catalogue

    monitor = copied(spark, catalog)
    processes = [
        {
            "project_code": P,
            "process_load": f"PERIOD{n:02d}",
            "name": f"Period case {n}",
            "tasks": [
                {"task_id": 0, "workflow_id": 0, "sequence_id": 0, "task_name": "Initiation"},
                {
                    "task_id": 1,
                    "workflow_id": 1,
                    "sequence_id": 2,
                    "task_name": "Load",
                    "load_frequency": frequency,
                },
            ],
        }
        for n, (frequency, *_) in enumerate(PERIOD_CASES)
    ]
    doc = yaml.safe_dump({"version": 1, "processes": processes}, sort_keys=False)
    catalogue.apply(monitor.context, catalogue.load(doc))  # one MERGE per table
    return monitor


@pytest.mark.parametrize(
    "case", range(len(PERIOD_CASES)), ids=lambda n: "-".join(map(str, PERIOD_CASES[n]))
)
def test_period_rules(periods: ETLMonitorFramework, case):
    frequency, done_on, run_on, requeued = PERIOD_CASES[case]
    process = f"PERIOD{case:02d}"
    e1 = periods.generate_execution_id()
    periods.generate_execution_steps(e1, P, process, done_on)
    with periods.task(e1, P, process, task_id=1, workflow_id=1) as run:
        assert run.active, run.inactive_reason
    e2 = periods.generate_execution_id()
    periods.generate_execution_steps(e2, P, process, run_on)
    queued = {r["TaskID"] for r in rows(periods, "ETLProcessingSteps", ExecutionID=e2)}
    assert (1 in queued) is requeued, (frequency, done_on, run_on)
    assert 0 in queued  # the initiation step marks every execution


@pytest.mark.core
def test_pending_tasks_ordered_with_watermarks_and_autogenerates(hr: ETLMonitorFramework):
    e = hr.generate_execution_id()
    pending = pending_tasks(hr, e, P, L, "2026-04-09")
    assert [(r["WorkFlowID"], r["SequenceID"], r["TaskID"]) for r in pending] == [
        (0, 0, 0),
        (1, 2, 1),
        (1, 2, 2),
        (1, 2, 3),
        (1, 3, 9),
    ]
    first = pending[1]
    assert (first["WatermarkName"], first["WatermarkType"], first["WatermarkValue"]) == (
        "W1",
        "DELTA_DATE",
        "1900-01-01T00:00:00.000",
    )
    assert first["FullFileName"] == "load1_20260409.csv"
    _run(hr, e, 1)
    assert [r["TaskID"] for r in pending_tasks(hr, e, P, L, sequence_id=2)] == [2, 3]
    # One task: exactly one row; Status 'NULL' when there is nothing to run.
    (done,) = pending_tasks(hr, e, P, L, task_id=1, workflow_id=1)
    assert (done["Status"], done["TaskID"], done["FullFileName"]) == (
        "NULL",
        1,
        "load1_20260409.csv",
    )
    (queued,) = pending_tasks(hr, e, P, L, "2026-04-09", 2, 1, 2)  # date, stage, pass, task
    assert (queued["Status"], queued["TaskID"], queued["WatermarkName"]) == ("NQUE", 2, "W2")
    (missing,) = pending_tasks(hr, e, P, L, task_id=7, workflow_id=1)
    assert (missing["Status"], missing["ExecutionID"], missing["TaskID"]) == ("NULL", e, None)
    assert hr.task_status(e, P, L, task_id=2, workflow_id=1) == "NQUE"
    assert hr.task_status(e, P, L, "2026-04-09", 1, 2, 2) == "NQUE"  # date, pass, stage, task
    assert hr.task_status(e, P, L, task_id=1, workflow_id=1) == "NULL"  # DONE
    assert hr.task_status(e, P, L, task_id=7, workflow_id=1) == "NULL"  # no such step
    assert hr.task_status(e, P, L, task_id=2) == "NQUE"  # one pass has task 2: found without it


def test_deactivated_task_is_not_pending_and_does_not_block(hr: ETLMonitorFramework):
    e = hr.generate_execution_id()
    hr.generate_execution_steps(e, P, L, "2026-04-09")
    hr.deactivate_task(P, L, 9, 1)
    assert 9 not in [r["TaskID"] for r in pending_tasks(hr, e, P, L)]
    with hr.task(e, P, L, task_id=9, workflow_id=1) as t:
        assert not t.active and "deactivated" in t.inactive_reason
    for task_id in (1, 2, 3):
        _run(hr, e, task_id)
    summary = rows(hr, "v_runSummary", ExecutionID=e)[0]
    assert (summary["RunStatus"], summary["SkippedTasks"], summary["Done"]) == ("DONE", 1, 3)


def test_skip_is_for_one_run_only(hr: ETLMonitorFramework):
    e1 = hr.generate_execution_id()
    hr.generate_execution_steps(e1, P, L, "2026-04-09")
    hr.skip_task(e1, P, L, 3, 1, reason="source late")
    assert hr.task_status(e1, P, L, task_id=3, workflow_id=1) == "NULL"  # skipped: nothing to run
    assert rows(hr, "ETLProcessingSteps", ExecutionID=e1, TaskID=3)[0]["ForceSkip"] is True
    with hr.task(e1, P, L, task_id=3, workflow_id=1) as t:
        assert not t.active
    assert 3 not in [r["TaskID"] for r in pending_tasks(hr, e1, P, L)]
    hr.unskip_task(e1, P, L, 3, 1)
    assert hr.task_status(e1, P, L, task_id=3, workflow_id=1) == "NQUE"
    hr.skip_task(e1, P, L, 3, 1)
    e2 = hr.generate_execution_id()
    hr.generate_execution_steps(e2, P, L, "2026-04-09")
    assert hr.task_status(e2, P, L, task_id=3, workflow_id=1) == "RQUE"
    with pytest.raises(StepStateError, match="the step is DONE; allowed from NQUE, RQUE"):
        _run(hr, e2, 3)
        hr.skip_task(e2, P, L, 3, 1)
    with pytest.raises(NotFoundError):
        hr.skip_task(e2, P, L, 42, 1)


def test_status_reset_failures_of_an_execution(hr: ETLMonitorFramework):
    e = hr.generate_execution_id()
    hr.generate_execution_steps(e, P, L, "2026-04-09")
    _run(hr, e, 0)
    _run(hr, e, 1)
    _run(hr, e, 2, fail=True)
    hr.skip_task(e, P, L, 3, 1)
    assert hr.status_reset(P, L, execution_id=e) == 3  # task 2, the skip, and the initiation step
    assert statuses(hr, e) == {
        (0, 0): "RQUE",
        (1, 1): "DONE",
        (2, 1): "RQUE",
        (3, 1): "RQUE",
        (9, 1): "NQUE",
    }
    step = rows(hr, "ETLProcessingSteps", ExecutionID=e, TaskID=2)[0]
    assert step["AttemptNo"] == 2 and step["StartTime"] is None
    history = [r for r in rows(hr, "ETLProcessingEvents", ExecutionID=e, TaskID=2)]
    assert sorted(r["StatusCode"] for r in history) == ["FAIL", "NQUE", "RQUE", "RUNNING"]
    assert any(
        r["Reason"] == "status_reset (failures)" and r["PreviousStatus"] == "FAIL" for r in history
    )
    _run(hr, e, 2)
    assert statuses(hr, e)[(2, 1)] == "DONE"


def test_status_reset_one_task_and_day_replay(hr: ETLMonitorFramework):
    e = hr.generate_execution_id()
    hr.generate_execution_steps(e, P, L, "2026-04-09")
    for task_id in (1, 2, 3, 9):
        _run(hr, e, task_id)
    assert (
        hr.status_reset(P, L, execution_id=e, task_id=2, workflow_id=1) == 1
    )  # initiation still queued
    assert statuses(hr, e)[(2, 1)] == "RQUE" and statuses(hr, e)[(1, 1)] == "DONE"
    _run(hr, e, 2)
    # day replay: everything of the date, DONE included; a new execution then queues every task
    assert hr.status_reset(P, L, processing_date="2026-04-09") == 4
    assert set(statuses(hr, e).values()) == {"RQUE", "NQUE"}
    e2 = hr.generate_execution_id()
    assert hr.generate_execution_steps(e2, P, L, "2026-04-09") == 5


def test_status_reset_refuses_running_unless_forced(hr: ETLMonitorFramework):
    e = hr.generate_execution_id()
    hr.generate_execution_steps(e, P, L, "2026-04-09")
    hr.start_task(e, P, L, task_id=1, workflow_id=1)
    with pytest.raises(StepStateError, match="RUNNING"):
        hr.status_reset(P, L, execution_id=e, task_id=1, workflow_id=1)
    assert hr.status_reset(P, L, execution_id=e, task_id=1, workflow_id=1, force=True) == 1
    assert hr.task_status(e, P, L, task_id=1, workflow_id=1) == "RQUE"


@pytest.mark.parametrize(
    "call, error, message",
    [  # refusals on the arguments alone: tests/unit/test_refusals.py
        (
            lambda m: m.generate_execution_steps("e1", P, L, "09/04/2026"),
            InvalidArgumentError,
            "processing_date",
        ),
        (lambda m: m.generate_execution_steps("e1", P, "NOPE"), NotFoundError, "not registered"),
        (lambda m: m.task_status("e1", P, L, 1, 1), InvalidArgumentError, "processing_date"),
        (lambda m: m.status_reset(P, L), NotFoundError, "no steps"),
        (lambda m: m.status_reset(P, L, execution_id="nope"), NotFoundError, "no steps"),
    ],
)
def test_queue_failure_paths_write_nothing(hr: ETLMonitorFramework, call, error, message):
    before = rows(hr, "ETLProcessingEvents")
    with pytest.raises(error, match=message):
        call(hr)
    assert rows(hr, "ETLProcessingEvents") == before
