"""Provisioning 200 monitors against the emulated workspace, and querying the all-groups drift view.

Prints wall time and API calls (all and mutating, by HTTP method and endpoint) for a first
run and a re-run against the emulator (monitors start PENDING, updates use leaf-level masks),
and the median time to read the all-groups drift view over 50 monitored tables on the
embedded engine.

Run: python benchmarks/bench_monitoring.py [--tables 200] [--view-tables 50]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etl_monitor import ETLMonitorFramework
from etl_monitor.local import spark_session
from etl_monitor.monitoring import MonitoringFramework, MonitoringPolicy
from tests.emulator import DatabricksEmulator
from tests.emulator.common import MUTATING_METHODS
from tests.helpers import create_metric_tables

COLUMNS = ["id", "ts", "region", "amount"]
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|t\d{3}")


def calls_by_endpoint(emulator: DatabricksEmulator) -> dict[str, int]:
    """Requests received, by ``METHOD path`` with table names and ids folded to ``{id}``."""
    counts: dict[str, int] = {}
    for r in emulator.requests:
        key = f"{r.method} {_IDS.sub('{id}', r.path)}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _table(n: int, **settings: str) -> dict:
    """The settings of benchmark table number `n` (a time series profile, five groups)."""
    return {
        "table_name": f"main.bench_src.t{n:03d}",
        "profile_type": "TIMESERIES",
        "timestamp_column": "ts",
        "granularities": ["1 day"],
        "slicing_exprs": ["region"],
        "monitor_group": f"team{n % 5}",
        **settings,
    }


def provisioning(spark, emulator: DatabricksEmulator, tables: int) -> None:
    emulator.add_schema("main.bench_src")
    for n in range(tables):
        emulator.add_table(f"main.bench_src.t{n:03d}", COLUMNS)
    policy = MonitoringPolicy(max_monitors=10_000)
    mon = ETLMonitorFramework(spark, "main", "bench_mon").monitoring(
        emulator.client(), policy=policy
    )
    mon.setup()
    mon.register_tables([_table(n) for n in range(tables)])
    for label in ("first run", "re-run", "update run"):
        if label == "update run":  # a tenth of the tables get a schedule: leaf-level PATCHes
            mon.register_tables(
                [_table(n, schedule_cron="0 0 6 * * ?") for n in range(0, tables, 10)]
            )
        fresh = MonitoringFramework(spark, "main", "bench_mon", emulator.client(), policy=policy)
        emulator.reset_log()
        started = time.perf_counter()
        report = fresh.apply(unified_views=False)
        elapsed = time.perf_counter() - started
        print(
            f"apply {tables} tables, {label}: {elapsed:.2f} s, {emulator.count()} API calls "
            f"({emulator.mutating_count()} mutating); created {report.monitors_created}, "
            f"updated {report.monitors_updated}, "
            f"unchanged {sum(o.action == 'unchanged' for o in report.outcomes)}, failed {report.monitors_failed}"
        )
        for endpoint, n in calls_by_endpoint(emulator).items():
            kind = "mutating" if endpoint.split()[0] in MUTATING_METHODS else "read"
            print(f"    {n:5d}  {endpoint}  ({kind})")


def drift_view(spark, emulator: DatabricksEmulator, tables: int) -> None:
    emulator.add_schema("main.view_src")
    mon = ETLMonitorFramework(spark, "main", "view_mon").monitoring(emulator.client())
    mon.setup()
    mon.register_tables(
        [
            {"table_name": f"main.view_src.v{n:03d}", "monitor_group": f"team{n % 5}"}
            for n in range(tables)
        ]
    )
    for n in range(tables):
        create_metric_tables(spark, "main.view_src", f"v{n:03d}", js_distance=n / tables, rows=3)
    started = time.perf_counter()
    mon.create_unified_views()
    print(f"create_unified_views over {tables} tables: {time.perf_counter() - started:.2f} s")
    times, count = [], 0
    for _ in range(5):
        started = time.perf_counter()
        count = len(spark.table("main.view_mon.v_monitor_drift_all").collect())
        times.append(time.perf_counter() - started)
    print(
        f"SELECT * FROM v_monitor_drift_all ({tables} tables, {count} rows): median "
        f"{statistics.median(times) * 1000:.0f} ms over 5 runs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--view-tables", type=int, default=50)
    args = parser.parse_args()
    spark = spark_session(tempfile.mkdtemp(prefix="etlm-bench-"))
    with DatabricksEmulator() as emulator:
        provisioning(spark, emulator, args.tables)
        drift_view(spark, emulator, args.view_tables)


if __name__ == "__main__":
    main()
