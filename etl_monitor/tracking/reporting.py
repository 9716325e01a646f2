"""Status queries and rollups over the reporting views, and raw run receipts."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StrictInt, StringConstraints

from etl_monitor.core.arguments import (
    Code,
    Day,
    ExecutionId,
    Message,
    NonNegative,
    ShortText,
    StatusArgs,
    _Args,
)
from etl_monitor.core.context import Context
from etl_monitor.tracking.events import append_receipt
from etl_monitor.tracking.queue import run_filter
from etl_monitor.tracking.watermarks import default_processing_date


def get_status(ctx: Context, a: StatusArgs) -> Any:
    """Task detail (v_taskDetail) or, with summary_mode=True, run rollups (v_runSummary), as a DataFrame.

    Without processing_date and execution_id: the process's processing date (the
    historic date, else today). Detail rows are ordered by workflow, stage and task;
    rollups newest first.
    """
    run = a.run()
    if run.processing_date is None and run.execution_id is None:
        run = run.model_copy(
            update={"processing_date": default_processing_date(ctx, a.project_code, a.process_load)}
        )
    if a.summary_mode:
        run = run.model_copy(update={"workflow_id": None, "sequence_id": None, "task_id": None})
    where, args = run_filter(run)
    if a.attempts is not None:
        where += " AND Attempts = :attempts"
        args["attempts"] = a.attempts
    view, order = (
        ("v_runSummary", "ORDER BY CreatedOn DESC, ExecutionID")
        if a.summary_mode
        else (
            "v_taskDetail",
            "ORDER BY ProcessingDate DESC, CreatedOn DESC, WorkFlowID, SequenceID, TaskID",
        )
    )
    return ctx.executor.dataframe(f"SELECT * FROM {ctx.name(view)} WHERE {where} {order}", args)


class StaleArgs(_Args):
    project_code: Code | None = None
    process_load: Code | None = None
    older_than_minutes: Annotated[StrictInt, Field(gt=0, le=5_256_000)] | None = None


def stale_tasks(ctx: Context, a: StaleArgs) -> list[dict[str, Any]]:
    """RUNNING steps that started longer ago than `older_than_minutes` (default: the framework's setting)."""
    seconds = (a.older_than_minutes or ctx.stale_after_minutes) * 60
    filters = [
        "Status = 'RUNNING'",
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
    task_id: NonNegative | None = None
    workflow_id: NonNegative | None = None
    source_run_id: ShortText | None = None
    status: ShortText | None = None
    log_type: Literal["INFO", "WARN", "ERROR"] | None = None
    log_code: ShortText | None = None
    log_message: Message | None = None
    processing_date: Day | None = None
    correlation_id: ShortText | None = None
    pipeline_name: ShortText | None = None
    activity_name: ShortText | None = None
    operation_name: ShortText | None = None
    level: Annotated[StrictInt, Field(ge=0, le=3)] | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = tuple(
        n
        for n in (
            "execution_id",
            "project_code",
            "process_load",
            "task_id",
            "workflow_id",
            "source_run_id",
            "status",
            "log_type",
            "log_code",
            "log_message",
            "processing_date",
            "correlation_id",
            "pipeline_name",
            "activity_name",
            "operation_name",
            "level",
        )
    )


def log_receipt(ctx: Context, a: ReceiptArgs) -> str:
    """Append a raw run receipt (e.g. an ADF activity's JSON output) to ETLsysLogs; returns its LogID."""
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
            "ProcessingDate": a.processing_date,
            "CorrelationID": a.correlation_id,
            "PipelineName": a.pipeline_name,
            "ActivityName": a.activity_name,
            "OperationName": a.operation_name,
            "Level": a.level,
        },
    )
