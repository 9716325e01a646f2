"""Publishing SQL alerts against the emulated workspace: API calls per publish.

20 processes in 3 monitoring groups (with the drift view, so 3 drift alerts and 3
destinations), 23 alerts in all. Prints, for each scenario, the wall time and the API
calls received (all and mutating, then by method and path): the first publish into a
folder that does not exist yet, a re-publish with nothing changed, one process's owner
changed, one group's addresses changed, and the schedule changed for every alert. The
emulator's list pages hold two items unless a page size is asked for (alerts are asked
100 per page; destinations are listed with the service's default page size).

Run: python benchmarks/bench_alerts.py
"""

from __future__ import annotations

import collections
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etl_monitor import alerts
from tests.emulator import DatabricksEmulator
from tests.emulator.alerts import DEFAULT_WAREHOUSE_ID

GROUPS = ("finance", "hr", "sales")
_ID = re.compile(r"/[0-9a-f]{16}$|/[0-9a-f-]{36}$")


def targets(owner_of_first: str = "owner0@example.com", hr: tuple[str, ...] = ()) -> alerts.Targets:
    processes = tuple(
        alerts.ProcessTarget(
            "BENCH",
            f"PROC_{n:02d}",
            owner_of_first if n == 0 else f"owner{n}@example.com",
            GROUPS[n % 3],
            f"https://runbooks.example.com/proc_{n:02d}",
            f"https://lineage.example.com/proc_{n:02d}",
        )
        for n in range(20)
    )
    groups = tuple(
        alerts.GroupTarget(g, hr if g == "hr" and hr else (f"{g}@example.com",), f"{g}-lead")
        for g in GROUPS
    )
    return alerts.Targets("main", "etl", processes, groups, drift_view=True)


def measure(
    emulator: DatabricksEmulator, label: str, action: Callable[[], alerts.AlertsReport]
) -> None:
    emulator.reset_log()
    started = time.perf_counter()
    report = action()
    elapsed = time.perf_counter() - started
    requests = [r for r in emulator.requests if not r.path.startswith("/.well-known/")]
    mutating = sum(1 for r in requests if r.method in ("POST", "PATCH", "PUT", "DELETE"))
    print(f"\n{label}: {len(requests)} API calls, {mutating} mutating, {elapsed:.2f}s")
    print(f"  {report}")
    by_kind = collections.Counter(f"{r.method} {_ID.sub('/{id}', r.path)}" for r in requests)
    for kind, n in sorted(by_kind.items()):
        print(f"    {n:3d}  {kind}")


def main() -> None:
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        wh = DEFAULT_WAREHOUSE_ID
        measure(emulator, "first publish", lambda: alerts.publish(w, targets(), wh))
        measure(emulator, "re-publish, nothing changed", lambda: alerts.publish(w, targets(), wh))
        measure(
            emulator,
            "one owner changed",
            lambda: alerts.publish(w, targets(owner_of_first="new.owner@example.com"), wh),
        )
        measure(
            emulator,
            "one group's addresses changed",
            lambda: alerts.publish(
                w,
                targets(
                    owner_of_first="new.owner@example.com", hr=("hr@example.com", "x@example.com")
                ),
                wh,
            ),
        )
        measure(
            emulator,
            "schedule changed for all",
            lambda: alerts.publish(
                w,
                targets(
                    owner_of_first="new.owner@example.com", hr=("hr@example.com", "x@example.com")
                ),
                wh,
                schedule="0 0 * * * ?",
            ),
        )
        assert emulator.errors == [], emulator.errors


if __name__ == "__main__":
    main()
