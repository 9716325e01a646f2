"""Small helpers shared by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def last_commit(warehouse: str, monitor: ETLMonitorFramework, table: str) -> list[dict]:
    """The actions of a table's latest Delta commit."""
    log = Path(warehouse) / monitor.catalog / monitor.schema / table / "_delta_log"
    latest = max(log.glob("*.json"))
    return [json.loads(line) for line in latest.read_text().splitlines() if line.strip()]


def register_hr(monitor: ETLMonitorFramework, tasks: int = 3, frequency: str = "D") -> None:
    """CORP/HR_DAILY: an initiation task, `tasks` loads in stage 2 (task 1 mandatory) and a stage-3 task 9.

    Each load task N has a DELTA_DATE watermark WN named by its SourceSystemCode.
    """
    monitor.register_process("CORP", "HR_DAILY", name="HR Daily Load", owner="HR Team")
    monitor.register_task(
        "CORP", "HR_DAILY", task_id=0, workflow_id=0, sequence_id=0, task_name="Initiation"
    )
    for n in range(1, tasks + 1):
        monitor.register_task(
            "CORP",
            "HR_DAILY",
            task_id=n,
            workflow_id=1,
            sequence_id=2,
            task_name=f"Load {n}",
            source_system_code=f"W{n}",
            task_mandatory=n == 1,
            load_frequency=frequency,
            file_mask="load" + str(n) + "_{yyyyMMdd}",
            file_extension="csv",
            sla_minutes=60,
        )
        monitor.register_parameter("CORP", "HR_DAILY", f"W{n}", "DELTA_DATE")
    monitor.register_task(
        "CORP",
        "HR_DAILY",
        task_id=9,
        workflow_id=1,
        sequence_id=3,
        task_name="Dimensions",
        load_frequency=frequency,
    )
    monitor.register_parameter("CORP", "HR_DAILY", "SYSDT", "SYSTEM")


def rows(monitor: ETLMonitorFramework, view: str, **filters) -> list[dict]:
    """All rows of a view or table matching equality filters, as dicts."""
    df = monitor.spark.table(monitor.table_name(view))
    out = [r.asDict() for r in df.collect()]
    return [r for r in out if all(r[k] == v for k, v in filters.items())]


def statuses(monitor: ETLMonitorFramework, execution_id: str) -> dict[tuple[int, int], str]:
    return {
        (r["TaskID"], r["WorkFlowID"]): r["StatusCode"]
        for r in rows(monitor, "ETLProcessingSteps", ExecutionID=execution_id)
    }


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    """`etl-monitor ARGS` in a fresh process, as a user runs it (no inherited engine settings)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_", "ETL_MONITOR_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "etl_monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
