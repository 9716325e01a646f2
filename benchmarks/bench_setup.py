"""setup() on a fresh schema and on a re-run: wall time, statements and Delta commits, per engine.

Each engine runs in its own process (Sail, and Delta on classic JVM Spark); the figures
print side by side.

Run: python benchmarks/bench_setup.py [--runs N] [--engines sail,delta]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from side_by_side import DEFAULT_ENGINES, run


def commits(root: str) -> int:
    return len(list(Path(root).glob("**/_delta_log/*.json")))


def measure(spark: Any, catalog: str, root: str, args: dict[str, Any]) -> dict[str, str]:
    from etl_monitor import ETLMonitorFramework

    ETLMonitorFramework(spark, catalog, "warmup").setup()  # first-query costs out of the way
    fresh, rerun = [], []
    for _ in range(args["runs"]):
        monitor = ETLMonitorFramework(spark, catalog, f"b_{uuid.uuid4().hex[:8]}")
        before = commits(root)
        t = time.perf_counter()
        first = monitor.setup()
        fresh.append((time.perf_counter() - t, first.statements, commits(root) - before))
        before = commits(root)
        t = time.perf_counter()
        again = monitor.setup()
        rerun.append((time.perf_counter() - t, again.statements, commits(root) - before))
    out = {}
    for label, data in (("fresh", fresh), ("re-run", rerun)):
        times = [d[0] * 1000 for d in data]
        out[f"setup() {label}: median ms"] = f"{statistics.median(times):.0f}"
        out[f"setup() {label}: min-max ms"] = f"{min(times):.0f}-{max(times):.0f}"
        out[f"setup() {label}: statements"] = str(data[0][1])
        out[f"setup() {label}: Delta commits"] = str(data[0][2])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default=",".join(DEFAULT_ENGINES))
    options = parser.parse_args()
    print(f"setup(), {options.runs} runs per engine")
    run("bench_setup", {"runs": options.runs}, tuple(options.engines.split(",")))


if __name__ == "__main__":
    main()
