"""Delta Lake behaviour the library relies on, exercised for real on each engine.

Where an engine lacks a feature the test skips with the difference named in
`etl_monitor.engine.capabilities.CAPABILITIES`.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.tracking import maintenance
from etl_monitor.tracking.events import append_events, append_receipt, step_event
from etl_monitor.tracking.tables import EVENTS, PROCESS, SYSLOGS
from tests.helpers import Child, commit_count, register_hr, start_together

#: The rounds of the provoked conflict: in each, the churner's UPDATE starts first and the
#: parent's MERGE after a delay of its own (a spread, as the engines' speeds differ).
ROUNDS, DELAYS = 24, (0.0, 0.15, 0.3, 0.05, 0.5, 0.1)

CHURN = """
import time
from pathlib import Path
ready()
folder, updates, failures, error = Path(ARGS["folder"]), 0, 0, None

def mark(name, value):  # a rename: the other side never reads half a number
    (folder / (name + ".new")).write_text(str(value))
    (folder / (name + ".new")).replace(folder / name)

seen = ""
while not (folder / "stop").exists():
    go = (folder / "go").read_text() if (folder / "go").exists() else ""
    if go == seen:
        time.sleep(0.01)
        continue
    seen = go
    mark("started", go)
    try:  # a plain UPDATE, outside any executor: nothing retries it
        # (a deterministic value: Delta refuses uuid() in an UPDATE)
        spark.sql(f"UPDATE {ARGS['table']} SET ProcessDescription = 'churn {go}' WHERE ProcessLoad = 'CHURN'")
        updates += 1
    except Exception as e:  # the parent's MERGE committed first: this round provokes nothing
        failures, error = failures + 1, " ".join(str(e).split())[:300]
    mark("done", go)
result({"updates": updates, "failures": failures, "error": error})
"""


def _wait_for(path, value: str, child: Child, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text() == value):
        assert child.proc.poll() is None, f"the churner exited: {child.stderr_tail()}"
        assert time.monotonic() < deadline, f"the churner did not reach {path.name} {value}"
        time.sleep(0.01)


def test_provoked_commit_conflict_is_retried_then_succeeds(
    monitor: ETLMonitorFramework, spark, warehouse, child_engine, tmp_path
):
    """Another process rewrites a row while a MERGE upserts it: the conflict is retried.

    The churner is a process of its own with a session of its own (on Delta a second
    client of the same server), so the two transactions meet only in the table's log, as
    two notebooks or two clusters writing one table do. Rounds, not a free-for-all: in
    each, one UPDATE starts, then one MERGE; so a MERGE call can lose at most one attempt
    per round, and neither side can starve the other however slow the machine is.
    """
    monitor.register_process("CORP", "CHURN", name="rewritten over and over")
    table = monitor.table_name(PROCESS.name)
    churner = Child(
        CHURN,
        warehouse,
        child_engine,
        catalog=monitor.catalog,
        schema=monitor.schema,
        table=table,
        folder=str(tmp_path),
    )
    start_together([churner])
    names = []
    try:
        for n in range(ROUNDS):
            (tmp_path / "go.new").write_text(str(n))
            (tmp_path / "go.new").replace(tmp_path / "go")
            _wait_for(tmp_path / "started", str(n), churner)
            time.sleep(DELAYS[n % len(DELAYS)])
            names.append(f"version {n}")
            monitor.register_process("CORP", "CHURN", name=names[-1])
            _wait_for(tmp_path / "done", str(n), churner)
            if monitor.executor.stats["retries"] >= 1:
                break
    finally:
        (tmp_path / "stop").touch()
    churned = churner.result()
    assert churned["updates"] >= 1, churned
    assert monitor.executor.stats["retries"] >= 1, f"no conflict in {len(names)} rounds: {churned}"
    (row,) = spark.table(table).collect()
    assert (row.ProcessLoad, row.ProcessName) == ("CHURN", names[-1])  # the last write won


def test_append_only_receipts_refuse_update(monitor: ETLMonitorFramework, spark):
    # The event log is no longer append-only (maintain() archives old events); receipts are.
    append_receipt(monitor.context, {"ProjectCode": "CORP", "LogMessage": "kept"})
    receipts = monitor.table_name(SYSLOGS.name)
    with pytest.raises(Exception, match=r"(?i)append"):
        spark.sql(f"UPDATE {receipts} SET CreatedBy = 'tamper'").collect()
    with pytest.raises(Exception, match=r"(?i)append"):
        spark.sql(f"DELETE FROM {receipts}").collect()
    assert [r.LogMessage for r in spark.table(receipts).collect()] == ["kept"]


@pytest.mark.requires("liquid_clustering")
def test_event_log_is_liquid_clustered(monitor: ETLMonitorFramework, spark):
    detail = spark.sql(f"DESCRIBE DETAIL {monitor.table_name(EVENTS.name)}").collect()[0]
    assert list(detail["clusteringColumns"]) == list(EVENTS.cluster_by)
    logs = spark.sql(f"DESCRIBE DETAIL {monitor.table_name(SYSLOGS.name)}").collect()[0]
    assert list(logs["clusteringColumns"]) == list(SYSLOGS.cluster_by)


@pytest.mark.requires("table_history")
def test_a_task_is_a_claim_and_an_append_in_the_table_history(
    monitor: ETLMonitorFramework, spark, warehouse
):
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, "CORP", "HR_DAILY", "2026-04-09")
    events = monitor.table_name(EVENTS.name)

    def history() -> list:
        return spark.sql(f"DESCRIBE HISTORY {events}").orderBy("version").collect()

    before, files_before = history(), commit_count(warehouse, monitor, EVENTS.name)
    with monitor.task(e, "CORP", "HR_DAILY", task_id=1, workflow_id=1):
        pass
    after = history()
    new = after[len(before) :]
    assert [c["version"] for c in new] == [before[-1]["version"] + 1, before[-1]["version"] + 2]
    claim, done = new
    if monitor.engine.idempotent_append:
        # The RUNNING claim: a blind append of one row (Delta lands it once by its id)...
        assert (claim["operation"], claim["operationParameters"]["mode"]) == ("WRITE", "Append")
        assert claim["isBlindAppend"] is True
        assert claim["operationMetrics"]["numOutputRows"] == "1"
    else:
        # The RUNNING claim: an insert-only MERGE that adds one row and rewrites no file...
        assert claim["operation"] == "MERGE"
        assert claim["operationMetrics"]["numTargetRowsInserted"] == "1"
        assert claim["operationMetrics"]["numTargetFilesRemoved"] == "0"
    # ...then DONE with its watermark: a blind append.
    assert (done["operation"], done["operationParameters"]["mode"]) == ("WRITE", "Append")
    assert commit_count(warehouse, monitor, EVENTS.name) == files_before + 2


def test_the_event_log_is_compacted_as_tasks_write(
    monitor: ETLMonitorFramework, spark, monkeypatch
):
    """Small appends do not pile up between maintenance runs where the engine does not
    compact after writes (Sail): the library's writers compact once per hundred commits
    (here: ten). No row is lost or doubled."""
    if monitor.engine.auto_compaction:
        pytest.skip("Delta: maintain() compacts; auto compaction is not turned on")
    ctx, events = monitor.context, monitor.table_name(EVENTS.name)
    monkeypatch.setattr(maintenance, "COMPACT_EVERY", 10)
    for n in range(12):
        state = {
            "ExecutionID": f"e{n % 2}",
            "ProjectCode": "CORP",
            "ProcessLoad": "SMALL",
            "TaskID": n,
            "WorkFlowID": 1,
            "ProcessingDate": date(2026, 4, 1 + n % 2),
        }
        append_events(ctx, [step_event(state, "DONE", user="t", reason=f"write {n}")])
    assert maintenance.file_count(ctx, EVENTS) <= 7  # 12 one-row commits
    reasons = [r["Reason"] for r in spark.table(events).collect()]
    assert sorted(reasons) == sorted(f"write {n}" for n in range(12))


@pytest.mark.requires("optimize")
def test_optimize_compacts_the_event_log_without_losing_a_row(monitor: ETLMonitorFramework, spark):
    """OPTIMIZE, the way maintain() compacts on Delta, keeps every row."""
    events = monitor.table_name(EVENTS.name)
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, "CORP", "HR_DAILY", "2026-04-09")
    for task_id in (1, 2, 3):
        with monitor.task(e, "CORP", "HR_DAILY", task_id=task_id, workflow_id=1):
            pass
    rows_before = sorted(tuple(r) for r in spark.table(events).collect())
    files_before = spark.sql(f"DESCRIBE DETAIL {events}").collect()[0]["numFiles"]
    history = [r["operation"] for r in spark.sql(f"DESCRIBE HISTORY {events}").collect()]
    assert files_before >= 3, f"{files_before} file(s) after the commits {history[::-1]}"
    spark.sql(f"OPTIMIZE {events}").collect()
    files_after = spark.sql(f"DESCRIBE DETAIL {events}").collect()[0]["numFiles"]
    assert files_after < files_before
    assert sorted(tuple(r) for r in spark.table(events).collect()) == rows_before
