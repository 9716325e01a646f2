"""The published peer package builds its schema on the Delta test engine (tests/peer_package.py).

Delta only: the peer's tables are Delta tables in ``spark_catalog``. The schema is built once
per module by the peer's own code in its own venv; every test here reads it from our side.
"""

from __future__ import annotations

import uuid

import pytest

from tests.peer_package import (
    HISTORY_END,
    PEER_TABLES,
    PEER_VIEWS,
    REPO,
    clone_peer_schema,
    connect_url,
    insert_peer_history,
    peer_python,
    run_peer,
)

#: Enough daily runs (about 5.5 rows a day) to reach back past a first of January.
HISTORY_ROWS = 2000


@pytest.fixture(scope="module")
def peer(peer_schema):
    return peer_schema


def _fqn(peer: dict, name: str) -> str:
    return f"`{peer['catalog']}`.`{peer['schema']}`.`{name}`"


def _rows(spark, peer: dict, name: str, where: str = "TRUE") -> list[dict]:
    return [
        r.asDict() for r in spark.sql(f"SELECT * FROM {_fqn(peer, name)} WHERE {where}").collect()
    ]


def test_the_child_runs_the_peer_package_not_ours(peer, spark):
    paths = run_peer(
        connect_url(spark),
        peer["catalog"],
        peer["schema"],
        "import etl_monitor, os, sys\n"
        "result = [etl_monitor.__file__, os.getcwd(), sys.path, type(monitor).__module__]",
    )
    package, cwd, path, module = paths
    venv = str(peer_python().parent.parent)
    assert package.startswith(venv) and module == "etl_monitor.framework"
    assert not cwd.startswith(str(REPO))
    assert [p for p in path if p.startswith(str(REPO)) and not p.startswith(venv)] == []


def test_eight_tables_and_six_views(peer, spark):
    found = {
        r["tableName"].lower(): r
        for r in spark.sql(f"SHOW TABLES IN `{peer['catalog']}`.`{peer['schema']}`").collect()
        if not r["isTemporary"]  # this session's temporary views are listed in every schema
    }
    views = {
        r["viewName"].lower()
        for r in spark.sql(f"SHOW VIEWS IN `{peer['catalog']}`.`{peer['schema']}`").collect()
        if not r["isTemporary"]
    }
    assert set(found) == {n.lower() for n in PEER_TABLES + PEER_VIEWS}
    assert views == {v.lower() for v in PEER_VIEWS}
    for table in PEER_TABLES:
        detail = spark.sql(f"DESCRIBE DETAIL {_fqn(peer, table)}").first()
        assert detail["format"] == "delta", table


def test_every_table_holds_the_expected_row_count(peer, spark):
    counts = {t: spark.table(_fqn(peer, t)).count() for t in PEER_TABLES}
    assert counts == peer["row_counts"]


def test_every_step_row_is_the_peers(peer, spark):
    keys = (
        "ExecutionID",
        "ProcessLoad",
        "TaskID",
        "WorkFlowID",
        "SequenceID",
        "Attempts",
        "Status",
    )
    files = ("FullFileName", "InFilePath", "OutFilePath")
    actual = {}
    for r in _rows(spark, peer, "ETLProcessingSteps"):
        r["ProcessingDate"] = str(r["ProcessingDate"])
        actual[tuple(r[k] for k in keys)] = r
    expected = {tuple(s[k] for k in keys): s for s in peer["steps"]}
    assert set(actual) == set(expected)
    for key, step in expected.items():
        row = actual[key]
        assert row["ProcessingDate"] == step["ProcessingDate"], key
        assert tuple(row[f] for f in files) == tuple(step[f] for f in files), key
        assert row["ProjectCode"] == peer["project"] and row["ForceSkip"] is False
        if row["Status"] in ("DONE", "FAIL"):
            assert row["StartTime"] <= row["EndTime"] and row["DurationSeconds"] >= 0, key


def test_the_failed_task_and_its_retry(peer, spark):
    e1, e2 = peer["executions"]["daily_failed"], peer["executions"]["daily_retry"]
    payroll = {
        r["ExecutionID"]: r
        for r in _rows(spark, peer, "ETLProcessingSteps", "ProcessLoad = 'HR_DAILY' AND TaskID = 2")
    }
    assert (payroll[e1]["Attempts"], payroll[e1]["Status"]) == (0, "FAIL")
    assert payroll[e1]["LogMessage"] == peer["failure"]
    assert payroll[e1]["LogType"] == "ERROR" and payroll[e1]["SourceType"] == "ADF_PIPELINE"
    assert (payroll[e2]["Attempts"], payroll[e2]["Status"]) == (1, "DONE")
    assert payroll[e2]["LogMessage"] == "Payroll loaded: 4,821 rows"
    # The failure reset the first run's initiation task; the mart never started.
    init = _rows(spark, peer, "ETLProcessingSteps", f"ExecutionID = '{e1}' AND TaskID = 0")[0]
    assert init["Status"] == "NQUE" and init["LogMessage"] == "Run initiated"
    mart = _rows(spark, peer, "ETLProcessingSteps", f"ExecutionID = '{e1}' AND TaskID = 4")[0]
    assert mart["EndTime"] is None and mart["SourceType"] is None
    # The retry queued only what was not DONE on that date.
    assert {
        r["TaskID"] for r in _rows(spark, peer, "ETLProcessingSteps", f"ExecutionID = '{e2}'")
    } == {0, 2, 4}


def test_monthly_and_yearly_tasks_are_not_queued_again_in_their_period(peer, spark):
    for name in ("monthly_later", "yearly_later"):
        execution = peer["executions"][name]
        assert _rows(spark, peer, "ETLProcessingSteps", f"ExecutionID = '{execution}'") == []
    for name in ("monthly", "yearly"):
        execution = peer["executions"][name]
        rows = _rows(spark, peer, "ETLProcessingSteps", f"ExecutionID = '{execution}'")
        assert [r["Status"] for r in rows] == ["DONE", "DONE"]


def test_watermarks_and_processing_mode(peer, spark):
    actual = {
        (r["ProcessLoad"], r["ParameterName"]): r
        for r in spark.sql(
            f"SELECT *, CAST(ValueDateTime AS STRING) AS ValueText FROM {_fqn(peer, 'v_watermarks')}"
        ).collect()
    }
    assert len(actual) == len(peer["parameters"])
    for p in peer["parameters"]:
        row = actual[(p["ProcessLoad"], p["ParameterName"])]
        assert row["ParameterType"] == p["ParameterType"]
        assert (row["ValueText"], row["ValueINT"], row["ValueBIT"]) == (
            p["ValueDateTime"],
            p["ValueINT"],
            p["ValueBIT"],
        ), p["ParameterName"]
    assert actual[("HR_DAILY", "PAYROLL_ID")]["WatermarkState"] == "DELTA: 184467"
    assert actual[("HR_DAILY", "PAYROLL_ID")]["LinkedTaskName"] == "Load payroll file"
    assert actual[("HR_DAILY", "SYSDT")]["WatermarkState"] == "HISTORIC: 2026-03-02 00:00:00"
    assert actual[("HR_MONTHLY", "SYSDT")]["WatermarkState"] == "LIVE DATE"
    assert actual[("HR_YEARLY", "BUDGET_DT")]["WatermarkState"] == "BULK MODE"
    assert actual[("HR_DAILY", "SEND_ALERTS")]["ActiveValue"] == "true"
    # DELTA_DATE: the task's StartTime (the peer's end_task; see the module's workaround).
    e1 = peer["executions"]["daily_failed"]
    start = spark.sql(
        f"SELECT CAST(StartTime AS STRING) AS s FROM {_fqn(peer, 'ETLProcessingSteps')} "
        f"WHERE ExecutionID = '{e1}' AND TaskID = 1"
    ).first()["s"]
    assert actual[("HR_DAILY", "LAST_LOAD_DT")]["ValueText"] == start


def test_the_peer_statement_delta_cannot_run_is_recorded(peer):
    # Every successful end_task met DELTA_UNSUPPORTED_SUBQUERY; one advanced a DELTA_DATE.
    done = [s for s in peer["steps"] if s["Status"] == "DONE"]
    done += [
        s
        for s in peer["steps"]
        if s["ExecutionID"] == peer["executions"]["daily_failed"] and s["TaskID"] == 0
    ]
    assert len(peer["workarounds"]) == len(done)
    assert all("DELTA_UNSUPPORTED_SUBQUERY" in w["error"] for w in peer["workarounds"])
    assert [w["advanced"]["parameter"] for w in peer["workarounds"] if w["advanced"]] == [
        "LAST_LOAD_DT"
    ]


def test_sys_logs_rows(peer, spark):
    rows = sorted(_rows(spark, peer, "ETLsysLogs"), key=lambda r: r["RunID"])
    assert [r["Message"] for r in rows] == peer["syslogs"]
    assert [r["ExecutionID"] for r in rows] == [
        peer["executions"]["daily_failed"],
        peer["executions"]["daily_retry"],
    ]
    assert [r["Level"] for r in rows] == [3, 1]
    ids = [r["_ID"] for r in rows]
    assert None not in ids and len(set(ids)) == 2  # GENERATED ALWAYS AS IDENTITY


def test_the_peers_views_answer(peer, spark):
    e1, e2 = peer["executions"]["daily_failed"], peer["executions"]["daily_retry"]
    summary = {r["ExecutionID"]: r for r in _rows(spark, peer, "v_runSummary")}
    assert (summary[e1]["TotalTasks"], summary[e1]["Done"], summary[e1]["Failed"]) == (5, 2, 1)
    assert summary[e1]["OverallStatus"] == "RUNNING"  # NQUE rows left behind by the failure
    assert (summary[e2]["TotalTasks"], summary[e2]["OverallStatus"]) == (3, "COMPLETE")
    failures = _rows(spark, peer, "v_currentFailures")
    assert [(r["ExecutionID"], r["TaskID"]) for r in failures] == [(e1, 2)]
    blockers = {(r["ExecutionID"], r["TaskID"]) for r in _rows(spark, peer, "v_mandatoryBlockers")}
    assert blockers == {(e1, 0), (e1, 2), (e1, 4)}
    assert len(_rows(spark, peer, "v_taskDetail")) == peer["row_counts"]["ETLProcessingSteps"]
    status = _rows(spark, peer, "v_processStatus", "ProcessLoad = 'HR_DAILY'")
    assert sorted((r["LatestAttempt"], r["Done"], r["Failed"]) for r in status) == [
        (0, 2, 1),
        (1, 3, 0),
    ]


def test_insert_peer_history(peer_schema, spark):
    """Into a clone: the built schema is shared with other modules, which must see it as built."""
    peer = {**peer_schema, "schema": f"peer_h_{uuid.uuid4().hex[:10]}"}
    clone_peer_schema(spark, peer["catalog"], peer_schema["schema"], peer["schema"])
    before = spark.table(_fqn(peer, "ETLProcessingSteps")).count()
    report = insert_peer_history(spark, peer["catalog"], peer["schema"], HISTORY_ROWS)
    assert report["rows"] == HISTORY_ROWS
    assert spark.table(_fqn(peer, "ETLProcessingSteps")).count() == before + HISTORY_ROWS
    history = f"ProcessingDate <= DATE'{HISTORY_END}'"
    rows = _rows(spark, peer, "ETLProcessingSteps", history)
    assert len(rows) == HISTORY_ROWS
    keys = [
        (
            r["ProcessingDate"],
            r["ProcessLoad"],
            r["ExecutionID"],
            r["WorkFlowID"],
            r["TaskID"],
            r["SequenceID"],
            r["Attempts"],
        )
        for r in rows
    ]
    assert len(set(keys)) == len(keys)
    assert {r["Status"] for r in rows} == {"DONE", "FAIL", "NQUE"}
    assert {r["ProcessLoad"] for r in rows} == {"HR_DAILY", "HR_MONTHLY", "HR_YEARLY"}
    assert max(r["Attempts"] for r in rows) >= 1
    assert len({r["ProcessingDate"] for r in rows}) > 300
    # The peer's period rules: at most one DONE per monthly/yearly task and period.
    done = [r for r in rows if r["Status"] == "DONE" and r["ProcessLoad"] != "HR_DAILY"]
    periods = [
        (r["ProcessLoad"], r["TaskID"], r["ProcessingDate"].year,
         r["ProcessingDate"].month if r["ProcessLoad"] == "HR_MONTHLY" else 0)
        for r in done
    ]  # fmt: skip
    assert len(set(periods)) == len(periods)
    # Every FAIL reset its execution's initiation task to NQUE.
    failed = {r["ExecutionID"] for r in rows if r["Status"] == "FAIL"}
    for r in rows:
        if r["ExecutionID"] in failed and r["TaskID"] == 0 and r["WorkFlowID"] == 0:
            assert r["Status"] == "NQUE"
