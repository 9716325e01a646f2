"""setup() on a schema databricks-etl-monitor 1.0 created: converted in place, nothing lost.

Delta only: the schema is built by the peer's own code (tests/peer_package.py, the session
fixture ``peer_schema``); each test converts its own shallow clone of it.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.executor import add_statement_listener
from etl_monitor.engine.timestamps import rows_from_spark
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
    """Rows as dicts, TIMESTAMPs as aware UTC (PySpark returns them naive, in the local zone)."""
    table = spark.table(f"`{catalog}`.`{schema}`.`{name}`")
    return [r.asDict() for r in rows_from_spark(table.collect())]


def _snapshot(spark, catalog: str, schema: str) -> dict[str, list[dict]]:
    return {name: _table(spark, catalog, schema, name) for name in PEER_TABLES}


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


@pytest.fixture(scope="module")
def converted(peer_schema, spark, catalog):
    """A clone of the peer schema, its rows before, the framework after one setup(), and the
    writes that setup() issued (text with the schema's name as ``{schema}``)."""
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    clone_peer_schema(spark, catalog, peer_schema["schema"], schema)
    before = _snapshot(spark, catalog, schema)
    monitor = ETLMonitorFramework(spark, catalog, schema)
    writes: list[str] = []
    stop = add_statement_listener(
        lambda s: (
            writes.append(s.text.replace(schema, "{schema}"))
            if s.kind not in ("query", "meta") and schema in s.text
            else None
        )
    )
    try:
        report = monitor.setup()
    finally:
        stop()
    return monitor, before, report, writes


@pytest.mark.core
def test_setup_reports_the_conversion(converted, peer_schema):
    _, before, report, _ = converted
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
    monitor, before, _, _ = converted
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
    monitor, before, _, _ = converted
    for name, kept in (
        ("ETLProcessingSteps", "ETLProcessingSteps_peer_v1"),
        ("ETLsysLogs", "ETLsysLogs_peer_v1"),
    ):
        assert _sorted(_table(spark, catalog, monitor.schema, kept)) == _sorted(before[name])


def test_every_step_row_becomes_a_step_with_its_values(converted, spark, catalog):
    monitor, before, _, _ = converted
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
    monitor, before, _, _ = converted
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


@pytest.mark.core
def test_watermarks_keep_their_values(converted, peer_schema):
    monitor, before, _, _ = converted
    registered = {(r["ProcessLoad"], r["ParameterName"]): r for r in before["ETLconfigParameters"]}
    assert monitor.get_active_watermark("HR", "HR_DAILY", "PAYROLL_ID") == 184467
    delta = monitor.get_active_watermark("HR", "HR_DAILY", "LAST_LOAD_DT")
    assert delta == registered[("HR_DAILY", "LAST_LOAD_DT")]["ValueDateTime"]
    assert monitor.get_active_watermark("HR", "HR_DAILY", "SEND_ALERTS") is True
    assert monitor.get_active_watermark("HR", "HR_YEARLY", "BUDGET_DT") is None
    # historic mode, set by the peer, still decides the default processing date
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, "HR", "HR_DAILY")
    step = monitor.get_pending_tasks(e, "HR", "HR_DAILY").first()
    assert step.ProcessingDate == date.fromisoformat(peer_schema["dates"]["historic"])


def test_done_monthly_and_yearly_tasks_are_not_queued_again(converted, peer_schema):
    monitor, _, _, _ = converted
    for process, day in (("HR_MONTHLY", "monthly_later"), ("HR_YEARLY", "yearly_later")):
        e = monitor.generate_execution_id()
        monitor.generate_execution_steps(e, "HR", process, peer_schema["dates"][day])
        queued = [r.TaskID for r in monitor.get_pending_tasks(e, "HR", process).collect()]
        assert queued == [0], (process, queued)  # the initiation step only: task 1 is DONE


def test_a_second_setup_converts_nothing_again(converted, spark, catalog):
    monitor, before, _, _ = converted
    again = monitor.setup()
    assert again.migration is not None and again.migration.step_events == 0
    assert again.migration.renamed == {} and not again.columns_added
    steps = _table(spark, catalog, monitor.schema, "ETLProcessingEvents")
    assert len([r for r in steps if r["Reason"].startswith("converted")]) == len(
        before["ETLProcessingSteps"]
    )


class Crash(ETLMonitorError):
    """Raised in place of a statement of setup(), as a killed process would stop there."""


_KINDS = re.compile(
    r"RENAME TO|ADD COLUMNS|DROP NOT NULL|CREATE TABLE|CREATE OR REPLACE VIEW|MERGE INTO|"
    r"INSERT INTO|UPDATE|SET TBLPROPERTIES"
)


def _normal(text: str) -> str:
    """A statement without the names of the temporary views it reads (new each run)."""
    return re.sub(r"etlm_\w+", "etlm_*", text)


def _crash_points(writes: list[str]) -> list[str]:
    """In order: the first write of each run of same-kind writes, and every rename and copy."""
    points, last = [], None
    for text in writes:
        kind = (_KINDS.search(text) or re.match(r"\w+", text)).group(0)
        if kind != last or kind in ("RENAME TO", "INSERT INTO"):
            points.append(text)
        last = kind
    return points


def test_a_conversion_killed_midway_ends_the_same_when_run_again(
    peer_schema, spark, catalog, converted, monkeypatch
):
    """Kill setup() at each kind of write of a conversion in turn (on one clone): each run
    is killed at the first write the one before did not reach. Then let it finish."""
    reference, before, _, writes = converted
    points = _crash_points(writes)
    assert {"RENAME TO", "INSERT INTO", "SET TBLPROPERTIES", "DROP NOT NULL"} <= {
        _KINDS.search(p).group(0) for p in points if _KINDS.search(p)
    }
    schema = f"crash_{uuid.uuid4().hex[:10]}"
    clone_peer_schema(spark, catalog, peer_schema["schema"], schema)
    monitor = ETLMonitorFramework(spark, catalog, schema)
    executor = monitor.executor
    originals = {name: getattr(executor, name) for name in ("execute", "replace_view")}
    killed = []
    for point in points:
        target = point.replace("{schema}", schema)
        for name, original in originals.items():

            def run(statement: str, *args, target=target, original=original, **kwargs):
                if _normal(statement) == target:
                    raise Crash(f"killed at: {statement[:90]}")
                return original(statement, *args, **kwargs)

            monkeypatch.setattr(executor, name, run)
        try:
            monitor.setup()
        except Crash as crash:
            killed.append(str(crash))
        else:
            killed.append(f"not reached: {point[:90]}")
    for name, original in originals.items():
        monkeypatch.setattr(executor, name, original)
    final = monitor.setup()
    print("\n".join(killed))
    assert not [k for k in killed if k.startswith("not reached")], killed
    assert final.migration is not None and final.migration.completed
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
