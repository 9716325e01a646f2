"""One `with monitor.task()` and a parallel stage, per engine, side by side.

For one task: statements issued, Delta commits, median and p90 wall time. For 16 tasks of
one stage in 8 threads, and in 2 processes (sessions of their own on the same warehouse,
4 threads each): tasks per second, errors and commit conflicts retried. Each
engine runs in its own process (Sail, and Delta on classic JVM Spark).

Run: python benchmarks/bench_task.py [--runs N] [--history N] [--engines sail,delta | all]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from side_by_side import ALL_ENGINES, DEFAULT_ENGINES, run

P, L = "BENCH", "DAILY"


def commits(root: str) -> int:
    """Commits of the event log under `root` (a catalog may lower-case the table's folder)."""
    logs = Path(root).glob("**/_delta_log/*.json")
    return sum(1 for log in logs if log.parent.parent.name.lower() == "etlprocessingevents")


def register(monitor: Any, tasks: int) -> None:
    monitor.register_process(P, L)
    for n in range(1, tasks + 1):
        monitor.register_task(
            P, L, task_id=n, workflow_id=1, sequence_id=2, source_system_code=f"W{n}"
        )
        monitor.register_parameter(P, L, f"W{n}", "DELTA_DATE")


def single_task(monitor: Any, root: str, runs: int) -> dict[str, str]:
    times, statements, deltas = [], [], []
    for n in range(runs):
        e = monitor.generate_execution_id()
        monitor.generate_execution_steps(e, P, L, date(2025, 1, 1) + timedelta(days=n))
        before_stmt, before_commits = monitor.executor.stats["statements"], commits(root)
        t = time.perf_counter()
        with monitor.task(e, P, L, task_id=1, workflow_id=1):
            pass
        times.append((time.perf_counter() - t) * 1000)
        statements.append(monitor.executor.stats["statements"] - before_stmt)
        deltas.append(commits(root) - before_commits)
    return {
        "one task(): statements": f"{statistics.median(statements):.0f}",
        "one task(): Delta commits": f"{statistics.median(deltas):.0f}",
        "one task(): median ms": f"{statistics.median(times):.0f}",
        "one task(): p90 ms": f"{sorted(times)[int(len(times) * 0.9)]:.0f}",
    }


def parallel_stage(monitor: Any, tasks: int, threads: int) -> dict[str, str]:
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-10")
    errors: list[BaseException] = []
    retries_before = monitor.executor.stats["retries"]

    def work(task_id: int) -> None:
        try:
            with monitor.task(e, P, L, task_id=task_id, workflow_id=1) as step:
                assert step.active
            if step.bookkeeping_error:
                errors.append(step.bookkeeping_error)
        except BaseException as error:  # counted, not raised: the benchmark reports errors
            errors.append(error)

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(1, tasks + 1)))
    elapsed = time.perf_counter() - t
    done = sum(
        1
        for r in monitor.spark.table(monitor.table_name("ETLProcessingSteps")).collect()
        if r.ExecutionID == e and r.Status == "DONE"
    )
    label = f"{tasks} tasks in {threads} threads"
    return {
        f"{label}: tasks/s": f"{tasks / elapsed:.1f}",
        f"{label}: errors": str(len(errors)),
        f"{label}: conflicts retried": str(monitor.executor.stats["retries"] - retries_before),
        f"{label}: DONE": f"{done}/{tasks}",
    }


#: One of two processes: its own session on the warehouse (as two clusters, or two jobs, on
#: one schema), warmed up by a read, then its half of the stage in 4 threads.
HALF = """
import time
from concurrent.futures import ThreadPoolExecutor
m = ETLMonitorFramework(spark, ARGS["catalog"], ARGS["schema"])
m.task_status(ARGS["e"], "BENCH", "DAILY", task_id=ARGS["tasks"][0], workflow_id=1)
errors = []
def work(task_id):
    try:
        with m.task(ARGS["e"], "BENCH", "DAILY", task_id=task_id, workflow_id=1) as step:
            assert step.active
        if step.bookkeeping_error:
            errors.append(repr(step.bookkeeping_error))
    except BaseException as error:
        errors.append(repr(error))
ready()
t = time.perf_counter()
with ThreadPoolExecutor(4) as pool:
    list(pool.map(work, ARGS["tasks"]))
result({"seconds": time.perf_counter() - t, "errors": errors, "retries": m.executor.stats["retries"]})
"""


def two_processes(monitor: Any, root: str, engine: str, tasks: int) -> dict[str, str]:
    """`tasks` tasks of one stage, half in each of two processes with sessions of their own."""
    from tests.helpers import Child, start_together

    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-11")
    ids = list(range(1, tasks + 1))
    children = [
        Child(HALF, root, engine, catalog=monitor.catalog, schema=monitor.schema, e=e, tasks=half)
        for half in (ids[0::2], ids[1::2])
    ]
    start_together(children)
    results = [child.result() for child in children]
    elapsed = max(r["seconds"] for r in results)
    label = f"{tasks} tasks in 2 processes"
    return {
        f"{label}: tasks/s": f"{tasks / elapsed:.1f}",
        f"{label}: errors": str(sum(len(r["errors"]) for r in results)),
        f"{label}: conflicts retried": str(sum(r["retries"] for r in results)),
    }


def measure(spark: Any, catalog: str, root: str, args: dict[str, Any]) -> dict[str, str]:
    from etl_monitor import ETLMonitorFramework

    monitor = ETLMonitorFramework(spark, catalog, args.get("schema", "bench"))
    monitor.setup()
    register(monitor, 16)
    for _ in range(args["history"]):
        e = monitor.generate_execution_id()
        monitor.generate_execution_steps(e, P, L, "2026-01-01")
    figures = {**single_task(monitor, root, args["runs"]), **parallel_stage(monitor, 16, 8)}
    engine = args["engine"]
    if engine in ("sail", "delta"):  # engines a child process starts on the same warehouse
        figures.update(two_processes(monitor, root, engine, 16))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--history", type=int, default=0, help="extra executions to write first (log size)"
    )
    parser.add_argument(
        "--engines",
        default=",".join(DEFAULT_ENGINES),
        help=f"comma-separated, or 'all': {','.join(ALL_ENGINES)}",
    )
    options = parser.parse_args()
    engines = ALL_ENGINES if options.engines == "all" else tuple(options.engines.split(","))
    print(f"task(), {options.runs} runs per engine, {options.history} executions of history")
    run(
        "bench_task",
        {"runs": options.runs, "history": options.history},
        engines,
    )


if __name__ == "__main__":
    main()
