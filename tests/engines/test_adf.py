"""The ADF artefacts in sql/adf/: ADF's JSON shapes, references and expressions, and simulated runs.

Shapes and rules checked against Microsoft Learn:

- Git-mode repository layout (one ``{name, properties}`` file per resource under
  ``pipeline/``, ``dataset/``, ``linkedService/``):
  https://learn.microsoft.com/azure/data-factory/source-control
- ARM templates of a factory (``Microsoft.DataFactory/factories/...`` resources, apiVersion
  2018-06-01, ``factoryName``):
  https://learn.microsoft.com/azure/data-factory/continuous-integration-delivery-resource-manager-custom-parameters
  https://learn.microsoft.com/azure/templates/microsoft.datafactory/2018-06-01/factories/pipelines
- Activities: https://learn.microsoft.com/azure/data-factory/control-flow-lookup-activity,
  .../control-flow-for-each-activity, .../control-flow-if-condition-activity,
  .../control-flow-execute-pipeline-activity, .../control-flow-fail-activity,
  .../control-flow-set-variable-activity, .../copy-activity-overview,
  .../transform-data-databricks-notebook (``notebookPath``, ``baseParameters``,
  ``libraries``, ``runOutput``)
- Linked services and datasets: .../connector-azure-databricks-delta-lake,
  .../compute-linked-services#azure-databricks-linked-service,
  .../store-credentials-in-key-vault, .../connector-azure-data-lake-storage,
  .../format-binary
- Expressions and dependency conditions: .../control-flow-expression-language-functions,
  .../tutorial-pipeline-failure-error-handling
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from etl_monitor.integrations import samples
from etl_monitor.integrations import sql_files as sqlfiles
from etl_monitor.integrations.adf import pipelines
from tests.adf_simulator import (
    ActivityRun,
    Call,
    Context,
    Factory,
    PipelineRun,
    expression_text,
    parse_expression,
)
from tests.helpers import rows
from tests.schemas import copied
from tests.unit.test_adf import (
    ADF,
    DAY,
    NOTEBOOKS,
    PROCESS,
    PROJECT,
    _children,
    _shipped,
    _walk,
)

USER = "someone@example.com"
PIPELINE_SYSTEM = {"RunId", "Pipeline", "DataFactory", "TriggerTime", "TriggerType", "GroupId"}


def _own(activity: dict) -> dict:
    """An activity without its inner activities (what its own expressions live in)."""
    props = {
        k: v
        for k, v in activity.get("typeProperties", {}).items()
        if k not in ("activities", "ifTrueActivities", "ifFalseActivities")
    }
    return {**activity, "typeProperties": props}


def _expressions(value: Any) -> list[str]:
    """Every expression text inside a JSON value."""
    text = expression_text(value)
    if text is not None:
        return [text]
    if isinstance(value, dict):
        return [e for v in value.values() for e in _expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in _expressions(v)]
    if isinstance(value, str) and "@{" in value:
        return [value]
    return []


def _chains(node: tuple) -> list[tuple[tuple, list]]:
    """(root node, [property names / index values]) of every access chain in a syntax tree."""
    if node[0] in ("prop", "index"):
        path, root = [], node
        while root[0] in ("prop", "index"):
            path.insert(
                0, root[2] if root[0] == "prop" else root[2][1] if root[2][0] == "lit" else None
            )
            root = root[1]
        out = [(root, path)]
        if root[0] == "call":
            out += [c for arg in root[2] for c in _chains(arg)]
        index_nodes = []
        walker = node
        while walker[0] in ("prop", "index"):
            if walker[0] == "index":
                index_nodes.append(walker[2])
            walker = walker[1]
        return out + [c for n in index_nodes for c in _chains(n)]
    if node[0] == "call":
        return [(node, [])] + [c for arg in node[2] for c in _chains(arg)]
    return []


def _exit_keys(notebook: str) -> set[str]:
    """Keys of the JSON object a utility notebook exits with (its last cell)."""
    last = (NOTEBOOKS / f"{notebook}.py").read_text().split("# COMMAND ----------")[-1]
    return set(re.findall(r'"(\w+)":', last))


def _lookup_columns(monitor) -> dict[str, list[str]]:
    """The columns each rendered Lookup query returns, run on the engine."""
    key = {"project_code": PROJECT, "process_load": PROCESS}
    args = {
        "lookup_pending_tasks": {**key, "execution_id": "e", "sequence_id": 2},
        "lookup_watermark": {**key, "parameter_name": "W1"},
        "lookup_mandatory_blockers": {**key, "execution_id": "e"},
        "lookup_stage_outcome": {**key, "execution_id": "e", "sequence_id": 2},
    }
    return {
        name: monitor.executor.dataframe(
            sqlfiles.adf_lookup(name, monitor.catalog, monitor.schema), args[name]
        ).columns
        for name in sqlfiles.ADF_LOOKUPS
    }


def _query_name(query: str) -> str:
    """Which rendered Lookup query an activity's query text is."""
    for name in sqlfiles.ADF_LOOKUPS:
        rendered = sqlfiles.adf_lookup(name, pipelines.CATALOG, pipelines.SCHEMA)
        if pipelines.adf_query(rendered)["value"] == query:
            return name
    raise AssertionError(f"not a rendered Lookup query: {query[:80]}")


def _allowed(container: list[dict], outer: set[str]) -> dict[str, set[str]]:
    """Activity name -> the activities its expressions may name: upstream, or enclosing scopes'."""
    parents = {a["name"]: {d["activity"] for d in a.get("dependsOn", [])} for a in container}
    out: dict[str, set[str]] = {}
    for activity in container:
        upstream, todo = set(), list(parents[activity["name"]])
        while todo:
            name = todo.pop()
            if name not in upstream:
                upstream.add(name)
                todo += parents[name]
        out[activity["name"]] = upstream | outer
        for inner in _children(activity):
            out |= _allowed(inner, upstream | outer)
    return out


def test_expressions_name_upstream_activities_declared_parameters_and_real_columns(monitor):
    columns = _lookup_columns(monitor)
    shipped = _shipped()
    checked = {"activity": 0, "column": 0, "item": 0, "parameter": 0, "runOutput": 0}
    for pipeline_name, body in shipped["pipeline"].items():
        props = body["properties"]
        activities = {a["name"]: a for a in _walk(props["activities"])}
        allowed = _allowed(props["activities"], set())
        lookups = {
            n: _query_name(a["typeProperties"]["source"]["query"]["value"])
            for n, a in activities.items()
            if a["type"] == "Lookup"
        }
        foreach_items = {}  # activity inside a ForEach -> the Lookup its items come from
        for activity in activities.values():
            if activity["type"] == "ForEach":
                source = re.match(
                    r"@activity\('(\w+)'\)\.output\.value$",
                    activity["typeProperties"]["items"]["value"],
                )
                for inner in _walk(activity["typeProperties"]["activities"]):
                    foreach_items[inner["name"]] = source.group(1) if source else None
        for name, activity in activities.items():
            for text in _expressions(_own(activity)):
                for tree in parse_expression(text):
                    for root, path in _chains(tree):
                        fn, args = root[1], root[2]
                        where = (pipeline_name, name, text)
                        if fn == "activity":
                            target = args[0][1]
                            assert target in allowed[name], ("not upstream", *where)
                            checked["activity"] += 1
                            if path[:2] == ["output", "firstRow"]:
                                assert path[2] in columns[lookups[target]], where
                                checked["column"] += 1
                            if path[:2] == ["output", "value"]:
                                assert not activities[target]["typeProperties"]["firstRowOnly"]
                            if path and path[0] == "error":  # read only on a failure path
                                on_failure = {
                                    d["activity"]
                                    for a in [activity, *(activities[u] for u in allowed[name])]
                                    for d in a.get("dependsOn", [])
                                    if "Failed" in d["dependencyConditions"]
                                }
                                assert target in on_failure, ("error read", *where)
                        elif fn == "pipeline":
                            if path[0] == "parameters":
                                assert path[1] in props["parameters"], where
                                checked["parameter"] += 1
                            else:
                                assert path[0] in PIPELINE_SYSTEM, where
                        elif fn == "variables":
                            assert args[0][1] in props.get("variables", {}), where
                        elif fn == "item":
                            assert name in foreach_items, ("item() outside a ForEach", *where)
                            source = foreach_items[name]
                            if path:
                                assert source is not None, where
                                assert path[0] in columns[lookups[source]], where
                                checked["item"] += 1
                        elif fn == "json" and path:
                            (inner_root, inner_path) = _chains(args[0][2][0])[0]
                            assert inner_root[1] == "activity" and inner_path == [
                                "output",
                                "runOutput",
                            ]
                            target = activities[inner_root[2][0][1]]
                            notebook = re.search(
                                r"'/(\w+)'\)$", target["typeProperties"]["notebookPath"]["value"]
                            ).group(1)
                            assert path[0] in _exit_keys(notebook), where
                            checked["runOutput"] += 1
                        elif fn in ("linkedService", "dataset"):
                            raise AssertionError(f"{fn}() in a pipeline: {where}")
    for folder in ("linkedService", "dataset"):
        for name, body in shipped[folder].items():
            declared = body["properties"].get("parameters") or {}
            own = "linkedService" if folder == "linkedService" else "dataset"
            for text in _expressions(
                {k: v for k, v in body["properties"].items() if k != "parameters"}
            ):
                for tree in parse_expression(text):
                    for root, path in _chains(tree):
                        if root[1] in ("linkedService", "dataset"):
                            assert root[1] == own and path[0] in declared, (name, text)
    assert checked["activity"] >= 15 and checked["column"] >= 4 and checked["item"] > 10
    assert checked["parameter"] > 40 and checked["runOutput"] == 4


def test_default_notebook_folder_is_where_sample_usage_copies(monitor):
    from tests.emulator import DatabricksEmulator

    ctx = Context(pipeline={"parameters": {"NotebookFolder": "", "DatabricksUser": USER}})
    default = ctx.text(pipelines.FOLDER_EXPRESSION)
    with DatabricksEmulator() as emulator:
        folder = monitor.sample_usage(emulator.client())
    assert default == folder == samples.user_folder(USER)
    ctx.pipeline["parameters"]["NotebookFolder"] = "/Shared/etl"
    assert ctx.text(pipelines.FOLDER_EXPRESSION) == "/Shared/etl"


# ------------------------------------------------------------------ simulated runs


def register_copies(monitor) -> None:
    """CORP/HR_DAILY as file copies: stage 2 loads 1 (mandatory) to 4, stage 3 task 9.

    Tasks 1, 2 and 4 have DELTA_DATE watermarks W1, W2, W4; task 3 and 9 have none.
    """
    import yaml

    from etl_monitor.tracking import catalogue

    def task(n: int, stage: int, mandatory: bool = False) -> dict:
        return {
            "task_id": n,
            "workflow_id": 1,
            "sequence_id": stage,
            "task_name": f"Load {n}",
            "source_type": "ADF_PIPELINE",
            "source_system_code": f"W{n}",
            "task_mandatory": mandatory,
            "file_name_mask": f"load{n}_" + "{yyyyMMdd}",
            "file_extension": ".csv",
            "in_file_path": "abfss://raw@lake.dfs.core.windows.net/hr/",
            "out_file_path": "abfss://landing@lake.dfs.core.windows.net/hr/in/",
        }

    process = {
        "project_code": PROJECT,
        "process_load": PROCESS,
        "name": "HR Daily Load",
        "tasks": [
            {
                "task_id": 0,
                "workflow_id": 0,
                "sequence_id": 0,
                "task_name": "Initiation",
                "task_mandatory": False,
            },
            task(1, 2, mandatory=True),
            task(2, 2),
            task(3, 2),
            task(4, 2),
            task(9, 3),
        ],
        "parameters": [
            {
                "parameter_name": f"W{n}",
                "parameter_type": "DELTA_DATE",
                "value_datetime": "2026-04-01T06:00:00+00:00",
            }
            for n in (1, 2, 4)
        ],
    }
    doc = yaml.safe_dump({"version": 1, "processes": [process]}, sort_keys=False)
    catalogue.apply(monitor.context, catalogue.load(doc))


@pytest.fixture
def copies(spark, catalog):
    """A set-up schema with `register_copies` applied: a copy of this worker's template."""
    return copied(spark, catalog, "adf_copies", register_copies)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@pytest.fixture
def factory_for(spark, tmp_path):
    """A simulated factory over the shipped files, its notebooks where sample_usage() puts them."""
    local = Path(samples.copy_to_folder(tmp_path / "workspace"))
    workspace = {f"{samples.user_folder(USER)}/{p.stem}": p for p in local.glob("*.py")}

    def query(sql: str) -> list[dict]:
        return [
            {k: _json_value(v) for k, v in r.asDict().items()} for r in spark.sql(sql).collect()
        ]

    def make(**options: Any) -> Factory:
        return Factory(ADF, query=query, spark=spark, workspace=workspace, **options)

    return make


def _parameters(monitor, stages: list[int], **extra: Any) -> dict[str, Any]:
    return {
        "ProjectCode": PROJECT,
        "ProcessLoad": PROCESS,
        "ProcessingDate": DAY,
        "Catalog": monitor.catalog,
        "Schema": monitor.schema,
        "Stages": stages,
        "DatabricksUser": USER,
        "DatabricksWorkspaceUrl": "https://adb-1234567890123456.7.azuredatabricks.net",
        "KeyVaultUrl": "https://etl-vault.vault.azure.net/",
        "LookupClusterId": "0409-060000-abcdefgh",
        **extra,
    }


def _steps(monitor, run: PipelineRun) -> dict[int, dict]:
    return {r["TaskID"]: r for r in rows(monitor, "ETLProcessingSteps", ExecutionID=run.run_id)}


def _task(item: Any) -> int | None:
    """The TaskID of a ForEach item, of a `Call`'s item, or None."""
    if isinstance(item, Call):
        item = item.item
    return item.get("TaskID") if isinstance(item, dict) else None


def _ran(run: PipelineRun, name: str) -> list[ActivityRun]:
    return [a for a in run.all_activities() if a.name == name and a.status != "Skipped"]


def test_simulated_run_stages_in_order_optional_failure_inactive_and_no_watermark(
    copies, factory_for
):
    monitor = copies

    def deactivate(call: Call) -> None:  # task 4 is switched off after the stage's Lookup
        if _task(call) == 4:
            monitor.deactivate_task(PROJECT, PROCESS, task_id=4, workflow_id=1)

    factory = factory_for(
        faults={"CopyTaskFile": lambda item: _task(item) == 2}, before={"StartTask": deactivate}
    )
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, [2, 3]))
    assert run.status == "Succeeded", run.error
    steps = _steps(monitor, run)
    status = {task: row["Status"] for task, row in steps.items()}
    assert status == {0: "DONE", 1: "DONE", 2: "FAIL", 3: "DONE", 4: "NQUE", 9: "DONE"}
    assert "injected fault in CopyTaskFile" in steps[2]["LogMessage"]
    # Stage order: every stage-2 step ended before the stage-3 step started.
    assert max(steps[t]["EndTime"] for t in (1, 2, 3)) <= steps[9]["StartTime"]
    assert [a.inputs["parameters"]["SequenceID"] for a in _ran(run, "RunStage")] == [2, 3]
    # The inactive task: started (runOutput.active false), never copied nor ended.
    (start4,) = [a for a in _ran(run, "StartTask") if _task(a.item) == 4]
    assert start4.output["runOutput"]["active"] is False
    copied = {_task(c.item): c for c in factory.copies}
    assert set(copied) == {1, 3, 9}
    # The task without a watermark ran with no modified-since filter; task 1 from W1.
    assert copied[3].source["settings"]["storeSettings"]["modifiedDatetimeStart"] is None
    assert copied[1].source["settings"]["storeSettings"]["modifiedDatetimeStart"] == (
        "2026-04-01T06:00:00.000Z"
    )
    source, sink = copied[1].source, copied[1].sink
    assert (source["linkedService"]["url"], source["location"]["fileSystem"]) == (
        "https://lake.dfs.core.windows.net",
        "raw",
    )
    assert (source["location"]["folderPath"], source["location"]["fileName"]) == (
        "hr/",
        "load1_20260409.csv",
    )
    assert (sink["location"]["fileSystem"], sink["location"]["folderPath"]) == ("landing", "hr/in/")
    # Every notebook ran from the sample_usage() folder with the library installed.
    assert {path.rsplit("/", 1)[0] for _, path, _, _ in factory.notebooks} == {
        samples.user_folder(USER)
    }
    assert all(
        libs == [{"pypi": {"package": "lakehouse-etl-monitor"}}]
        for _, _, _, libs in factory.notebooks
    )
    marks = {r["ParameterName"]: r for r in rows(monitor, "v_watermarks", ProjectCode=PROJECT)}
    assert marks["W1"]["LastExecutionID"] == run.run_id  # DONE advanced the watermark
    assert marks["W2"]["LastExecutionID"] != run.run_id  # FAIL did not


def test_simulated_mandatory_failure_stops_later_stages_and_faults_never_leave_running(
    copies, factory_for
):
    monitor = copies

    def started_then_lost(call: Call) -> None:  # the notebook recorded RUNNING, the activity failed
        if _task(call) == 2:
            execution = call.parameters["ExecutionID"]
            monitor.start_task(execution, PROJECT, PROCESS, task_id=2, workflow_id=1)

    faults = {
        "StartTask": lambda item: _task(item) == 2,
        "GetWatermark": lambda item: _task(item) == 3,
        "EndTask": lambda item: _task(item) == 4,
        "CopyTaskFile": lambda item: _task(item) == 1,  # the mandatory task
    }
    factory = factory_for(faults=faults, before={"StartTask": started_then_lost})
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, [2, 3]))
    assert run.status == "Failed"
    steps = _steps(monitor, run)
    status = {task: row["Status"] for task, row in steps.items()}
    assert status == {0: "FAIL", 1: "FAIL", 2: "FAIL", 3: "FAIL", 4: "FAIL", 9: "NQUE"}
    for task, activity in (
        (1, "CopyTaskFile"),
        (2, "StartTask"),
        (3, "GetWatermark"),
        (4, "EndTask"),
    ):
        assert f"injected fault in {activity}" in steps[task]["LogMessage"], task
    assert "RUNNING" not in status.values()
    # Stage 3 was not run: no stage runs after a failed one.
    assert [c.parameters["SequenceID"] for c in run.children] == [2]
    assert not [a for a in _ran(run, "StartTask") if _task(a.item) == 9]
    assert "mandatory" in steps[0]["LogMessage"]
    # Nor does the stage pipeline run alone: it fails before its Lookup of pending tasks.
    stage3 = factory.run(pipelines.STAGE_PIPELINE, {**run.children[0].parameters, "SequenceID": 3})
    assert stage3.status == "Failed" and stage3.error["errorCode"] == "ETL_MANDATORY_FAILED"
    assert [a.name for a in stage3.activities if a.status != "Skipped"] == [
        "CheckBlockers",
        "StopIfBlocked",
        "StageBlocked",
    ]


def test_simulated_unstarted_mandatory_task_fails_the_stage_and_the_run(copies, factory_for):
    monitor = copies
    # No cluster for the mandatory task: its start and its fail notebook both fail, so its
    # step is never marked FAIL (it stays queued) and no failed mandatory task is counted.
    only_task_1 = {"StartTask": lambda c: _task(c) == 1, "StartTaskFailed": lambda c: _task(c) == 1}
    factory = factory_for(faults=only_task_1)
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, [2, 3]))
    assert run.status == "Failed"
    status = {task: row["Status"] for task, row in _steps(monitor, run).items()}
    assert status == {0: "FAIL", 1: "NQUE", 2: "DONE", 3: "DONE", 4: "DONE", 9: "NQUE"}
    (stage2,) = run.children  # stage 3 never ran
    assert (stage2.parameters["SequenceID"], stage2.status) == (2, "Failed")
    assert stage2.error["errorCode"] == "ETL_MANDATORY_FAILED"
    assert "0 mandatory task(s) of execution" in stage2.error["message"]
    assert "1 mandatory task(s) of the stage not finished" in stage2.error["message"]
    assert not _ran(run, "EndExecution") and len(_ran(run, "ExecutionFailed")) == 1
    assert not [a for a in _ran(run, "StartTask") if _task(a.item) == 9]


def test_simulated_execution_whose_initiation_step_is_taken_runs_no_stage(copies, factory_for):
    monitor = copies

    def taken(call: Call) -> None:  # another starter already ran the initiation step to DONE
        monitor.generate_execution_steps(call.run_id, PROJECT, PROCESS, DAY)
        with monitor.task(call.run_id, PROJECT, PROCESS, task_id=0, workflow_id=0):
            pass

    factory = factory_for(before={"StartExecution": taken})
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, [2, 3]))
    assert run.status == "Failed" and run.error["errorCode"] == "ETL_NOT_STARTED"
    assert "already DONE" in run.error["message"], run.error
    (start,) = _ran(run, "StartExecution")
    assert start.output["runOutput"]["active"] is False
    assert run.children == [] and factory.lookups == [] and factory.copies == []
    assert not _ran(run, "EndExecution") and not _ran(run, "ExecutionFailed")
    status = {task: row["Status"] for task, row in _steps(monitor, run).items()}
    assert status == {0: "DONE", 1: "NQUE", 2: "NQUE", 3: "NQUE", 4: "NQUE", 9: "NQUE"}


@pytest.mark.parametrize(
    "fault", ["StartExecution", "CheckBlockers", "GetPendingTasks", "EndExecution"]
)
def test_simulated_fault_outside_a_task_fails_the_execution_step(copies, factory_for, fault):
    monitor = copies

    def opened(call: Call) -> None:  # the notebook queued the steps and started 0/0, then failed
        monitor.generate_execution_steps(call.run_id, PROJECT, PROCESS, DAY)
        monitor.start_task(call.run_id, PROJECT, PROCESS, task_id=0, workflow_id=0)

    factory = factory_for(
        faults={fault: None}, before={"StartExecution": opened} if fault == "StartExecution" else {}
    )
    stages = {"CheckBlockers": [2], "GetPendingTasks": [2], "EndExecution": [1]}.get(fault, [])
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, stages))
    assert run.status == "Failed"
    status = {task: row["Status"] for task, row in _steps(monitor, run).items()}
    assert status == {0: "FAIL", 1: "NQUE", 2: "NQUE", 3: "NQUE", 4: "NQUE", 9: "NQUE"}
    assert f"injected fault in {fault}" in _steps(monitor, run)[0]["LogMessage"]


def test_simulated_job_cluster_without_the_library_cannot_import_it(copies, factory_for):
    monitor = copies
    factory = factory_for()
    run = factory.run(
        pipelines.PROCESS_PIPELINE, _parameters(monitor, [], LibraryPackage="another-package")
    )
    assert run.status == "Failed"
    (start,) = _ran(run, "StartExecution")
    assert "No module named 'etl_monitor'" in start.error["message"]
    assert _steps(monitor, run) == {} and factory.lookups == []


def test_simulated_codes_are_validated_before_any_lookup(copies, factory_for):
    monitor = copies
    factory = factory_for()
    folder = samples.user_folder(USER)
    parameters = _parameters(monitor, [2], ProjectCode="CORP' OR '1'='1", NotebookFolder=folder)
    del parameters["DatabricksUser"]  # not needed with a NotebookFolder
    run = factory.run(pipelines.PROCESS_PIPELINE, parameters)
    assert run.status == "Failed"
    (start,) = _ran(run, "StartExecution")
    assert "project_code" in start.error["message"]
    assert start.inputs["notebookPath"] == f"{folder}/etl_start_task"
    assert factory.lookups == [] and factory.copies == []
    # Neither a NotebookFolder nor a DatabricksUser: the run fails before any notebook.
    unset = factory.run(pipelines.PROCESS_PIPELINE, {**parameters, "NotebookFolder": ""})
    assert unset.status == "Failed" and unset.error["errorCode"] == "ETL_NO_NOTEBOOK_FOLDER"
    assert "NotebookFolder and DatabricksUser are both empty" in unset.error["message"]
    assert not _ran(unset, "StartExecution") and len(factory.notebooks) == 2
