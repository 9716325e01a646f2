"""An Azure Data Factory pipeline template over the utility notebooks and the Lookup queries.

Two pipelines: the process pipeline opens the execution (etl_start_task on the
initiation task, which also queues the steps), runs the stages in order through the
stage pipeline, and closes the execution; the stage pipeline looks up the stage's
pending tasks and runs them in parallel (start, watermark Lookup, Copy whose source query
uses the watermark's ActiveValue, then end or fail), and stops when a mandatory task
failed. Rendered into sql/adf/pipeline_template.json by `etl-monitor sql render`.
"""

from __future__ import annotations

import re
from typing import Any

P = "pipeline().parameters"
#: Lookup queries are rendered with these names, then pointed at the pipeline's Catalog and Schema.
CATALOG, SCHEMA = "adf_catalog", "adf_schema"
NOTEBOOK_LINKED_SERVICE = "ls_databricks"
SQL_LINKED_SERVICE = "ls_databricks_delta_lake"

#: How each Lookup marker is filled in from ADF (stage pipeline scope).
MARKERS = {
    "project_code": f"@{{{P}.ProjectCode}}",
    "process_load": f"@{{{P}.ProcessLoad}}",
    "execution_id": f"@{{{P}.ExecutionID}}",
    "sequence_id": f"@{{{P}.SequenceID}}",
    "parameter_name": "@{item().WatermarkName}",
}


def adf_query(query: str) -> dict[str, str]:
    """A Lookup query as ADF dynamic content: each ``:marker`` becomes a quoted interpolation."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = MARKERS[name]
        return value if name == "sequence_id" else f"'{value}'"

    text = re.sub(r":([a-z_]+)", fill, query)
    text = text.replace(f"`{CATALOG}`", f"`@{{{P}.Catalog}}`").replace(
        f"`{SCHEMA}`", f"`@{{{P}.Schema}}`"
    )
    return {"value": text, "type": "Expression"}


def _lookup(
    name: str, query: str, first_row_only: bool, depends: list[dict] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Lookup",
        "dependsOn": depends or [],
        "typeProperties": {
            "source": {"type": "AzureDatabricksDeltaLakeSource", "query": adf_query(query)},
            "dataset": {"referenceName": "ds_databricks_delta_lake", "type": "DatasetReference"},
            "firstRowOnly": first_row_only,
        },
    }


def _notebook(
    name: str, notebook: str, params: dict[str, str], depends: list[dict] | None = None
) -> dict:
    return {
        "name": name,
        "type": "DatabricksNotebook",
        "dependsOn": depends or [],
        "linkedServiceName": {
            "referenceName": NOTEBOOK_LINKED_SERVICE,
            "type": "LinkedServiceReference",
        },
        "typeProperties": {
            "notebookPath": {
                "value": f"@concat({P}.NotebookFolder, '/{notebook}')",
                "type": "Expression",
            },
            "baseParameters": {k: {"value": v, "type": "Expression"} for k, v in params.items()},
        },
    }


def _after(activity: str, condition: str = "Succeeded") -> list[dict[str, Any]]:
    return [{"activity": activity, "dependencyConditions": [condition]}]


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


def pipelines(lookups: dict[str, str]) -> list[dict[str, Any]]:
    """The two pipeline definitions (ADF JSON), given the Lookup queries by name."""
    common = {
        name: {"type": "string", "defaultValue": default}
        for name, default in (
            ("ProjectCode", "CORP"),
            ("ProcessLoad", "HR_DAILY"),
            ("ProcessingDate", ""),
            ("Catalog", "main"),
            ("Schema", "etl"),
            ("NotebookFolder", "/Shared/etl_monitor/sample_usage"),
        )
    }
    item = _step_params(
        "@string(item().TaskID)",
        "@string(item().WorkFlowID)",
        "@string(item().SequenceID)",
        f"@{P}.ExecutionID",
    )
    copy_query = (
        "@concat('SELECT * FROM ', item().InFilePath, ' WHERE ModifiedDate > ''', "
        "activity('GetWatermark').output.firstRow.ActiveValue, '''')"
    )
    stage = {
        "name": "pl_etl_monitor_stage",
        "properties": {
            "description": "Runs the pending tasks of one stage in parallel, then stops on a mandatory failure.",
            "parameters": {
                **common,
                "ExecutionID": {"type": "string"},
                "SequenceID": {"type": "int"},
            },
            "activities": [
                _lookup("GetPendingTasks", lookups["lookup_pending_tasks"], first_row_only=False),
                {
                    "name": "ForEachTask",
                    "type": "ForEach",
                    "dependsOn": _after("GetPendingTasks"),
                    "typeProperties": {
                        "isSequential": False,
                        "batchCount": 8,
                        "items": {
                            "value": "@activity('GetPendingTasks').output.value",
                            "type": "Expression",
                        },
                        "activities": [
                            _notebook("StartTask", "etl_start_task", item),
                            _lookup(
                                "GetWatermark",
                                lookups["lookup_watermark"],
                                True,
                                _after("StartTask"),
                            ),
                            {
                                "name": "CopyData",
                                "type": "Copy",
                                "dependsOn": _after("GetWatermark"),
                                "typeProperties": {
                                    "source": {
                                        "type": "SqlServerSource",
                                        "sqlReaderQuery": {
                                            "value": copy_query,
                                            "type": "Expression",
                                        },
                                    },
                                    "sink": {"type": "ParquetSink"},
                                },
                                "inputs": [
                                    {"referenceName": "ds_source", "type": "DatasetReference"}
                                ],
                                "outputs": [
                                    {"referenceName": "ds_landing", "type": "DatasetReference"}
                                ],
                            },
                            _notebook(
                                "EndTask",
                                "etl_end_task",
                                {
                                    **item,
                                    "log_message": "@concat('copied ', "
                                    "string(activity('CopyData').output.rowsCopied), ' rows')",
                                    "log_type": "INFO",
                                },
                                _after("CopyData"),
                            ),
                            _notebook(
                                "FailTask",
                                "etl_fail_task",
                                {
                                    **item,
                                    "log_message": "@activity('CopyData').error.message",
                                    "log_type": "ERROR",
                                    "log_code": "@activity('CopyData').error.errorCode",
                                },
                                _after("CopyData", "Failed"),
                            ),
                        ],
                    },
                },
                _lookup(
                    "CheckBlockers",
                    lookups["lookup_mandatory_blockers"],
                    True,
                    _after("ForEachTask", "Completed"),
                ),
                {
                    "name": "StopOnBlockers",
                    "type": "IfCondition",
                    "dependsOn": _after("CheckBlockers"),
                    "typeProperties": {
                        "expression": {
                            "value": "@greater(activity('CheckBlockers').output.firstRow.Blockers, 0)",
                            "type": "Expression",
                        },
                        "ifTrueActivities": [
                            {
                                "name": "MandatoryTaskFailed",
                                "type": "Fail",
                                "typeProperties": {
                                    "message": "A mandatory task failed; later stages are blocked.",
                                    "errorCode": "ETL_MANDATORY_FAILED",
                                },
                            }
                        ],
                    },
                },
            ],
        },
    }
    init = _step_params("0", "0", "0", "@pipeline().RunId")
    process = {
        "name": "pl_etl_monitor_process",
        "properties": {
            "description": "One execution of a process: open it, run its stages in order, close it.",
            "parameters": {
                **common,
                "Stages": {"type": "array", "defaultValue": [1, 2, 3, 4, 5, 6]},
            },
            "activities": [
                _notebook("StartExecution", "etl_start_task", init),
                {
                    "name": "ForEachStage",
                    "type": "ForEach",
                    "dependsOn": _after("StartExecution"),
                    "typeProperties": {
                        "isSequential": True,
                        "items": {"value": f"@{P}.Stages", "type": "Expression"},
                        "activities": [
                            {
                                "name": "RunStage",
                                "type": "ExecutePipeline",
                                "typeProperties": {
                                    "pipeline": {
                                        "referenceName": "pl_etl_monitor_stage",
                                        "type": "PipelineReference",
                                    },
                                    "waitOnCompletion": True,
                                    "parameters": {
                                        **{k: f"@{P}.{k}" for k in common},
                                        "ExecutionID": "@pipeline().RunId",
                                        "SequenceID": "@item()",
                                    },
                                },
                            }
                        ],
                    },
                },
                _notebook(
                    "EndExecution",
                    "etl_end_task",
                    {**init, "log_message": "all stages done", "log_type": "INFO"},
                    _after("ForEachStage"),
                ),
                _notebook(
                    "FailExecution",
                    "etl_fail_task",
                    {
                        **init,
                        "log_message": "a stage failed",
                        "log_type": "ERROR",
                        "log_code": "STAGE_FAILED",
                    },
                    _after("ForEachStage", "Failed"),
                ),
            ],
        },
    }
    return [process, stage]
