"""Delta Lake behaviour the library relies on, exercised for real on each engine.

Where an engine lacks a feature the test skips with the difference named in
`etl_monitor.engine.capabilities.CAPABILITIES`.
"""

from __future__ import annotations

import threading
import time

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.runs.events import append_receipt
from etl_monitor.schema.tables import EVENTS, PROCESS, SYSLOGS
from tests.helpers import commit_count, other_session, register_hr


def test_provoked_commit_conflict_is_retried_then_succeeds(monitor: ETLMonitorFramework, spark):
    """A writer outside the executor rewrites a row while MERGEs upsert it: conflicts are retried.

    The writer has a session of its own where the server shares its catalog between
    sessions (JVM Spark serialises one session's statements, so a writer in the same session
    never overlaps a MERGE); Sail keeps a catalog per session, so there it shares the session.
    """
    monitor.register_process("CORP", "CHURN", name="rewritten over and over")
    table = monitor.table_name(PROCESS.name)
    stop = threading.Event()
    raw_failures: list[str] = []

    writer = other_session(spark) or spark

    def churn() -> None:  # UPDATEs that bypass the executor, so nothing serialises them
        # Until the first conflict is retried: the MERGE must then win on a later attempt.
        # (Sail, under writes that never pause, can fail a conflicting commit's re-read of
        # the log with "Missing commit file" whenever a checkpoint lands past the
        # transaction's read version, so an unpaused churner can exhaust every retry.)
        while not stop.is_set() and monitor.executor.stats["retries"] == 0:
            began = time.perf_counter()
            try:
                writer.sql(
                    f"UPDATE {table} SET ProcessDescription = uuid() WHERE ProcessLoad = 'CHURN'"
                )
            except Exception as error:  # the churner loses conflicts too; it just goes on
                raw_failures.append(type(error).__name__)
            # busy half the time at most, so the executor's retries can win
            stop.wait(max(0.05, time.perf_counter() - began))

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    names = []
    try:  # re-register the churned row: the MERGE reads the very file the UPDATEs rewrite
        for n in range(60):
            names.append(f"version {n}")
            monitor.register_process("CORP", "CHURN", name=names[-1])
            if monitor.executor.stats["retries"] >= 1 and n >= 3:
                break
    finally:
        stop.set()
        thread.join(timeout=60)
    assert monitor.executor.stats["retries"] >= 1, "no conflict was provoked"
    (row,) = spark.table(table).collect()
    assert (row.ProcessLoad, row.ProcessName) == ("CHURN", names[-1])  # the last write won


def test_append_only_receipts_refuse_update(monitor: ETLMonitorFramework, spark):
    # The event log is no longer append-only (maintain() archives old events); receipts are.
    append_receipt(monitor._ctx, {"ProjectCode": "CORP", "LogMessage": "kept"})
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
    # The RUNNING claim: an insert-only MERGE that adds one row and rewrites no file...
    claim, done = new
    assert claim["operation"] == "MERGE"
    assert claim["operationMetrics"]["numTargetRowsInserted"] == "1"
    assert claim["operationMetrics"]["numTargetFilesRemoved"] == "0"
    # ...then DONE with its watermark: a blind append.
    assert (done["operation"], done["operationParameters"]["mode"]) == ("WRITE", "Append")
    assert commit_count(warehouse, monitor, EVENTS.name) == files_before + 2


@pytest.mark.requires("optimize")
def test_optimize_compacts_the_event_log_without_losing_a_row(monitor: ETLMonitorFramework, spark):
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, "CORP", "HR_DAILY", "2026-04-09")
    for task_id in (1, 2, 3):
        with monitor.task(e, "CORP", "HR_DAILY", task_id=task_id, workflow_id=1):
            pass
    events = monitor.table_name(EVENTS.name)
    rows_before = sorted(tuple(r) for r in spark.table(events).collect())
    files_before = spark.sql(f"DESCRIBE DETAIL {events}").collect()[0]["numFiles"]
    spark.sql(f"OPTIMIZE {events}").collect()
    files_after = spark.sql(f"DESCRIBE DETAIL {events}").collect()[0]["numFiles"]
    assert files_after < files_before
    assert sorted(tuple(r) for r in spark.table(events).collect()) == rows_before
