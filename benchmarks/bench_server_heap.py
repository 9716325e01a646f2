"""A long-lived local JVM Delta server's heap as it reads more and more tables.

Each round copies a schema with the HR sample process registered (13 Delta tables) and
records one task run in it, as a test or a long CLI session would. After every 10 rounds
the server's live heap is measured after a full collection (``jcmd GC.run``, then
``GC.heap_info``). Two servers run side by side in one run: one with Delta's own DeltaLog
cache (10,000 logs kept for 60 minutes) and SQL status store (1,000 executions), one with
the library's settings (`etl_monitor.engine.local.JVM_SETTINGS`: 100 logs, 50 executions).

Needs a JDK's ``jcmd`` on the PATH and the Delta jars (fetched once).

Run: python benchmarks/bench_server_heap.py [rounds]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etl_monitor import local
from tests.helpers import register_hr
from tests.schemas import copied

#: Delta's and Spark's own defaults for the two settings the library bounds.
UNBOUNDED = "spark.databricks.delta.delta.log.cacheSize=10000 spark.sql.ui.retainedExecutions=1000"


def live_mb(pid: int) -> float:
    """Megabytes in use right after a full collection."""
    subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, check=True)
    info = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True).stdout
    used = re.search(r"used (\d+)K", info)
    if used is None:
        raise RuntimeError(f"no heap figure in: {info}")
    return int(used.group(1)) / 1024


def measure(label: str, extra_conf: str, rounds: int) -> list[tuple[int, float, float]]:
    """(rounds done, live MB, seconds per round since the last figure) every 10 rounds."""
    base = os.environ.get(local.SPARK_CONF_ENV, "")
    os.environ[local.SPARK_CONF_ENV] = f"{base} {extra_conf}".strip()
    warehouse = tempfile.mkdtemp(prefix="bench-heap-")
    try:
        spark = local.spark_session(warehouse, engine="delta-connect")
    finally:
        os.environ[local.SPARK_CONF_ENV] = base
    pid = local.server_of(spark).pid
    figures = [(0, live_mb(pid), 0.0)]
    started = time.perf_counter()
    for n in range(1, rounds + 1):
        monitor = copied(spark, "spark_catalog", "hr", register_hr)
        execution = monitor.generate_execution_id()
        monitor.generate_execution_steps(execution, "CORP", "HR_DAILY", "2026-04-09")
        with monitor.task(execution, "CORP", "HR_DAILY", task_id=1, workflow_id=1):
            pass
        if n % 10 == 0:
            figures.append((n, live_mb(pid), (time.perf_counter() - started) / 10))
            started = time.perf_counter()
            print(f"  {label}: {n} schemas, {figures[-1][1]:.0f} MB live", flush=True)
    local.stop(warehouse)
    return figures


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    runs = {"Delta's defaults": UNBOUNDED, "library settings": ""}
    results = {label: measure(label, conf, rounds) for label, conf in runs.items()}
    print(f"\nlive heap (MB) and seconds per round, {rounds} schemas of 13 tables each")
    print(f"{'schemas':>8}" + "".join(f"{label:>30}" for label in results))
    for row in zip(*results.values(), strict=True):
        cells = "".join(f"{mb:>20.0f} MB {secs:>5.1f} s" for _, mb, secs in row)
        print(f"{row[0][0]:>8}{cells}")
    for label, figures in results.items():  # from the first figure: past the warm-up
        (start, first, _), (end, last, _) = figures[1], figures[-1]
        print(f"{label}: {(last - first) / max(end - start, 1):.1f} MB more per schema read")


if __name__ == "__main__":
    main()
