"""After a long history (thousands of small commits), the hot paths and views give the same rows.

The history is built once per engine through the library's own appends (`tests.history`),
beside a reference process whose rows are captured on the fresh schema first.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.timestamps import utcnow
from tests.helpers import live_dates, pending, register_hr, rows
from tests.history import (
    CHECKPOINT_EVERY,
    LOG_RETENTION,
    build,
    register_process,
)

P, L, H = "CORP", "HR_DAILY", "HISTORY"
DAY = "2026-04-09"
FIRST = date(2025, 1, 1)
#: Daily runs of 4 tasks (9 commits each): 1,080 commits on Sail, 144 on Delta (its commits are slower).
DAYS = {"sail": 120, "delta": 16}
REFERENCE_VIEWS = (
    "ETLProcessingSteps",
    "v_taskDetail",
    "v_runSummary",
    "v_processStatus",
    "v_currentFailures",
    "v_mandatoryBlockers",
    "v_pendingTasks",
    "v_watermarks",
)


def _reference_rows(monitor: ETLMonitorFramework) -> dict[str, list[dict]]:
    """The reference process's rows; a LIVE DATE watermark's value (today, UTC) stands as a token.

    The rows are compared with rows read later, perhaps after midnight UTC.
    """
    asked = datetime.now(UTC)
    found = {view: rows(monitor, view, ProjectCode=P, ProcessLoad=L) for view in REFERENCE_VIEWS}
    for mark in found["v_watermarks"]:
        if mark["WatermarkState"] == "LIVE DATE":
            assert mark["ActiveValue"] in live_dates(asked)
            mark["ActiveValue"] = "today"
    return found


def _hot_paths(monitor: ETLMonitorFramework, executions: list[str]) -> list:
    out = []
    for e in executions:
        out.append(pending(monitor, e, P, L))
        out.append(
            [
                monitor.task_status(e, P, L, task_id=t, workflow_id=w)
                for t, w in ((0, 0), (1, 1), (2, 1), (9, 1))
            ]
        )
    return out


#: engine -> the history built on it: once per process, whatever order a worker runs the tests in.
_BUILT: dict[str, tuple] = {}


@pytest.fixture
def history(spark, catalog, engine_name):
    if engine_name not in _BUILT:
        _BUILT[engine_name] = _build_history(spark, catalog, engine_name)
    return _BUILT[engine_name]


def _build_history(spark, catalog, engine_name):
    monitor = ETLMonitorFramework(spark, catalog, f"h_{uuid.uuid4().hex[:10]}")
    monitor.setup()
    register_hr(monitor)
    # The reference: a failed run, its retry, and a run left half-way, through the API.
    e1, e2, e3 = (monitor.generate_execution_id() for _ in range(3))
    for t in pending(monitor, e1, P, L, DAY):
        try:
            with monitor.task(e1, P, L, task_id=t["TaskID"], workflow_id=t["WorkFlowID"]):
                if t["TaskID"] == 1:
                    raise ValueError("bad file 'x'")
        except ValueError:
            pass
    monitor.status_reset(P, L, execution_id=e1)
    for t in pending(monitor, e1, P, L):
        with monitor.task(e1, P, L, task_id=t["TaskID"], workflow_id=t["WorkFlowID"]):
            pass
    monitor.generate_execution_steps(e2, P, L, "2026-04-10")
    with monitor.task(e2, P, L, task_id=2, workflow_id=1):
        pass
    monitor.generate_execution_steps(e3, P, L, "2026-04-10")
    executions = [e1, e2, e3]
    reference = (_reference_rows(monitor), _hot_paths(monitor, executions))
    register_process(monitor, P, H, tasks=4)
    commits = build(monitor, P, H, tasks=4, days=DAYS[engine_name], first_day=FIRST)
    return monitor, reference, executions, commits


def test_history_is_thousands_of_small_commits(history, engine_name):
    _, _, _, commits = history
    assert commits == DAYS[engine_name] * 9


def test_views_and_hot_paths_give_the_same_rows_after_history(history):
    monitor, (views, hot), executions, _ = history
    assert _reference_rows(monitor) == views
    assert _hot_paths(monitor, executions) == hot


def test_a_process_with_history_runs_and_advances_normally(history, engine_name):
    monitor, _, _, _ = history
    last = FIRST + timedelta(days=DAYS[engine_name] - 1)
    before = {
        r["ParameterName"]: r["ValueDateTime"] for r in rows(monitor, "v_watermarks", ProcessLoad=H)
    }
    assert before["H1"].date() == last  # the last history run advanced it
    done_day = monitor.generate_execution_id()
    assert monitor.generate_execution_steps(done_day, P, H, last) == 0  # daily tasks already DONE
    e = monitor.generate_execution_id()
    pending = monitor.get_pending_tasks(e, P, H, last + timedelta(days=1)).collect()
    assert [(t["TaskID"], t["Status"], t["AttemptNo"]) for t in pending] == [
        (n, "NQUE", 1) for n in range(1, 5)
    ]
    assert pending[0]["WatermarkValue"] == before["H1"].strftime("%Y-%m-%dT%H:%M:%S.000")
    started = utcnow()
    with monitor.task(e, P, H, task_id=1, workflow_id=1) as t:
        assert t.active
    assert monitor.task_status(e, P, H, task_id=1, workflow_id=1) == "NULL"  # done: nothing to run
    assert monitor.get_active_watermark(P, H, "H1") >= started.replace(microsecond=0)


def test_maintenance_keeps_every_row(history, engine_name):
    monitor, (views, hot), executions, _ = history
    cutoff = FIRST + timedelta(days=DAYS[engine_name] // 2)
    early = FIRST + timedelta(days=3)
    summary = rows(monitor, "v_runSummary", ProcessLoad=H, ProcessingDate=early)
    assert [(r["RunStatus"], r["Done"]) for r in summary] == [("DONE", 4)]
    report = monitor.maintain(archive_after_days=(utcnow().date() - cutoff).days)
    assert report.archived_events == (DAYS[engine_name] // 2) * 4 * 3
    assert report.files_after["ETLProcessingEvents"] < report.files_before["ETLProcessingEvents"]
    assert _reference_rows(monitor) == views
    assert _hot_paths(monitor, executions) == hot
    assert rows(monitor, "v_runSummary", ProcessLoad=H, ProcessingDate=early) == summary
    archived = rows(monitor, "ETLProcessingEventsArchive", ProcessLoad=H)
    assert {r["ProcessingDate"] for r in archived} == {
        FIRST + timedelta(days=d) for d in range(DAYS[engine_name] // 2)
    }
    assert not [
        r
        for r in rows(monitor, "ETLProcessingEvents", ProcessLoad=H, EventType="STEP")
        if r["ProcessingDate"] < cutoff
    ]
    assert monitor.maintain(archive_after_days=(utcnow().date() - cutoff).days).archived_events == 0


def test_the_fast_history_writer_leaves_what_real_runs_leave(spark, catalog, engine_name):
    """The benchmarks' writer (straight to the files of a local warehouse): the rows of real
    runs, read back through the views, compacted as the engine's writers compact, and a
    checkpoint that keeps only the files removed in the last 7 days."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    monitor = ETLMonitorFramework(spark, catalog, f"f_{uuid.uuid4().hex[:10]}")
    monitor.setup()
    register_process(monitor, P, H, tasks=2)
    days = DAYS[engine_name]
    commits = build(monitor, P, H, tasks=2, days=days, first_day=FIRST, writer="fast")
    assert commits == days * 5
    summary = rows(monitor, "v_runSummary", ProcessLoad=H)
    assert sorted((r["ProcessingDate"], r["RunStatus"], r["Done"]) for r in summary) == [
        (FIRST + timedelta(days=d), "DONE", 2) for d in range(days)
    ]
    (mark,) = rows(monitor, "v_watermarks", ProcessLoad=H, ParameterName="H2")
    assert mark["ValueDateTime"].date() == FIRST + timedelta(days=days - 1)
    ctx = monitor.context
    location = ctx.engine.table_location(ctx.catalog, ctx.schema, "ETLProcessingEvents")
    from etl_monitor.tracking.maintenance import file_count
    from etl_monitor.tracking.tables import EVENTS

    # compacted as it went by the library's writers every 100 commits; on Delta nothing
    # compacts between runs of maintain(): one file per commit, as real runs leave them
    if ctx.engine.auto_compaction:
        assert file_count(ctx, EVENTS) == commits
    else:
        assert file_count(ctx, EVENTS) < commits // 4
    # a checkpoint every 10 commits, and the log entries older than the retention deleted
    # up to the newest checkpoint that is that old, as the engines' checkpoints delete them
    log = Path(location, "_delta_log")
    versions = sorted(int(p.name.split(".")[0]) for p in log.glob("*.json"))
    checkpoints = sorted(int(p.name.split(".")[0]) for p in log.glob("*.checkpoint.parquet"))
    gaps = [b - a for a, b in zip(checkpoints, [*checkpoints[1:], versions[-1]], strict=True)]
    assert max(gaps) <= CHECKPOINT_EVERY + 1  # a compaction's commit may come between
    oldest = min(p.stat().st_mtime for p in log.glob("*.json"))
    if days > LOG_RETENTION.days + 3:  # ten commits are at most two days of runs
        assert oldest >= (datetime.now(UTC) - LOG_RETENTION - timedelta(days=3)).timestamp()
        assert versions[0] > 0
    else:
        assert versions == list(range(versions[-1] + 1))
    checkpoint = log / f"{checkpoints[-1]:020d}.checkpoint.parquet"
    actions = pq.read_table(checkpoint)
    removed = actions.filter(pc.invert(pc.is_null(actions.column("remove")))).column("remove")
    week_ago = (datetime.now(UTC) - timedelta(days=7, hours=1)).timestamp() * 1000
    assert all(r["deletionTimestamp"] >= week_ago for r in removed.to_pylist())
    if not ctx.engine.auto_compaction:  # the writer's own compactions, dated by their runs
        assert 0 < len(removed) < commits // 4  # a week's, not every one since the first
