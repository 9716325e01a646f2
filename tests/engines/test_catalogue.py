"""The process catalogue as code: load, plan, apply and export round trips."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from etl_monitor import ETLMonitorFramework
from etl_monitor.errors import InvalidArgumentError, NotFoundError
from etl_monitor.tracking.catalogue import apply, export, load, plan
from tests.helpers import rows, run_cli, snapshot
from tests.unit.test_catalogue import CATALOGUE, _doc, _dump

TRICKY = 'it\'s "quoted" \\ back\\slash\nnew line -- not a comment; é漢字 😀\ttab '


def _actions(report) -> dict[tuple[str, str], str]:
    return {(c.kind, c.key): c.action for c in report.changes}


def test_round_trip_export_load_plan_unchanged(monitor: ETLMonitorFramework) -> None:
    first = apply(monitor.context, load(CATALOGUE))
    assert first.counts["add"] == 14 and first.counts["not_in_file"] == 0
    text = export(monitor.context)
    report = plan(monitor.context, load(text))
    assert report.counts == {"add": 0, "update": 0, "unchanged": 14, "not_in_file": 0}
    assert export(monitor.context) == text
    assert plan(monitor.context, load(CATALOGUE)).counts["unchanged"] == 14
    exported = yaml.safe_load(text)
    hr = exported["processes"][1]
    assert hr["process_load"] == "HR_DAILY" and hr["tasks"][1]["file_extension"] == ".csv"
    assert {p["parameter_name"]: p.get("value_datetime") for p in hr["parameters"]}["W1"] == (
        "2026-01-02T01:04:05+00:00"
    )
    assert [s["sequence_id"] for s in exported["sequences"]] == [10]
    # the rows are exactly the registry's: re-registering the same values changes nothing
    before = snapshot(monitor)
    monitor.register_task(
        "CORP",
        "HR_DAILY",
        task_id=1,
        workflow_id=1,
        sequence_id=2,
        task_name="Employees",
        source_system_code="W1",
        task_mandatory=True,
        file_mask="employees_{yyyyMMdd}",
        file_extension=".csv",
        sla_minutes=60,
    )
    monitor.register_parameter("CORP", "HR_DAILY", "LastID", "DELTA_ID", value_int=2**53 + 1)
    monitor.register_process("CORP", "FIN_MONTHLY", load_frequency="M")
    monitor.register_sequence(10, "LOAD_EXTRA", "Extra loads")
    monitor.register_project("CORP", "Corporate", org_code="ACME", owner="Data Team")
    assert snapshot(monitor) == before


def test_plan_and_apply_changes_only(monitor: ETLMonitorFramework) -> None:
    apply(monitor.context, load(CATALOGUE))
    monitor.register_process("OPS", "LEGACY", name="registered by hand")
    created = rows(monitor, "ETLconfigTasks", ProcessLoad="HR_DAILY", TaskID=1)[0]["CreatedOn"]
    doc = _doc()
    hr = doc["processes"][0]
    hr["tasks"][1]["sla_minutes"] = 90
    hr["tasks"][1]["task_name"] = "Employees v2"
    hr["tasks"].append({"task_id": 3, "workflow_id": 1, "sequence_id": 3})
    del hr["parameters"][3]
    text = _dump(doc)
    report = plan(monitor.context, load(text))
    actions = _actions(report)
    assert actions[("task", "CORP/HR_DAILY/1/1")] == "update"
    assert actions[("task", "CORP/HR_DAILY/3/1")] == "add"
    assert actions[("parameter", "CORP/HR_DAILY/Bulk")] == "not_in_file"
    assert actions[("process", "OPS/LEGACY")] == "not_in_file"
    assert actions[("process", "CORP/HR_DAILY")] == "unchanged"
    change = next(c for c in report.changes if c.key == "CORP/HR_DAILY/1/1")
    assert change.changes == {"task_name": ("Employees", "Employees v2"), "sla_minutes": (60, 90)}
    assert "sla_minutes: 60 -> 90" in change.as_dict()["changes"]
    assert report.counts == {"add": 1, "update": 1, "unchanged": 12, "not_in_file": 2}

    before = snapshot(monitor)
    apply(monitor.context, load(text))
    after = snapshot(monitor)
    for table in ("ETLOrganisation", "ETLconfigProject", "ETLconfigProcess", "ETLconfigParameters"):
        assert after[table] == before[table], table  # nothing deleted, nothing rewritten
    task = rows(monitor, "ETLconfigTasks", ProcessLoad="HR_DAILY", TaskID=1)[0]
    assert (task["SLAMinutes"], task["TaskName"]) == (90, "Employees v2")
    assert task["CreatedOn"] == created and task["LastUpdatedOn"] > created
    untouched = rows(monitor, "ETLconfigTasks", ProcessLoad="HR_DAILY", TaskID=2)[0]
    assert untouched["LastUpdatedOn"] == untouched["CreatedOn"]
    assert rows(monitor, "ETLconfigParameters", ParameterName="Bulk")  # kept
    assert (
        plan(monitor.context, load(text)).counts["add"]
        + plan(monitor.context, load(text)).counts["update"]
        == 0
    )


def test_invalid_files_write_nothing(monitor: ETLMonitorFramework) -> None:
    apply(monitor.context, load(CATALOGUE))
    before = snapshot(monitor)
    with pytest.raises(InvalidArgumentError, match="duplicate key 'name' at line 4"):
        load("organisations:\n  - org_code: A\n    name: x\n    name: y\n")
    doc = _doc()
    doc["processes"][0]["tasks"][2]["load_frequency"] = "X"
    doc["organisations"][0]["name"] = "changed"
    with pytest.raises(InvalidArgumentError, match=r"processes\[0\]\.tasks\[2\]\.load_frequency"):
        apply(monitor.context, load(_dump(doc)))
    doc = _doc()
    doc["organisations"][0]["name"] = "changed"
    doc["processes"][0]["tasks"][2]["sequence_id"] = 11
    with pytest.raises(NotFoundError, match=r"processes\[0\]\.tasks\[2\]\.sequence_id: stage 11"):
        apply(monitor.context, load(_dump(doc)))
    orphan = "processes:\n  - {project_code: NOPE, process_load: GONE, external: true, tasks: [{task_id: 0, workflow_id: 0, sequence_id: 0}]}\n"
    with pytest.raises(NotFoundError, match=r"processes\[0\]: external process NOPE/GONE"):
        apply(monitor.context, load(orphan))
    assert snapshot(monitor) == before


def test_tricky_values_round_trip(monitor: ETLMonitorFramework) -> None:
    doc = _doc()
    doc["organisations"][0]["description"] = TRICKY
    doc["processes"][0]["tasks"][1]["source_path"] = "C:\\data\\in 'x' \"y\"\n--; DROP TABLE t"
    doc["processes"][0]["parameters"][0]["description"] = (
        "NO"  # YAML 1.1 would read a bare NO as false
    )
    apply(monitor.context, load(_dump(doc)))
    org = rows(monitor, "ETLOrganisation", OrganisationCode="ACME")[0]
    assert org["OrganisationDescription"] == TRICKY
    text = export(monitor.context)
    again = load(text)
    assert again.organisations[0].organisation_description == TRICKY
    assert again.processes[1].tasks[1].in_file_path == "C:\\data\\in 'x' \"y\"\n--; DROP TABLE t"
    assert again.processes[1].parameters[3].description == "NO"
    assert plan(monitor.context, again).counts["unchanged"] == 14


def test_cli_plan_apply_export(tmp_path) -> None:
    def cli(*args: str, group: bool = True) -> subprocess.CompletedProcess:
        return run_cli(*(("catalogue", *args) if group else args), cwd=tmp_path)

    assert cli("setup", group=False).returncode == 0
    (tmp_path / "catalogue.yaml").write_text(CATALOGUE, encoding="utf-8")
    result = cli("apply", "catalogue.yaml")
    assert result.returncode == 2 and "--confirm" in result.stderr
    result = cli("apply", "catalogue.yaml", "--confirm", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["counts"]["add"] == 14
    result = cli("export", "--out", "exported.yaml")
    assert result.returncode == 0, result.stderr
    result = cli("plan", "exported.yaml", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["counts"]["unchanged"] == 14
