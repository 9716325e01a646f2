"""Publishing the Lakeview dashboard against the emulated workspace: API calls per publish.

Prints, for each scenario, the wall time and the API calls received (all and mutating, then
by method and path, with the dashboard id shown as {id}): the first publish into a folder
that does not exist yet, a re-publish with nothing changed, a re-publish on another
warehouse, a re-publish once the drift-alerts view exists, and the listing fallback (the
path look-up made to miss once) for comparison. The workspace holds `--others` other
dashboards, one of them with the same name in another folder; the emulator's list pages
hold two dashboards unless a page size is asked for.

Run: python benchmarks/bench_dashboard.py [--others 50]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databricks.sdk.service.dashboards import Dashboard

from etl_monitor import ETLMonitorFramework
from etl_monitor.local import spark_session
from tests.emulator import DatabricksEmulator

FOLDER = "/Shared/bench/etl_monitor"


def measure(emulator: DatabricksEmulator, label: str, action: Callable[[], str]) -> str:
    """Run one publish and print its calls."""
    emulator.reset_log()
    started = time.perf_counter()
    dashboard_id = action()
    elapsed = time.perf_counter() - started
    calls = collections.Counter(
        (r.method, r.path.replace(dashboard_id, "{id}"))
        for r in emulator.requests
        if not r.path.startswith("/.well-known/")
    )
    total = sum(calls.values())
    print(
        f"{label}: {elapsed * 1000:.0f} ms, {total} API calls ({emulator.mutating_count()} mutating)"
    )
    for (method, path), n in sorted(calls.items()):
        print(f"    {n} x {method} {path}")
    return dashboard_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", type=int, default=50, help="other dashboards in the workspace")
    args = parser.parse_args()

    spark = spark_session(tempfile.mkdtemp(prefix="bench_dashboard_"))
    monitor = ETLMonitorFramework(spark, "main", "bench_dash")
    monitor.setup()
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        w.workspace.mkdirs("/Shared/elsewhere")
        for n in range(args.others):
            w.lakeview.create(
                Dashboard(
                    display_name="ETL Monitor" if n == 0 else f"Other {n}",
                    parent_path="/Shared/elsewhere",
                    serialized_dashboard='{"datasets": [], "pages": []}',
                )
            )
        print(f"{args.others} other dashboards in the workspace; folder {FOLDER} does not exist")

        def publish(warehouse: str) -> Callable[[], str]:
            return lambda: monitor.publish_dashboard(w, warehouse_id=warehouse, parent_path=FOLDER)

        measure(emulator, "first publish (folder missing)", publish("wh-1"))
        measure(emulator, "re-publish, nothing changed", publish("wh-1"))
        measure(emulator, "re-publish, another warehouse", publish("wh-2"))
        monitoring = monitor.monitoring(workspace_client=object())
        monitoring.setup()
        monitoring.create_unified_views()
        measure(emulator, "re-publish, drift-alerts view now exists", publish("wh-2"))
        measure(emulator, "re-publish, nothing changed", publish("wh-2"))
        emulator.fail("GET", "/workspace/get-status", 404, "RESOURCE_DOES_NOT_EXIST", times=1)
        measure(emulator, "re-publish, path look-up missed: listing fallback", publish("wh-3"))


if __name__ == "__main__":
    main()
