"""Registry: exact round-trips, injection safety, validation before any write, upsert rules."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError, NotFoundError
from etl_monitor.engine.timestamps import rows_from_spark
from tests.helpers import commit_count, snapshot
from tests.schemas import copied
from tests.unit.test_refusals import INVALID_CALLS

#: Refusals issue no statement (tests/unit/test_refusals.py); two of them still show, on each
#: engine, that a schema with rows is left byte for byte as it was.
ON_AN_ENGINE = [INVALID_CALLS[0], INVALID_CALLS[-2]]

NASTY = [
    "it's",
    'say "hi"',
    "back\\slash \\' \\\\",
    "x -- comment",
    "a; DROP TABLE t;",
    "line1\nline2\r\nline3",
    "Zürich Straße 東京 🚀",
    "HR' OR '1'='1",
    "${var} {0} %s :param ?",
]


def _task(monitor: ETLMonitorFramework, **overrides) -> None:
    args = dict(
        task_id=1,
        workflow_id=1,
        sequence_id=2,
        task_name="Load Employees",
        source_type="DBX_NOTEBOOK",
        source_system_code="LoadEmployees",
    )
    args.update(overrides)
    monitor.register_task("CORP", "HR_DAILY", **args)


def _process(monitor: ETLMonitorFramework) -> None:
    monitor.register_process("CORP", "HR_DAILY", name="HR Daily Load", owner="HR Team")


@pytest.fixture
def process(spark, catalog) -> ETLMonitorFramework:
    """CORP/HR_DAILY registered (a copy of this worker's template)."""
    return copied(spark, catalog, "process", _process)


@pytest.mark.parametrize("value", NASTY)
def test_values_round_trip_exactly(process: ETLMonitorFramework, spark, value: str):
    process.register_organisation("ORG1", value, value)
    process.register_project(
        "CORP", project_name=value, organisation_code="ORG1", project_description=value, owner=value
    )
    process.register_process("CORP", "HR_DAILY", name=value, description=value, owner=value)
    _task(
        process,
        task_name=value,
        task_description=value,
        file_name_mask=value.replace("{", "(").replace("}", ")"),
        in_file_path=value,
        out_file_path=value,
        source_identifier=value,
    )
    process.register_parameter("CORP", "HR_DAILY", "LoadEmployees", "DELTA_DATE", description=value)

    org = spark.table(process.table_name("ETLOrganisation")).collect()[0]
    project = spark.table(process.table_name("ETLconfigProject")).collect()[0]
    proc = spark.table(process.table_name("ETLconfigProcess")).collect()[0]
    task = spark.table(process.table_name("ETLconfigTasks")).collect()[0]
    param = spark.table(process.table_name("ETLconfigParameters")).collect()[0]
    assert (org.OrganisationName, org.OrganisationDescription) == (value, value)
    assert (project.ProjectName, project.ProjectDescription, project.ProjectOwner) == (value,) * 3
    assert (proc.ProcessName, proc.ProcessDescription, proc.ProcessOwner) == (value,) * 3
    assert (task.TaskName, task.TaskDescription, task.InFilePath, task.OutFilePath) == (value,) * 4
    assert task.SourceIdentifier == value
    assert param.ParameterDescription == value


@pytest.mark.core
def test_injection_value_changes_only_its_own_row(process: ETLMonitorFramework, spark):
    process.register_process("CORP", "FIN_MONTHLY", name="Finance", owner="Finance Team")
    _task(process)
    before = {
        r.ProcessLoad: r.asDict()
        for r in spark.table(process.table_name("ETLconfigProcess")).collect()
    }

    process.register_process(
        "CORP", "HR_DAILY", name="HR' OR '1'='1", owner="x'; DELETE FROM t; --"
    )

    after = {
        r.ProcessLoad: r.asDict()
        for r in spark.table(process.table_name("ETLconfigProcess")).collect()
    }
    assert after["FIN_MONTHLY"] == before["FIN_MONTHLY"]
    assert after["HR_DAILY"]["ProcessName"] == "HR' OR '1'='1"
    assert after["HR_DAILY"]["ProcessOwner"] == "x'; DELETE FROM t; --"
    assert spark.table(process.table_name("ETLconfigTasks")).count() == 1
    # the same value as a code is refused outright
    with pytest.raises(InvalidArgumentError, match="process_load"):
        process.register_process("CORP", "HR' OR '1'='1")


@pytest.mark.core
def test_reregister_updates_in_place_and_keeps_created(
    process: ETLMonitorFramework, spark, warehouse, engine
):
    _task(process, sla_minutes=30)
    first = spark.table(process.table_name("ETLconfigTasks")).collect()[0]
    commits = commit_count(warehouse, process, "ETLconfigTasks")

    _task(
        process, sla_minutes=30
    )  # identical: no row changes (and no commit where the engine skips it)
    assert spark.table(process.table_name("ETLconfigTasks")).collect() == [first]
    empty = 0 if engine.noop_merge_skips_commit else 1
    assert commit_count(warehouse, process, "ETLconfigTasks") == commits + empty

    later = ETLMonitorFramework(spark, process.catalog, process.schema, user="someone-else")
    later.register_task(
        "CORP",
        "HR_DAILY",
        task_id=1,
        workflow_id=1,
        sequence_id=3,
        task_name="Load Employees v2",
        task_mandatory=True,
        sla_minutes=45,
    )
    rows = spark.table(process.table_name("ETLconfigTasks")).collect()
    assert len(rows) == 1
    row = rows[0]
    assert (row.SequenceID, row.TaskName, row.TaskMandatory, row.SLAMinutes) == (
        3,
        "Load Employees v2",
        True,
        45,
    )
    assert (row.CreatedOn, row.CreatedBy) == (first.CreatedOn, first.CreatedBy)
    assert row.LastUpdatedBy == "someone-else" and row.LastUpdatedOn > first.LastUpdatedOn


@pytest.mark.core
def test_task_fields_stored(process: ETLMonitorFramework, spark):
    _task(
        process,
        task_mandatory=True,
        load_frequency="M",
        file_mask="emp_{yyyyMMdd}",  # this library's earlier argument names still work
        file_extension="csv",
        source_path="/mnt/in",
        target_path="/mnt/out",
        sla_minutes=90,
        source_type="ADF_PIPELINE",
        is_active=False,
    )
    row = spark.table(process.table_name("ETLconfigTasks")).collect()[0]
    assert row.asDict() | {"CreatedOn": None, "LastUpdatedOn": None} == {
        "ProjectCode": "CORP",
        "ProcessLoad": "HR_DAILY",
        "TaskID": 1,
        "WorkFlowID": 1,
        "SequenceID": 2,
        "TaskName": "Load Employees",
        "TaskDescription": None,
        "SourceType": "ADF_PIPELINE",
        "SourceIdentifier": None,
        "SourceSystemCode": "LoadEmployees",
        "TaskMandatory": True,
        "IsActive": False,
        "LoadFrequency": "M",
        "FileNameMask": "emp_{yyyyMMdd}",
        "FileExtension": ".csv",  # with its dot, as databricks-etl-monitor stores it
        "InFilePath": "/mnt/in",
        "OutFilePath": "/mnt/out",
        "SLAMinutes": 90,
        "CreatedOn": None,
        "CreatedBy": row.CreatedBy,
        "LastUpdatedOn": None,
        "LastUpdatedBy": row.CreatedBy,
    }


def test_parameter_values(process: ETLMonitorFramework, spark):
    process.register_parameter("CORP", "HR_DAILY", "SYSDT", "SYSTEM")
    process.register_parameter(
        "CORP",
        "HR_DAILY",
        "LoadEmployees",
        "DELTA_DATE",
        value_datetime=datetime(2026, 4, 9, 12, 30, tzinfo=timezone.utc),
    )
    process.register_parameter("CORP", "HR_DAILY", "LoadById", "DELTA_ID", value_int=2**40)
    process.register_parameter("CORP", "HR_DAILY", "FullReload", "FLAG", value_bit=True)
    rows = {
        r.ParameterName: r
        for r in rows_from_spark(spark.table(process.table_name("ETLconfigParameters")).collect())
    }
    assert rows["SYSDT"].ParameterType == "SYSTEM" and rows["SYSDT"].ValueDateTime is None
    assert rows["LoadEmployees"].ValueDateTime == datetime(2026, 4, 9, 12, 30, tzinfo=timezone.utc)
    assert rows["LoadById"].ValueINT == 2**40
    assert rows["FullReload"].ValueBIT is True


def test_deactivate_and_reactivate(process: ETLMonitorFramework, spark):
    _task(process)
    process.deactivate_task("CORP", "HR_DAILY", 1, 1)
    assert spark.table(process.table_name("ETLconfigTasks")).collect()[0].IsActive is False
    process.reactivate_task("CORP", "HR_DAILY", 1, 1)
    row = spark.table(process.table_name("ETLconfigTasks")).collect()[0]
    assert row.IsActive is True and row.TaskName == "Load Employees"
    with pytest.raises(NotFoundError, match="task_id=7"):
        process.deactivate_task("CORP", "HR_DAILY", 7, 1)


@pytest.mark.parametrize(
    "method, args, kwargs, message",
    ON_AN_ENGINE,
    ids=[f"{c[0]}-{c[3][:20]}" for c in ON_AN_ENGINE],
)
def test_invalid_argument_raises_before_any_write(
    process: ETLMonitorFramework, method, args, kwargs, message
):
    _task(process)
    before = snapshot(process)
    with pytest.raises(InvalidArgumentError, match=message) as info:
        getattr(process, method)(*args, **kwargs)
    assert isinstance(info.value, ValueError)
    assert f"{method}()" in str(info.value)
    assert snapshot(process) == before


def test_invalid_error_names_argument_and_value(process: ETLMonitorFramework):
    with pytest.raises(InvalidArgumentError) as info:
        process.register_process("CORP", "HR_DAILY", load_frequency="Q")
    assert info.value.argument == "load_frequency" and info.value.value == "Q"
    assert "'Q'" in str(info.value)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda m: m.register_task("CORP", "NOPE", task_id=1, workflow_id=1, sequence_id=2),
            "CORP/NOPE is not registered",
        ),
        (
            lambda m: m.register_task("CORP", "HR_DAILY", task_id=1, workflow_id=1, sequence_id=8),
            "sequence_id=8",
        ),
        (
            lambda m: m.register_parameter("XX", "HR_DAILY", "W1", "FLAG"),
            "XX/HR_DAILY is not registered",
        ),
    ],
)
def test_unknown_references_raise_not_found(process: ETLMonitorFramework, call, message):
    before = snapshot(process)
    with pytest.raises(NotFoundError, match=message):
        call(process)
    assert snapshot(process) == before


def test_custom_stage_allows_tasks(process: ETLMonitorFramework, spark):
    process.register_sequence(12, "EXPORT", "Partner export")
    _task(process, sequence_id=12)
    assert spark.table(process.table_name("ETLconfigTasks")).collect()[0].SequenceID == 12
