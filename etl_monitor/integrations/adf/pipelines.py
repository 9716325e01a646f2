"""The two ADF pipelines over the utility notebooks and the Lookup queries, in ADF's JSON.

``pl_etl_monitor_process`` is what a trigger runs: it works out the notebook folder
(``NotebookFolder``, else ``DatabricksUser``'s; it fails when both are empty), opens the
execution with ``etl_start_task`` on the initiation task (0/0, which also queues the
steps; its run id is the execution id) and fails, recording nothing more, when the start
notebook's ``runOutput`` says the initiation task is not active (deactivated, or its step
already taken); else it runs the stages in order through ``pl_etl_monitor_stage`` and
closes the execution with ``etl_end_task``, or ``etl_fail_task`` when a stage failed. ADF's
sequential ForEach goes on with its next items after a failed one, so each iteration runs
its stage only while no earlier stage failed (a pipeline variable records the failure).

``pl_etl_monitor_stage`` is run by the process pipeline only (it relies on the process
pipeline's validation of its parameters). It first counts the execution's failed
mandatory tasks and fails (a ``Fail`` activity) when there is one; then
it looks up the stage's pending tasks and, for each in parallel, starts the step, and
only when the start notebook's ``runOutput`` says the task is active reads its watermark
(a Lookup that always returns one row), copies the task's file and ends the step. A
failure anywhere after the start (the Lookup, the Copy, the end notebook) records FAIL
through ``etl_fail_task``. After the tasks (whatever their outcome: a failed iteration is
handled there) it fails the stage, hence the run, when the execution has a failed
mandatory task or a mandatory task of the stage is neither finished nor failed (queued or
RUNNING: its start and its fail notebook both failed, say because no cluster started).

Only values the library constrains are written into Lookup query text: the project and
process codes and the catalog and schema (validated by the start notebook before any
Lookup runs), the execution id (the process pipeline's own run id), the stage (an
integer) and a watermark name (validated by the registry). Paths reach the Copy only as
dataset parameters.
"""

from __future__ import annotations

import re
from typing import Any

from etl_monitor.errors import InvalidArgumentError
from etl_monitor.integrations.adf import resources as res
from etl_monitor.integrations.samples import SAMPLE_FOLDER, WORKSPACE_USERS

PROCESS_PIPELINE = "pl_etl_monitor_process"
STAGE_PIPELINE = "pl_etl_monitor_stage"
P = "pipeline().parameters"
#: Lookup queries are rendered with these names, then pointed at the pipeline's Catalog and Schema.
CATALOG, SCHEMA = "adf_catalog", "adf_schema"
#: The distribution the notebook activities install on their cluster.
LIBRARY = "lakehouse-etl-monitor"

#: Parameters both pipelines take (name, type, default; no default means required).
SHARED_PARAMETERS: tuple[tuple[str, str, Any], ...] = (
    ("ProjectCode", "string", "CORP"),
    ("ProcessLoad", "string", "HR_DAILY"),
    ("ProcessingDate", "string", ""),
    ("Catalog", "string", "main"),
    ("Schema", "string", "etl"),
    ("LibraryPackage", "string", LIBRARY),
    ("DatabricksWorkspaceUrl", "string", None),
    ("KeyVaultUrl", "string", None),
    ("DatabricksTokenSecret", "string", "databricks-token"),
    ("LookupClusterId", "string", None),
    ("JobClusterVersion", "string", res.JOB_CLUSTER_DEFAULTS["ClusterVersion"]),
    ("JobClusterNodeType", "string", res.JOB_CLUSTER_DEFAULTS["NodeType"]),
    ("JobClusterWorkers", "string", res.JOB_CLUSTER_DEFAULTS["Workers"]),
    ("JobClusterDataSecurityMode", "string", res.DATA_SECURITY_MODE),
    ("NotebookClusterId", "string", ""),
)
PROCESS_PARAMETERS: tuple[tuple[str, str, Any], ...] = (
    ("Stages", "array", [1, 2, 3, 4, 5, 6]),
    ("DatabricksUser", "string", ""),
    ("NotebookFolder", "string", ""),
)
STAGE_PARAMETERS: tuple[tuple[str, str, Any], ...] = (
    ("ExecutionID", "string", None),
    ("SequenceID", "int", None),
    ("NotebookFolder", "string", None),
)

#: Each notebook linked-service parameter -> the pipeline parameter that fills it in (every
#: one, for both notebook linked services, so either can be referenced).
NOTEBOOK_LS_VALUES = {
    "WorkspaceUrl": "DatabricksWorkspaceUrl",
    "VaultUrl": "KeyVaultUrl",
    "TokenSecretName": "DatabricksTokenSecret",
    "ClusterVersion": "JobClusterVersion",
    "NodeType": "JobClusterNodeType",
    "Workers": "JobClusterWorkers",
    "DataSecurityMode": "JobClusterDataSecurityMode",
    "ClusterId": "NotebookClusterId",
}

#: How each Lookup marker is filled in from ADF (stage pipeline scope).
MARKERS = {
    "project_code": f"'@{{{P}.ProjectCode}}'",
    "process_load": f"'@{{{P}.ProcessLoad}}'",
    "execution_id": f"'@{{{P}.ExecutionID}}'",
    "sequence_id": f"@{{int({P}.SequenceID)}}",
    "parameter_name": "'@{item().WatermarkName}'",
}

#: The process pipeline's notebook folder: NotebookFolder, else where sample_usage() puts
#: the notebooks for DatabricksUser.
FOLDER_EXPRESSION = (
    f"@if(empty({P}.NotebookFolder), concat('{WORKSPACE_USERS}/', {P}.DatabricksUser, "
    f"'/{SAMPLE_FOLDER}'), {P}.NotebookFolder)"
)


def expression(value: str) -> dict[str, str]:
    """ADF dynamic content.

    Args:
        value: the expression text (``@...`` or text with ``@{...}`` interpolations).

    Returns:
        ``{"value": value, "type": "Expression"}``.
    """
    return {"value": value, "type": "Expression"}


def adf_query(query: str) -> dict[str, str]:
    """A Lookup query as ADF dynamic content: each ``:marker`` becomes an interpolation.

    Args:
        query: a Lookup query rendered for `CATALOG` and `SCHEMA`, with ``:name`` markers.

    Returns:
        The query as dynamic content reading the stage pipeline's parameters.

    Raises:
        InvalidArgumentError: a marker has no ADF value (the allowed ones are `MARKERS`).
    """

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in MARKERS:
            raise InvalidArgumentError(
                f"Lookup marker :{name} has no ADF value; allowed are "
                + ", ".join(f":{m}" for m in MARKERS),
                argument="query",
                value=name,
            )
        return MARKERS[name]

    text = re.sub(r":([a-z_]+)", fill, query)
    text = text.replace(f"`{CATALOG}`", f"`@{{{P}.Catalog}}`").replace(
        f"`{SCHEMA}`", f"`@{{{P}.Schema}}`"
    )
    return expression(text)


def _after(activity: str, condition: str = "Succeeded") -> list[dict[str, Any]]:
    return [{"activity": activity, "dependencyConditions": [condition]}]


def _parameters(spec: tuple[tuple[str, str, Any], ...]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, kind, default in spec:
        out[name] = {"type": kind} if default is None else {"type": kind, "defaultValue": default}
    return out


def _lookup(
    name: str, query: str, first_row_only: bool, depends: list[dict] | None = None
) -> dict[str, Any]:
    dataset_parameters = {
        "WorkspaceUrl": expression(f"@{P}.DatabricksWorkspaceUrl"),
        "VaultUrl": expression(f"@{P}.KeyVaultUrl"),
        "TokenSecretName": expression(f"@{P}.DatabricksTokenSecret"),
        "ClusterId": expression(f"@{P}.LookupClusterId"),
    }
    return {
        "name": name,
        "type": "Lookup",
        "dependsOn": depends or [],
        "typeProperties": {
            "source": {"type": "AzureDatabricksDeltaLakeSource", "query": adf_query(query)},
            "dataset": res.reference(res.LOOKUP_DATASET, "DatasetReference", dataset_parameters),
            "firstRowOnly": first_row_only,
        },
    }


def _notebook(
    name: str,
    notebook: str,
    folder: str,
    params: dict[str, str],
    depends: list[dict] | None = None,
) -> dict[str, Any]:
    ls_parameters = {
        name: expression(f"@{P}.{NOTEBOOK_LS_VALUES[name]}") for name in res.NOTEBOOK_LS_PARAMETERS
    }
    return {
        "name": name,
        "type": "DatabricksNotebook",
        "dependsOn": depends or [],
        "linkedServiceName": res.reference(
            res.NOTEBOOK_LINKED_SERVICE, "LinkedServiceReference", ls_parameters
        ),
        "typeProperties": {
            "notebookPath": expression(f"@concat({folder}, '/{notebook}')"),
            "baseParameters": {
                k: v if not v.startswith("@") else expression(v) for k, v in params.items()
            },
            "libraries": [{"pypi": {"package": f"@{P}.LibraryPackage"}}],
        },
    }


def _step_params(task: str, workflow: str, sequence: str, execution: str) -> dict[str, str]:
    return {
        "catalog": f"@{P}.Catalog",
        "schema": f"@{P}.Schema",
        "execution_id": execution,
        "project_code": f"@{P}.ProjectCode",
        "process_load": f"@{P}.ProcessLoad",
        "task_id": task,
        "workflow_id": workflow,
        "sequence_id": sequence,
        "processing_date": f"@{P}.ProcessingDate",
        "source_type": "ADF_PIPELINE",
    }


def _failed(activity: str) -> dict[str, str]:
    """The fail notebook's log widgets for a failed activity (its error, verbatim)."""
    return {
        "log_message": f"@activity('{activity}').error.message",
        "log_type": "ERROR",
        "log_code": f"@activity('{activity}').error.errorCode",
    }


def _stop_on_blockers(
    lookup: str, name: str, fail: str, when: str, depends: list[dict], unfinished: bool = False
) -> dict[str, Any]:
    """An IfCondition failing the stage on the Lookup's ``Blockers`` (and ``Unfinished``)."""
    row = f"activity('{lookup}').output.firstRow"
    blockers = f"{row}.Blockers"
    condition = f"greater(int({blockers}), 0)"
    message = (
        f"@concat('stage ', string({P}.SequenceID), ' {when}: ', string({blockers}), "
        f"' mandatory task(s) of execution ', {P}.ExecutionID, ' failed')"
    )
    if unfinished:
        condition = f"or({condition}, greater(int({row}.Unfinished), 0))"
        message = (
            f"{message[:-1]}, ', ', string({row}.Unfinished), "
            "' mandatory task(s) of the stage not finished (queued or running)')"
        )
    return _fail_if(name, fail, f"@{condition}", message, "ETL_MANDATORY_FAILED", depends)


def _fail_if(
    name: str, fail: str, condition: str, message: str, code: str, depends: list[dict]
) -> dict[str, Any]:
    """An IfCondition whose true branch is one ``Fail`` activity (the run fails, clearly)."""
    return {
        "name": name,
        "type": "IfCondition",
        "dependsOn": depends,
        "typeProperties": {
            "expression": expression(condition),
            "ifTrueActivities": [
                {
                    "name": fail,
                    "type": "Fail",
                    "dependsOn": [],
                    "typeProperties": {
                        "message": expression(message) if message.startswith("@") else message,
                        "errorCode": code,
                    },
                }
            ],
        },
    }


def _file(path_field: str) -> dict[str, dict[str, str]]:
    """The file dataset parameters of a task's path, ``abfss://<fs>@<account host>/<folder>``."""
    path = f"item().{path_field}"
    host_and_folder = f"split(last(split({path}, '@')), '/')"
    return {
        "StorageUrl": expression(f"@concat('https://', first({host_and_folder}))"),
        "FileSystem": expression(f"@last(split(first(split({path}, '@')), '/'))"),
        "FolderPath": expression(f"@join(skip({host_and_folder}, 1), '/')"),
        "FileName": expression("@item().FullFileName"),
    }


def _copy(depends: list[dict]) -> dict[str, Any]:
    # Files modified since the watermark (UTC); no filter without a DELTA_DATE watermark.
    # json('null') is the expression language's null (it has no null literal).
    row = "activity('GetWatermark').output.firstRow"
    since = (
        f"@if(equals({row}.ParameterType, 'DELTA_DATE'), concat({row}.ActiveValue, 'Z'), "
        "json('null'))"
    )
    return {
        "name": "CopyTaskFile",
        "type": "Copy",
        "dependsOn": depends,
        "inputs": [res.reference(res.SOURCE_DATASET, "DatasetReference", _file("InFilePath"))],
        "outputs": [res.reference(res.LANDING_DATASET, "DatasetReference", _file("OutFilePath"))],
        "typeProperties": {
            "source": {
                "type": "BinarySource",
                "storeSettings": {
                    "type": "AzureBlobFSReadSettings",
                    "recursive": False,
                    "modifiedDatetimeStart": expression(since),
                },
            },
            "sink": {"type": "BinarySink", "storeSettings": {"type": "AzureBlobFSWriteSettings"}},
        },
    }


def stage_pipeline(lookups: dict[str, str]) -> dict[str, Any]:
    """``pl_etl_monitor_stage`` as an ADF Git-mode file.

    Args:
        lookups: the Lookup queries by name, rendered for `CATALOG` and `SCHEMA`.

    Returns:
        ``{"name": "pl_etl_monitor_stage", "properties": {...}}``.
    """
    folder = f"{P}.NotebookFolder"
    item = _step_params(
        "@string(item().TaskID)",
        "@string(item().WorkFlowID)",
        "@string(item().SequenceID)",
        f"@{P}.ExecutionID",
    )
    run_output = "json(string(activity('StartTask').output.runOutput))"
    copied = (
        "@concat('copied ', string(activity('CopyTaskFile').output.filesWritten), ' file(s) to ', "
        "item().OutFilePath)"
    )
    task_activities = [
        _notebook("StartTask", "etl_start_task", folder, item),
        _notebook(
            "StartTaskFailed",
            "etl_fail_task",
            folder,
            {**item, **_failed("StartTask")},
            _after("StartTask", "Failed"),
        ),
        {
            "name": "IfTaskActive",
            "type": "IfCondition",
            "dependsOn": _after("StartTask"),
            "typeProperties": {
                "expression": expression(f"@equals({run_output}.active, true)"),
                "ifTrueActivities": [
                    _lookup("GetWatermark", lookups["lookup_watermark"], True),
                    _copy(_after("GetWatermark")),
                    _notebook(
                        "EndTask",
                        "etl_end_task",
                        folder,
                        {**item, "log_message": copied, "log_type": "INFO"},
                        _after("CopyTaskFile"),
                    ),
                ],
                "ifFalseActivities": [],
            },
        },
        _notebook(
            "TaskFailed",
            "etl_fail_task",
            folder,
            {**item, **_failed("IfTaskActive")},
            _after("IfTaskActive", "Failed"),
        ),
    ]
    return {
        "name": STAGE_PIPELINE,
        "properties": {
            "description": (
                "One stage of an execution, run by pl_etl_monitor_process only (which "
                "validates the parameters): stops when a mandatory task failed, else runs the "
                "stage's pending tasks in parallel (start; if active: watermark, copy, end; "
                "FAIL on any failure), then fails when a mandatory task failed or one of the "
                "stage is not finished."
            ),
            "parameters": _parameters(SHARED_PARAMETERS + STAGE_PARAMETERS),
            "activities": [
                _lookup("CheckBlockers", lookups["lookup_mandatory_blockers"], True),
                _stop_on_blockers(
                    "CheckBlockers",
                    "StopIfBlocked",
                    "StageBlocked",
                    "not run",
                    _after("CheckBlockers"),
                ),
                _lookup(
                    "GetPendingTasks",
                    lookups["lookup_pending_tasks"],
                    False,
                    _after("StopIfBlocked"),
                ),
                {
                    "name": "ForEachTask",
                    "type": "ForEach",
                    "dependsOn": _after("GetPendingTasks"),
                    "typeProperties": {
                        "isSequential": False,
                        "batchCount": 8,
                        "items": expression("@activity('GetPendingTasks').output.value"),
                        "activities": task_activities,
                    },
                },
                _lookup(  # on Completed: ADF counts the ForEach's failure as handled here
                    "CheckBlockersAfter",
                    lookups["lookup_stage_outcome"],
                    True,
                    _after("ForEachTask", "Completed"),
                ),
                _stop_on_blockers(
                    "CheckBlockersAfter",
                    "StopOnMandatoryFailure",
                    "MandatoryTaskFailed",
                    "failed",
                    _after("CheckBlockersAfter"),
                    unfinished=True,
                ),
            ],
        },
    }


def process_pipeline() -> dict[str, Any]:
    """``pl_etl_monitor_process`` (open the execution, run the stages in order, close it).

    Returns:
        ``{"name": "pl_etl_monitor_process", "properties": {...}}``.
    """
    folder = "variables('NotebookFolder')"
    init = _step_params("0", "0", "0", "@pipeline().RunId")
    shared = [name for name, _, _ in SHARED_PARAMETERS]
    started = "json(string(activity('StartExecution').output.runOutput))"
    run_stage = {
        "name": "RunStage",
        "type": "ExecutePipeline",
        "dependsOn": [],
        "typeProperties": {
            "pipeline": res.reference(STAGE_PIPELINE, "PipelineReference"),
            "waitOnCompletion": True,
            "parameters": {
                **{k: expression(f"@{P}.{k}") for k in shared},
                "ExecutionID": expression("@pipeline().RunId"),
                "SequenceID": expression("@item()"),
                "NotebookFolder": expression(f"@{folder}"),
            },
        },
    }
    stage_guard = {  # ADF's ForEach goes on after a failed item: no stage after a failed one
        "name": "IfNoStageFailed",
        "type": "IfCondition",
        "dependsOn": [],
        "typeProperties": {
            "expression": expression("@empty(variables('FailedStage'))"),
            "ifTrueActivities": [
                run_stage,
                {
                    "name": "RecordFailedStage",
                    "type": "SetVariable",
                    "dependsOn": _after("RunStage", "Failed"),
                    "typeProperties": {
                        "variableName": "FailedStage",
                        "value": expression("@string(item())"),
                    },
                },
                {  # recording the failure caught it: fail the iteration again
                    "name": "StageFailed",
                    "type": "Fail",
                    "dependsOn": _after("RecordFailedStage"),
                    "typeProperties": {
                        "message": expression("@activity('RunStage').error.message"),
                        "errorCode": expression("@activity('RunStage').error.errorCode"),
                    },
                },
            ],
            "ifFalseActivities": [],
        },
    }
    return {
        "name": PROCESS_PIPELINE,
        "properties": {
            "description": (
                "One execution of a process: open it, run its stages in order (none after a "
                "failed one), close it."
            ),
            "parameters": _parameters(SHARED_PARAMETERS + PROCESS_PARAMETERS),
            "variables": {
                "NotebookFolder": {"type": "String"},
                "FailedStage": {"type": "String", "defaultValue": ""},
            },
            "activities": [
                _fail_if(
                    "StopIfNoNotebookFolder",
                    "NoNotebookFolder",
                    f"@and(empty({P}.NotebookFolder), empty({P}.DatabricksUser))",
                    "NotebookFolder and DatabricksUser are both empty: set NotebookFolder to the "
                    "workspace folder of the notebooks, or DatabricksUser to the user whose folder "
                    f"sample_usage() wrote them to ({WORKSPACE_USERS}/<user>/{SAMPLE_FOLDER})",
                    "ETL_NO_NOTEBOOK_FOLDER",
                    [],
                ),
                {
                    "name": "SetNotebookFolder",
                    "type": "SetVariable",
                    "dependsOn": _after("StopIfNoNotebookFolder"),
                    "typeProperties": {
                        "variableName": "NotebookFolder",
                        "value": expression(FOLDER_EXPRESSION),
                    },
                },
                _notebook(
                    "StartExecution", "etl_start_task", folder, init, _after("SetNotebookFolder")
                ),
                _notebook(
                    "StartExecutionFailed",
                    "etl_fail_task",
                    folder,
                    {**init, **_failed("StartExecution")},
                    _after("StartExecution", "Failed"),
                ),
                _fail_if(  # not this run's to record: the initiation step is not its own
                    "StopIfNotStarted",
                    "ExecutionNotStarted",
                    f"@not(equals({started}.active, true))",
                    f"@concat('the initiation task (0/0) of execution ', pipeline().RunId, "
                    f"' did not start: status ', string({started}.status), ', ', "
                    f"string({started}.reason))",
                    "ETL_NOT_STARTED",
                    _after("StartExecution"),
                ),
                {
                    "name": "ForEachStage",
                    "type": "ForEach",
                    "dependsOn": _after("StopIfNotStarted"),
                    "typeProperties": {
                        "isSequential": True,
                        "items": expression(f"@{P}.Stages"),
                        "activities": [stage_guard],
                    },
                },
                _notebook(
                    "EndExecution",
                    "etl_end_task",
                    folder,
                    {**init, "log_message": "all stages done", "log_type": "INFO"},
                    _after("ForEachStage"),
                ),
                _notebook(
                    "ExecutionFailed",
                    "etl_fail_task",
                    folder,
                    {**init, **_failed("ForEachStage")},
                    _after("ForEachStage", "Failed"),
                ),
                _notebook(
                    "EndExecutionFailed",
                    "etl_fail_task",
                    folder,
                    {**init, **_failed("EndExecution")},
                    _after("EndExecution", "Failed"),
                ),
                {  # the FAIL is recorded; the run still fails (a caught failure would succeed)
                    "name": "ExecutionNotClosed",
                    "type": "Fail",
                    "dependsOn": _after("EndExecutionFailed", "Completed"),
                    "typeProperties": {
                        "message": expression("@activity('EndExecution').error.message"),
                        "errorCode": "ETL_END_FAILED",
                    },
                },
            ],
        },
    }
