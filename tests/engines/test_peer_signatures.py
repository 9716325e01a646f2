"""databricks-etl-monitor 1.0's calls: its positional order and keyword names reach the same step.

The published signatures (its wheel, as listed in the reference) are data here: every one
must be a prefix of ours, in order, as positional-or-keyword parameters. Then each call
that names a step is made positionally in the peer's order and with keywords, and must
reach the step it names, and no other.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError
from tests.helpers import pending, rows, statuses
from tests.schemas import copied

P, L, DAY = "HR", "EMP", "2026-01-15"


@pytest.fixture
def peer_style(spark, catalog) -> ETLMonitorFramework:
    """A process registered with positional calls in the peer's order only (copied from a template)."""
    return copied(spark, catalog, "peer_style", _register_peer_style)


def _register_peer_style(m: ETLMonitorFramework) -> None:
    registered = (
        m.register_organisation("CORP", "Corporate", "Group")
        .register_project(P, "HR platform", "People data", "CORP")
        .register_process(P, L, "Employees", "Daily employees", "HR team", "D")
        .register_task(P, L, 0, 0, 0, "Initiation", "DBX_NOTEBOOK")
        .register_task(
            P, L, 1, 1, 1, "Config", "DBX_NOTEBOOK", "/Workspace/etl/config", "", "", "D", True
        )
        .register_task(
            P,
            L,
            2,
            1,
            2,
            "Payroll",
            "ADF_PIPELINE",
            "pl_payroll",
            "LoadPayroll",
            "UK payroll",
            "M",
            False,
            "payroll_uk",
            ".csv",
            "abfss://raw/in/",
            "abfss://cur/out/",
        )
        .register_task(P, L, 3, 2, 2, "Second pass", "DBX_JOB")  # same stage, pass 2
        .register_parameter(
            P, L, "LoadPayroll", "DELTA_DATE", "Payroll watermark", None, None, None
        )
        .register_parameter(P, L, "LastId", "DELTA_ID", "Last id", None, 0)
        .register_parameter(P, L, "SYSDT", "SYSTEM", "System date")
    )
    assert registered is m


def test_positional_registrations_store_each_value_in_its_column(peer_style, spark):
    (task,) = rows(peer_style, "ETLconfigTasks", TaskID=2)
    assert {
        k: task[k]
        for k in (
            "WorkFlowID",
            "SequenceID",
            "TaskName",
            "SourceType",
            "SourceIdentifier",
            "SourceSystemCode",
            "TaskDescription",
            "LoadFrequency",
            "TaskMandatory",
            "FileNameMask",
            "FileExtension",
            "InFilePath",
            "OutFilePath",
        )
    } == {
        "WorkFlowID": 1,
        "SequenceID": 2,
        "TaskName": "Payroll",
        "SourceType": "ADF_PIPELINE",
        "SourceIdentifier": "pl_payroll",
        "SourceSystemCode": "LoadPayroll",
        "TaskDescription": "UK payroll",
        "LoadFrequency": "M",
        "TaskMandatory": False,
        "FileNameMask": "payroll_uk",
        "FileExtension": ".csv",
        "InFilePath": "abfss://raw/in/",
        "OutFilePath": "abfss://cur/out/",
    }
    (config,) = rows(peer_style, "ETLconfigTasks", TaskID=1)
    assert (config.get("SourceSystemCode"), config["TaskMandatory"]) == (None, True)  # '' = none
    (project,) = rows(peer_style, "ETLconfigProject")
    assert (project["ProjectName"], project["ProjectDescription"], project["OrganisationCode"]) == (
        "HR platform",
        "People data",
        "CORP",
    )
    (process,) = rows(peer_style, "ETLconfigProcess")
    assert (process["ProcessDescription"], process["ProcessOwner"]) == (
        "Daily employees",
        "HR team",
    )
    assert peer_style.get_active_watermark(P, L, "LastId") == 0


def test_each_step_call_reaches_the_step_it_names_positionally_and_by_keyword(peer_style):
    m = peer_style
    e = m.generate_execution_id()
    m.generate_execution_steps(e, P, L, DAY)
    # file name: the mask's monthly suffix, as the peer computed it
    (payroll,) = pending(m, e, P, L, DAY, 2, 1, 2)
    assert (payroll["Status"], payroll["FullFileName"]) == ("NQUE", "payroll_uk_202601.csv")
    assert m.task_status(e, P, L, DAY, 1, 2, 2) == "NQUE"
    assert (
        m.task_status(e, P, L, processing_date=DAY, workflow_id=2, sequence_id=2, task_id=3)
        == "NQUE"
    )

    t0 = datetime(2026, 1, 15, 6, 0, tzinfo=timezone.utc)
    run = m.start_task(e, P, L, 2, 2, 1, DAY, 0, "ADF_PIPELINE", "adf-run-7", t0)
    assert run.active and (run.task_id, run.workflow_id, run.attempts) == (2, 1, 0)
    assert statuses(m, e) == {(0, 0): "NQUE", (1, 1): "NQUE", (2, 1): "RUNNING", (3, 2): "NQUE"}
    m.end_task(e, P, L, 2, 2, 1, DAY, 0, "FAIL", "file missing", "ERROR", "E42", t0)
    (step,) = rows(m, "ETLProcessingSteps", ExecutionID=e, TaskID=2)
    assert (step["Status"], step["LogMessage"], step["LogCode"], step["SourceRunID"]) == (
        "FAIL",
        "file missing",
        "E42",
        "adf-run-7",
    )
    m.fail_task(e, P, L, 3, 2, 2, DAY, 0, "pass 2 failed", "E7")
    assert statuses(m, e)[(3, 2)] == "FAIL" and statuses(m, e)[(2, 1)] == "FAIL"

    with m.task(e, P, L, 1, 1, 1, DAY, "DBX_NOTEBOOK", "config loaded", "INFO", "OK") as t:
        assert t.active
    (config,) = rows(m, "ETLProcessingSteps", ExecutionID=e, TaskID=1)
    assert (config["Status"], config["LogMessage"], config["LogCode"]) == (
        "DONE",
        "config loaded",
        "OK",
    )
    with m.task(
        execution_id=e, project_code=P, process_load=L, task_id=0, sequence_id=0, workflow_id=0,
        processing_date=DAY, log_message="run initiated",
    ) as t:  # fmt: skip
        assert t.active
    assert statuses(m, e)[(0, 0)] == "DONE"

    # skip / unskip: (task_id, workflow_id, sequence_id, processing_date)
    e2 = m.generate_execution_id()
    m.generate_execution_steps(e2, P, L, "2026-01-16")
    m.skip_task(e2, P, L, 3, 2, 2, "2026-01-16")
    assert statuses(m, e2)[(3, 2)] == "SKIPPED" and statuses(m, e2)[(1, 1)] == "NQUE"
    m.unskip_task(e2, P, L, task_id=3, workflow_id=2, sequence_id=2, processing_date="2026-01-16")
    assert statuses(m, e2)[(3, 2)] == "NQUE"

    # a stage that is not the step's is refused, whichever form
    with pytest.raises(InvalidArgumentError, match="sequence_id=1 does not match"):
        m.skip_task(e2, P, L, 3, 2, 1)
    with pytest.raises(InvalidArgumentError, match="sequence_id=9"):
        m.start_task(e2, P, L, 1, 9, 1)

    # get_status / status_reset: (processing_date, execution_id, workflow_id, sequence_id, task_id, attempts)
    detail = m.get_status(P, L, DAY, e, 1, 2, 2, 0).collect()
    assert [(r.TaskID, r.Status) for r in detail] == [(2, "FAIL")]
    summary = m.get_status(P, L, DAY, None, None, None, None, None, True).collect()
    assert [(r.ExecutionID, r.OverallStatus) for r in summary] == [(e, "FAILED")]
    assert m.status_reset(P, L, DAY, e, 1, 2, 2, 0, "rerun payroll") == 2  # task 2 and initiation
    (reset,) = rows(m, "ETLProcessingSteps", ExecutionID=e, TaskID=2)
    assert (reset["Status"], reset["LogMessage"]) == ("RQUE", "rerun payroll")
    assert statuses(m, e)[(3, 2)] == "FAIL"  # another pass: untouched


def test_watermark_and_mode_calls_in_the_peers_order(peer_style):
    m = peer_style
    assert m.advance_watermark(P, L, "LastId", None, 42) is True
    assert m.get_active_watermark(P, L, "LastId") == 42
    at = datetime(2026, 1, 1, 5, 30, tzinfo=timezone.utc)
    assert m.advance_watermark(P, L, "LoadPayroll", at) is True
    assert m.get_active_watermark(P, L, "LoadPayroll") == at
    assert m.set_processing_mode(P, L, False, True, "2026-01-01") == 1  # historic
    e = m.generate_execution_id()
    assert m.generate_execution_steps(e, P, L) > 0
    assert {
        r["ProcessingDate"].isoformat() for r in rows(m, "ETLProcessingSteps", ExecutionID=e)
    } == {"2026-01-01"}
    m.set_processing_mode(
        P, L, historic_date="2026-02-01", is_historic_mode=True
    )  # the README's name
    state = {r["ParameterName"]: r["WatermarkState"] for r in rows(m, "v_watermarks")}
    assert state["SYSDT"].startswith("HISTORIC: 2026-02-01")
    assert m.set_processing_mode(P, L, False, False, None, "LastId", None, 7) == 1  # set one value
    assert m.get_active_watermark(P, L, "LastId") == 7
    with pytest.raises(InvalidArgumentError, match="processing_date and historic_date"):
        m.set_processing_mode(P, L, False, True, "2026-01-01", historic_date="2026-01-02")
    m.set_processing_mode(P, L, True)  # bulk: keeps the historic date (the peer went live)
    state = {r["ParameterName"]: r["WatermarkState"] for r in rows(m, "v_watermarks")}
    assert (state["LoadPayroll"], state["LastId"], state["SYSDT"]) == (
        "BULK MODE",
        "BULK MODE",
        "HISTORIC: 2026-02-01T00:00:00.000",
    )
    m.set_processing_mode(P, L)  # live
    assert {r["ParameterName"]: r["WatermarkState"] for r in rows(m, "v_watermarks")}[
        "SYSDT"
    ] == "LIVE DATE"


def test_setup_seed_guide_and_sample_usage(
    fresh: ETLMonitorFramework, spark, tmp_path, monkeypatch, capsys
):
    report = fresh.setup(False)
    assert report.stages_seeded == [] and rows(fresh, "ETLconfigSequence") == []
    fresh.seed_sequence_data()
    assert sorted(r["SequenceID"] for r in rows(fresh, "ETLconfigSequence")) == list(range(7))
    fresh.guide()
    assert "register_task" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    folder = fresh.sample_usage(spark)  # the peer's call: no workspace file system here
    assert folder == str(tmp_path / "etl_monitor_sample_usage") and any(tmp_path.glob("*/*.py"))
