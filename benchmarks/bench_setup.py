"""Wall time and statements of setup() on a fresh schema and on a re-run (embedded engine).

Run: python benchmarks/bench_setup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from etl_monitor import ETLMonitorFramework
from etl_monitor.local import spark_session


def commits(root: str) -> int:
    return len(list(Path(root).glob("**/_delta_log/*.json")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    root = tempfile.mkdtemp(prefix="etlm-bench-")
    spark = spark_session(root)
    ETLMonitorFramework(spark, "main", "warmup").setup()  # first-query costs out of the way

    fresh, rerun = [], []
    for _ in range(runs):
        monitor = ETLMonitorFramework(spark, "main", f"b_{uuid.uuid4().hex[:8]}")
        before = commits(root)
        t = time.perf_counter()
        first = monitor.setup()
        fresh.append((time.perf_counter() - t, first.statements, commits(root) - before))
        before = commits(root)
        t = time.perf_counter()
        again = monitor.setup()
        rerun.append((time.perf_counter() - t, again.statements, commits(root) - before))

    for label, data in (("fresh schema", fresh), ("re-run", rerun)):
        times = [d[0] * 1000 for d in data]
        print(
            f"setup() {label:>12}: median {statistics.median(times):7.1f} ms "
            f"(min {min(times):.1f}, max {max(times):.1f}) over {runs} runs; "
            f"{data[0][1]} statements, {data[0][2]} Delta commits"
        )


if __name__ == "__main__":
    main()
