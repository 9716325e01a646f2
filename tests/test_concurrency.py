"""16 tasks of one stage at once: in 8 threads, and in 2 processes. No error, every task DONE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from etl_monitor import ETLMonitorFramework
from tests.helpers import rows

P, L = "CORP", "PARALLEL"
TASKS = range(1, 17)


def register_parallel(monitor: ETLMonitorFramework) -> str:
    monitor.register_process(P, L, name="Parallel stage")
    for n in TASKS:
        monitor.register_task(
            P, L, task_id=n, workflow_id=1, sequence_id=2, source_system_code=f"W{n}"
        )
        monitor.register_parameter(P, L, f"W{n}", "DELTA_DATE")
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    return e


def assert_all_done(monitor: ETLMonitorFramework, e: str) -> None:
    steps = rows(monitor, "ETLProcessingSteps", ExecutionID=e)
    assert sorted((r["TaskID"], r["StatusCode"]) for r in steps) == [(n, "DONE") for n in TASKS]
    marks = {r["ParameterName"]: r for r in rows(monitor, "v_watermarks")}
    starts = {f"W{r['TaskID']}": r["StartTime"] for r in steps}
    assert {name: marks[name]["ValueDateTime"] for name in starts} == starts
    # exactly one RUNNING and one DONE event per task, one watermark event per task
    events = rows(monitor, "ETLProcessingEvents", ExecutionID=e)
    assert len([x for x in events if x["StatusCode"] == "RUNNING"]) == 16
    assert len([x for x in events if x["StatusCode"] == "DONE"]) == 16
    assert len([x for x in events if x["EventType"] == "WATERMARK"]) == 16
    (summary,) = rows(monitor, "v_runSummary", ExecutionID=e)
    assert (summary["RunStatus"], summary["DoneTasks"]) == ("DONE", 16)


def test_sixteen_tasks_in_eight_threads(monitor: ETLMonitorFramework):
    e = register_parallel(monitor)

    def work(task_id: int) -> str:
        with monitor.task(e, P, L, task_id, 1) as t:
            assert t.active
            time.sleep(0.05)  # the load
        assert t.bookkeeping_error is None
        return t.status

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, TASKS)) == ["DONE"] * 16
    assert_all_done(monitor, e)


WORKER = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from etl_monitor import ETLMonitorFramework
from etl_monitor.local import spark_session
warehouse, schema, e, start_at, tasks = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), json.loads(sys.argv[5])
monitor = ETLMonitorFramework(spark_session(warehouse), "main", schema)
monitor.setup()
time.sleep(max(0.0, start_at - time.time()))
def work(task_id):
    with monitor.task(e, "CORP", "PARALLEL", task_id, 1) as t:
        time.sleep(0.05)
    return [t.status, repr(t.bookkeeping_error) if t.bookkeeping_error else None]
with ThreadPoolExecutor(4) as pool:
    print("RESULT:" + json.dumps(list(pool.map(work, tasks))))
"""


def test_sixteen_tasks_in_two_processes(monitor: ETLMonitorFramework, warehouse):
    e = register_parallel(monitor)
    start_at = time.time() + 10
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_"))}
    halves = [list(TASKS)[0::2], list(TASKS)[1::2]]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                warehouse,
                monitor.schema,
                e,
                str(start_at),
                json.dumps(h),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for h in halves
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-3000:]
        results += json.loads(next(x for x in out.splitlines() if x.startswith("RESULT:"))[7:])
    assert results == [["DONE", None]] * 16
    assert_all_done(monitor, e)
