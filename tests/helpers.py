"""Small helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from etl_monitor import ETLMonitorFramework
from etl_monitor.schema import ALL_TABLES


def snapshot(monitor: ETLMonitorFramework) -> dict[str, list[tuple]]:
    """Every row of every framework table, sorted, for before/after comparisons."""
    out = {}
    for table in ALL_TABLES:
        rows = monitor.spark.table(monitor.table_name(table.name)).collect()
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def commit_count(warehouse: str, monitor: ETLMonitorFramework, table: str) -> int:
    """Delta commits of one table, counted from its _delta_log."""
    log = Path(warehouse) / monitor.catalog / monitor.schema / table / "_delta_log"
    return len(list(log.glob("*.json")))
