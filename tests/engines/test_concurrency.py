"""16 tasks of one stage at once: in 8 threads, and in 2 processes. No error, every task DONE."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from etl_monitor import ETLMonitorFramework
from tests.helpers import Child, rows, start_together
from tests.schemas import copied_with

P, L = "CORP", "PARALLEL"
TASKS = range(1, 17)


def register_parallel(monitor: ETLMonitorFramework) -> str:
    """16 tasks of one stage, each with its watermark, queued for one day; returns the execution."""
    monitor.register_process(P, L, name="Parallel stage")
    for n in TASKS:
        monitor.register_task(
            P, L, task_id=n, workflow_id=1, sequence_id=2, source_system_code=f"W{n}"
        )
        monitor.register_parameter(P, L, f"W{n}", "DELTA_DATE")
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    return e


@pytest.fixture
def parallel(spark, catalog) -> tuple[ETLMonitorFramework, str]:
    """`register_parallel` on a copy of this worker's template (built once through the API)."""
    return copied_with(spark, catalog, "parallel", register_parallel)


def assert_all_done(monitor: ETLMonitorFramework, e: str) -> None:
    steps = rows(monitor, "ETLProcessingSteps", ExecutionID=e)
    assert sorted((r["TaskID"], r["Status"]) for r in steps) == [(n, "DONE") for n in TASKS]
    marks = {r["ParameterName"]: r for r in rows(monitor, "v_watermarks")}
    starts = {f"W{r['TaskID']}": r["StartTime"] for r in steps}
    assert {name: marks[name]["ValueDateTime"] for name in starts} == starts
    # exactly one RUNNING and one DONE event per task, one watermark event per task
    events = rows(monitor, "ETLProcessingEvents", ExecutionID=e)
    assert len([x for x in events if x["StatusCode"] == "RUNNING"]) == 16
    assert len([x for x in events if x["StatusCode"] == "DONE"]) == 16
    assert len([x for x in events if x["EventType"] == "WATERMARK"]) == 16
    (summary,) = rows(monitor, "v_runSummary", ExecutionID=e)
    assert (summary["RunStatus"], summary["Done"]) == ("DONE", 16)


@pytest.mark.core
def test_sixteen_tasks_in_eight_threads(parallel):
    monitor, e = parallel

    def work(task_id: int) -> str:
        with monitor.task(e, P, L, task_id=task_id, workflow_id=1) as t:
            assert t.active
            time.sleep(0.05)  # the load
        assert t.bookkeeping_error is None
        return t.status

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, TASKS)) == ["DONE"] * 16
    assert_all_done(monitor, e)


WORKER = """
monitor = ETLMonitorFramework(spark, ARGS["catalog"], ARGS["schema"])
monitor.setup()
ready()
def work(task_id):
    with monitor.task(ARGS["e"], "CORP", "PARALLEL", task_id=task_id, workflow_id=1) as t:
        time.sleep(0.05)
    return [t.status, repr(t.bookkeeping_error) if t.bookkeeping_error else None]
import time
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as pool:
    result(list(pool.map(work, ARGS["tasks"])))
"""


def test_sixteen_tasks_in_two_processes(parallel, warehouse, child_engine):
    monitor, e = parallel
    halves = [list(TASKS)[0::2], list(TASKS)[1::2]]
    children = [
        Child(
            WORKER,
            warehouse,
            child_engine,
            catalog=monitor.catalog,
            schema=monitor.schema,
            e=e,
            tasks=h,
        )
        for h in halves
    ]
    start_together(children)
    results = [r for child in children for r in child.result()]
    assert results == [["DONE", None]] * 16
    assert_all_done(monitor, e)
