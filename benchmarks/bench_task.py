"""Cost of one `with monitor.task()` and throughput of a parallel stage, on the embedded engine.

Prints, for one task: statements issued, Delta commits and median wall time; for 16 tasks of
one stage in 8 threads: tasks per second and errors.

Run: python benchmarks/bench_task.py [--runs N] [--history N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from etl_monitor import ETLMonitorFramework
from etl_monitor.local import spark_session

P, L = "BENCH", "DAILY"


def commits(root: str) -> int:
    return len(list(Path(root).glob("**/ETLProcessingEvents/_delta_log/*.json")))


def register(monitor: ETLMonitorFramework, tasks: int) -> None:
    monitor.register_process(P, L)
    for n in range(1, tasks + 1):
        monitor.register_task(
            P, L, task_id=n, workflow_id=1, sequence_id=2, source_system_code=f"W{n}"
        )
        monitor.register_parameter(P, L, f"W{n}", "DELTA_DATE")


def single_task(monitor: ETLMonitorFramework, root: str, runs: int) -> None:
    times, statements, deltas = [], [], []
    for run in range(runs):
        e = monitor.generate_execution_id()
        monitor.generate_execution_steps(e, P, L, date(2025, 1, 1) + timedelta(days=run))
        before_stmt, before_commits = monitor.executor.stats["statements"], commits(root)
        t = time.perf_counter()
        with monitor.task(e, P, L, 1, 1):
            pass
        times.append((time.perf_counter() - t) * 1000)
        statements.append(monitor.executor.stats["statements"] - before_stmt)
        deltas.append(commits(root) - before_commits)
    print(
        f"one task(): {statistics.median(statements):.0f} statements, {statistics.median(deltas):.0f} Delta commits, "
        f"median {statistics.median(times):.1f} ms (p90 {sorted(times)[int(len(times) * 0.9)]:.1f}) over {runs} runs"
    )


def parallel_stage(monitor: ETLMonitorFramework, tasks: int, threads: int) -> None:
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-10")
    errors: list[BaseException] = []

    def work(task_id: int) -> None:
        try:
            with monitor.task(e, P, L, task_id, 1) as run:
                assert run.active
            if run.bookkeeping_error:
                errors.append(run.bookkeeping_error)
        except BaseException as error:  # counted, not raised: the benchmark reports errors
            errors.append(error)

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(1, tasks + 1)))
    elapsed = time.perf_counter() - t
    done = sum(
        1
        for r in monitor.spark.table(monitor.table_name("ETLProcessingSteps")).collect()
        if r.ExecutionID == e and r.StatusCode == "DONE"
    )
    print(
        f"{tasks} tasks in {threads} threads: {tasks / elapsed:.1f} tasks/s ({elapsed:.2f} s), "
        f"{len(errors)} errors, {done}/{tasks} DONE"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--history", type=int, default=0, help="extra executions to write first (log size)"
    )
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="etlm-bench-")
    monitor = ETLMonitorFramework(spark_session(root), "main", "bench")
    monitor.setup()
    register(monitor, 16)
    for _ in range(args.history):
        e = monitor.generate_execution_id()
        monitor.generate_execution_steps(e, P, L, "2026-01-01")
    single_task(monitor, root, args.runs)
    parallel_stage(monitor, 16, 8)


if __name__ == "__main__":
    main()
