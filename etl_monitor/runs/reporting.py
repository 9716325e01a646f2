"""Status queries and rollups over the reporting views, and raw run receipts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StringConstraints

from etl_monitor.config.arguments import Code, ExecutionId, RunArgs, ShortText, _Args, validate
from etl_monitor.engine.context import Context
from etl_monitor.runs.events import append_receipt
from etl_monitor.runs.queue import run_filter


def get_status(
    ctx: Context,
    project_code: str,
    process_load: str,
    execution_id: str | None = None,
    processing_date: Any = None,
    summary_mode: bool = False,
) -> Any:
    """Task detail (v_taskDetail) or, with summary_mode=True, run rollups (v_runSummary), as a DataFrame.

    Detail rows are ordered by workflow, stage and task; rollups newest first.
    """
    a = validate(
        RunArgs,
        "get_status",
        execution_id=execution_id,
        project_code=project_code,
        process_load=process_load,
        processing_date=processing_date,
    )
    if not isinstance(summary_mode, bool):
        validate(_Flag, "get_status", summary_mode=summary_mode)
    where, args = run_filter(a)
    view, order = (
        ("v_runSummary", "ORDER BY CreatedOn DESC, ExecutionID")
        if summary_mode
        else (
            "v_taskDetail",
            "ORDER BY ProcessingDate DESC, CreatedOn DESC, WorkFlowID, SequenceID, TaskID",
        )
    )
    return ctx.executor.dataframe(f"SELECT * FROM {ctx.name(view)} WHERE {where} {order}", args)


class _Flag(_Args):
    summary_mode: StrictBool


class StaleArgs(_Args):
    project_code: Code | None = None
    process_load: Code | None = None
    older_than_minutes: Annotated[StrictInt, Field(gt=0)] | None = None


def stale_tasks(
    ctx: Context,
    project_code: str | None = None,
    process_load: str | None = None,
    older_than_minutes: int | None = None,
) -> list[dict[str, Any]]:
    """RUNNING steps that started longer ago than `older_than_minutes` (default: the framework's setting)."""
    a = validate(
        StaleArgs,
        "stale_tasks",
        project_code=project_code,
        process_load=process_load,
        older_than_minutes=older_than_minutes,
    )
    seconds = (a.older_than_minutes or ctx.stale_after_minutes) * 60
    filters = [
        "StatusCode = 'RUNNING'",
        "unix_seconds(current_timestamp()) - unix_seconds(StartTime) > :s",
    ]
    args: dict[str, Any] = {"s": seconds}
    if a.project_code:
        filters.append("ProjectCode = :p")
        args["p"] = a.project_code
    if a.process_load:
        filters.append("ProcessLoad = :l")
        args["l"] = a.process_load
    rows = ctx.executor.query(
        f"SELECT * FROM {ctx.name('v_taskDetail')} WHERE {' AND '.join(filters)} ORDER BY StartTime",
        args,
    )
    return [r.asDict() for r in rows]


class ReceiptArgs(_Args):
    source_type: Literal["ADF_PIPELINE", "DBX_NOTEBOOK", "DBX_JOB", "DATAFLOW"]
    payload: Annotated[str, StringConstraints(strict=True, max_length=10_000_000)] | None = None
    execution_id: ExecutionId | None = None
    project_code: Code | None = None
    process_load: Code | None = None
    task_id: Annotated[StrictInt, Field(ge=0)] | None = None
    workflow_id: Annotated[StrictInt, Field(ge=0)] | None = None
    source_run_id: ShortText | None = None
    status: ShortText | None = None
    log_type: Literal["INFO", "WARN", "ERROR"] | None = None
    log_code: ShortText | None = None
    log_message: Annotated[str, StringConstraints(strict=True, max_length=1_000_000)] | None = None


def log_receipt(ctx: Context, **values: Any) -> str:
    """Append a raw run receipt (e.g. an ADF activity's JSON output) to ETLsysLogs; returns its LogID."""
    a = validate(ReceiptArgs, "log_receipt", **values)
    return append_receipt(
        ctx,
        {
            "ExecutionID": a.execution_id,
            "ProjectCode": a.project_code,
            "ProcessLoad": a.process_load,
            "TaskID": a.task_id,
            "WorkFlowID": a.workflow_id,
            "SourceType": a.source_type,
            "SourceRunID": a.source_run_id,
            "Status": a.status,
            "LogType": a.log_type,
            "LogCode": a.log_code,
            "LogMessage": a.log_message,
            "Payload": a.payload,
        },
    )
