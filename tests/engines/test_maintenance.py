"""maintain(): files bounded, old step events archived, nothing lost or doubled, safe under load."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.errors import InvalidArgumentError
from tests.helpers import rows, run_cli
from tests.history import build, register_process

P, L = "CORP", "LOAD"
#: Tasks per execution: four writers beside the maintainer (nine starved a loaded 2-core CI).
TASKS = range(1, 5)


def _register(monitor: ETLMonitorFramework) -> None:
    monitor.register_process(P, L, name="Under load")
    for n in TASKS:
        monitor.register_task(
            P, L, task_id=n, workflow_id=1, sequence_id=2, source_system_code=f"W{n}"
        )
        monitor.register_parameter(P, L, f"W{n}", "DELTA_DATE")


def _event_ids(monitor: ETLMonitorFramework) -> list[str]:
    return [
        r["EventID"]
        for table in ("ETLProcessingEvents", "ETLProcessingEventsArchive")
        for r in rows(monitor, table)
    ]


@pytest.mark.core
def test_maintenance_under_load_loses_and_doubles_nothing(monitor: ETLMonitorFramework):
    _register(monitor)
    register_process(monitor, P, "OLD", tasks=2)
    build(monitor, P, "OLD", tasks=2, days=3, first_day=date(2025, 1, 1))  # to be archived
    old_summary = rows(monitor, "v_runSummary", ProcessLoad="OLD")
    # An old execution still queued is not archived: its tasks must still run.
    stuck = monitor.generate_execution_id()
    monitor.generate_execution_steps(stuck, P, L, "2025-02-01")
    today = utcnow().date()
    executions = [monitor.generate_execution_id() for _ in range(2)]
    for n, e in enumerate(executions):
        monitor.generate_execution_steps(e, P, L, today - timedelta(days=n))
    executions.append(stuck)
    before = len(_event_ids(monitor))
    done = threading.Event()
    passes: list = []

    def maintainer() -> None:  # passes while the tasks run (at most 3: a pass takes ~20 s on Delta)
        while (not done.is_set() or not passes) and len(passes) < 3:
            passes.append(monitor.maintain(archive_after_days=30))

    def task(job: tuple[str, int]) -> tuple[str, object]:
        e, n = job
        with monitor.task(e, P, L, task_id=n, workflow_id=1) as t:
            assert t.active, t.inactive_reason
            time.sleep(0.02)
        return t.status, t.bookkeeping_error

    with ThreadPoolExecutor(len(TASKS) + 1) as pool:
        maintenance = pool.submit(maintainer)
        jobs = [(e, n) for e in executions for n in TASKS]
        try:
            outcomes = list(pool.map(task, jobs))
        finally:
            done.set()
        maintenance.result()  # re-raises a maintenance error
    assert outcomes == [("DONE", None)] * len(jobs)
    # The old runs (3 days x 2 tasks x 3 step events), and the stuck execution's (3 per task) only
    # if a pass began after its tasks had finished.
    assert passes and sum(p.archived_events for p in passes) in (18, 18 + 3 * len(TASKS))
    ids = _event_ids(monitor)
    assert len(ids) == len(set(ids)), "an event was doubled"
    assert len(ids) == before + len(jobs) * 3  # RUNNING, DONE, watermark per task: none lost
    for e in executions:
        steps = rows(monitor, "ETLProcessingSteps", ExecutionID=e)
        assert sorted((r["TaskID"], r["Status"]) for r in steps) == [(n, "DONE") for n in TASKS]
    assert rows(monitor, "v_runSummary", ProcessLoad="OLD") == old_summary


def test_maintain_bounds_the_files_of_the_event_log(monitor: ETLMonitorFramework, engine_name):
    days = 6 if engine_name == "sail" else 3
    register_process(monitor, P, "MANY", tasks=4)
    commits = build(monitor, P, "MANY", tasks=4, days=days, first_day=date(2026, 3, 1))
    report = monitor.maintain()
    before, after = (r["ETLProcessingEvents"] for r in (report.files_before, report.files_after))
    assert before >= commits  # one file or more per commit until maintain() or the 100th
    assert after <= days + 1  # at most one file per processing date, plus the watermarks'
    again = monitor.maintain()
    assert again.files_after["ETLProcessingEvents"] == after  # nothing left to compact
    assert again.archived_events == 0


@pytest.mark.parametrize("days", [0, -3, 2.5, "30", True])
def test_bad_archive_days_are_refused_before_anything_happens(monitor: ETLMonitorFramework, days):
    statements = monitor.executor.stats["statements"]
    with pytest.raises(InvalidArgumentError, match=f"archive_after_days={days!r}.*positive"):
        monitor.maintain(archive_after_days=days)
    assert monitor.executor.stats["statements"] == statements


def test_cli_maintain(tmp_path):
    assert run_cli("setup", cwd=tmp_path).returncode == 0
    result = run_cli("maintain", "--archive-after-days", "400", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["method"], report["archived_events"]) == ("deltalake compact", 0)
    assert report["archive_cutoff"] == str(utcnow().date() - timedelta(days=400))
    refused = run_cli("maintain", "--archive-after-days", "0", cwd=tmp_path)
    assert refused.returncode == 1 and "--archive-after-days" in refused.stdout
