"""setup() on a schema databricks-etl-monitor 1.0 created: converted in place, nothing lost.

Delta only: the schema is built by the peer's own code (tests/peer_package.py, the session
fixture ``peer_schema``); each test converts its own shallow clone of it.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.errors import ETLMonitorError
from tests.peer_package import PEER_TABLES, clone_peer_schema

CONFIG = PEER_TABLES[:6]
STEP_KEY = ("ExecutionID", "ProcessingDate", "ProjectCode", "ProcessLoad", "TaskID", "WorkFlowID")
#: Step columns that keep the peer's values and names in our ETLProcessingSteps view.
SAME = (
    "SequenceID",
    "Attempts",
    "TaskName",
    "SequenceCode",
    "TaskMandatory",
    "SourceSystemCode",
    "FullFileName",
    "InFilePath",
    "OutFilePath",
    "StartTime",
    "EndTime",
    "LogMessage",
    "LogType",
    "LogCode",
    "SourceType",
    "SourceRunID",
    "ClusterID",
    "LastUpdatedOn",
    "LastUpdatedBy",
)


def _table(spark, catalog: str, schema: str, name: str) -> list[dict]:
    return [r.asDict() for r in spark.table(f"`{catalog}`.`{schema}`.`{name}`").collect()]


def _snapshot(spark, catalog: str, schema: str) -> dict[str, list[dict]]:
    return {name: _table(spark, catalog, schema, name) for name in PEER_TABLES}


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


@pytest.fixture(scope="module")
def converted(peer_schema, spark, catalog):
    """A clone of the peer schema, its rows before, and the framework after one setup()."""
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    clone_peer_schema(spark, catalog, peer_schema["schema"], schema)
    before = _snapshot(spark, catalog, schema)
    monitor = ETLMonitorFramework(spark, catalog, schema)
    report = monitor.setup()
    return monitor, before, report


def test_setup_reports_the_conversion(converted, peer_schema):
    _, before, report = converted
    migration = report.migration
    assert migration is not None and migration.completed
    assert migration.renamed == {
        "ETLProcessingSteps": "ETLProcessingSteps_peer_v1",
        "ETLsysLogs": "ETLsysLogs_peer_v1",
    }
    assert (migration.step_events, migration.receipts) == (
        len(before["ETLProcessingSteps"]),
        len(before["ETLsysLogs"]),
    )
    assert len(before["ETLProcessingSteps"]) == peer_schema["row_counts"]["ETLProcessingSteps"]
    assert "converted from databricks-etl-monitor 1.0" in str(report)


def test_config_rows_keep_every_value(converted, spark, catalog):
    monitor, before, _ = converted
    for name in CONFIG:
        after = _table(spark, catalog, monitor.schema, name)
        kept = [{c: r[c] for c in before[name][0]} for r in after]
        assert _sorted(kept) == _sorted(before[name]), name
    # the flags the peer lacked are filled for its rows
    parameters = _table(spark, catalog, monitor.schema, "ETLconfigParameters")
    assert {r["IsActive"] for r in parameters} == {True}
    stages = _table(spark, catalog, monitor.schema, "ETLconfigSequence")
    assert {r["SequenceID"] for r in stages if r["IsFrameworkManaged"]} == set(range(7))


def test_the_peers_tables_are_kept_renamed(converted, spark, catalog):
    monitor, before, _ = converted
    for name, kept in (
        ("ETLProcessingSteps", "ETLProcessingSteps_peer_v1"),
        ("ETLsysLogs", "ETLsysLogs_peer_v1"),
    ):
        assert _sorted(_table(spark, catalog, monitor.schema, kept)) == _sorted(before[name])


def test_every_step_row_becomes_a_step_with_its_values(converted, spark, catalog):
    monitor, before, _ = converted
    ours = {
        tuple(r[k] for k in STEP_KEY): r
        for r in _table(spark, catalog, monitor.schema, "ETLProcessingSteps")
    }
    assert len(ours) == len(before["ETLProcessingSteps"])
    for peer_row in before["ETLProcessingSteps"]:
        row = ours[tuple(peer_row[k] for k in STEP_KEY)]
        assert {c: row[c] for c in SAME} == {c: peer_row[c] for c in SAME}
        skipped = bool(peer_row["ForceSkip"]) and peer_row["Status"] in ("NQUE", "RQUE")
        assert row["Status"] == ("SKIPPED" if skipped else peer_row["Status"])
        assert row["ForceSkip"] is skipped
    # v_taskDetail shows the past runs: the failure and its retry under the next Attempts.
    detail = [
        r
        for r in _table(spark, catalog, monitor.schema, "v_taskDetail")
        if (r["ProcessLoad"], r["TaskID"]) == ("HR_DAILY", 2)
    ]
    assert sorted((r["Attempts"], r["AttemptNo"], r["Status"]) for r in detail) == [
        (0, 1, "FAIL"),
        (1, 2, "DONE"),
    ]
    failure = next(r for r in detail if r["Status"] == "FAIL")
    assert "SFTP timeout" in failure["LogMessage"]
    # a retry that succeeded supersedes the failure, as in every schema of ours
    assert [
        r
        for r in _table(spark, catalog, monitor.schema, "v_currentFailures")
        if r["ProcessLoad"] == "HR_DAILY"
    ] == []


def test_receipts_are_kept(converted, spark, catalog):
    monitor, before, _ = converted
    logs = {r["LogID"]: r for r in _table(spark, catalog, monitor.schema, "ETLsysLogs")}
    assert len(logs) == len(before["ETLsysLogs"])
    for peer_row in before["ETLsysLogs"]:
        row = logs[f"peer-{peer_row['_ID']}"]
        assert (row["LogMessage"], row["SourceRunID"], row["LogTime"]) == (
            peer_row["Message"],
            peer_row["RunID"],
            peer_row["LogTimeUTC"],
        )
        for column in ("ProcessingDate", "ExecutionID", "CorrelationID", "PipelineName", "Level"):
            assert row[column] == peer_row[column]


def test_watermarks_keep_their_values(converted, peer_schema):
    monitor, before, _ = converted
    registered = {(r["ProcessLoad"], r["ParameterName"]): r for r in before["ETLconfigParameters"]}
    assert monitor.get_active_watermark("HR", "HR_DAILY", "PAYROLL_ID") == 184467
    delta = monitor.get_active_watermark("HR", "HR_DAILY", "LAST_LOAD_DT")
    peer_value = registered[("HR_DAILY", "LAST_LOAD_DT")]["ValueDateTime"]
    assert delta.replace(tzinfo=None) == peer_value.astimezone().replace(tzinfo=None) or (
        delta.timestamp() == peer_value.timestamp()
    )
    assert monitor.get_active_watermark("HR", "HR_DAILY", "SEND_ALERTS") is True
    assert monitor.get_active_watermark("HR", "HR_YEARLY", "BUDGET_DT") is None
    # historic mode, set by the peer, still decides the default processing date
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, "HR", "HR_DAILY")
    step = monitor.get_pending_tasks(e, "HR", "HR_DAILY").first()
    assert step.ProcessingDate == date.fromisoformat(peer_schema["dates"]["historic"])


def test_done_monthly_and_yearly_tasks_are_not_queued_again(converted, peer_schema):
    monitor, _, _ = converted
    for process, day in (("HR_MONTHLY", "monthly_later"), ("HR_YEARLY", "yearly_later")):
        e = monitor.generate_execution_id()
        monitor.generate_execution_steps(e, "HR", process, peer_schema["dates"][day])
        queued = [r.TaskID for r in monitor.get_pending_tasks(e, "HR", process).collect()]
        assert queued == [0], (process, queued)  # the initiation step only: task 1 is DONE


def test_a_second_setup_converts_nothing_again(converted, spark, catalog):
    monitor, before, _ = converted
    again = monitor.setup()
    assert again.migration is not None and again.migration.step_events == 0
    assert again.migration.renamed == {} and not again.columns_added
    steps = _table(spark, catalog, monitor.schema, "ETLProcessingEvents")
    assert len([r for r in steps if r["Reason"].startswith("converted")]) == len(
        before["ETLProcessingSteps"]
    )


class Crash(ETLMonitorError):
    """Raised in place of a statement of setup(), as a killed process would stop there."""


#: Where a run is killed: the n-th statement (in that run) containing the text.
CRASH_POINTS = (
    ("RENAME TO", 1),  # the steps table
    ("RENAME TO", 1),  # the receipts table (the steps table is already aside)
    ("CREATE TABLE", 1),
    ("ADD COLUMNS", 1),
    ("DROP NOT NULL", 1),
    ("CREATE OR REPLACE VIEW", 3),
    ("INSERT INTO", 1),  # the step events
    ("INSERT INTO", 2),  # the receipts
    ("UPDATE", 1),
    ("SET TBLPROPERTIES", 1),  # the mark
)


def test_a_conversion_killed_midway_ends_the_same_when_run_again(
    peer_schema, spark, catalog, converted, monkeypatch
):
    """Kill setup() at each kind of write in turn (on one clone), then let it finish."""
    reference, before, _ = converted
    schema = f"crash_{uuid.uuid4().hex[:10]}"
    clone_peer_schema(spark, catalog, peer_schema["schema"], schema)
    monitor = ETLMonitorFramework(spark, catalog, schema)
    original = monitor.executor.execute
    killed = []
    for text, nth in CRASH_POINTS:
        seen = {"n": 0}

        def execute(statement: str, *, kind: str = "write", text=text, nth=nth, seen=seen):
            if text in statement:
                seen["n"] += 1
                if seen["n"] == nth:
                    raise Crash(f"killed at {text} #{nth}: {statement[:80]}")
            return original(statement, kind=kind)

        monkeypatch.setattr(monitor.executor, "execute", execute)
        with pytest.raises(Crash) as crash:
            monitor.setup()
        killed.append(str(crash.value))
    monkeypatch.setattr(monitor.executor, "execute", original)
    final = monitor.setup()
    assert final.migration is not None and final.migration.completed
    assert len(killed) == len(CRASH_POINTS)
    peer_runs = {r["ExecutionID"] for r in before["ETLProcessingSteps"]}
    for name in (*CONFIG, "ETLProcessingSteps", "ETLsysLogs", "ETLProcessingSteps_peer_v1"):
        ours, expected = (
            [
                {k: v for k, v in r.items() if k not in _VARYING}
                for r in _table(spark, catalog, s, name)
                if r.get("ExecutionID", next(iter(peer_runs))) in peer_runs
            ]
            for s in (schema, reference.schema)
        )
        assert _sorted(ours) == _sorted(expected), name


#: Columns that differ between two conversions by when they ran, not by what they hold.
_VARYING = {"CreatedOn", "CreatedBy", "LastUpdatedOn", "LastUpdatedBy"}
