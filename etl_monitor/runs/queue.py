"""The queue: generating an execution's steps, pending tasks, skips and resets.

Reads go through the views; every change is an appended STEP event (see events.py).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from etl_monitor.config.arguments import RunArgs, StepKeyArgs, validate
from etl_monitor.engine.context import Context
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.errors import InvalidArgumentError, NotFoundError, StepStateError
from etl_monitor.runs.events import append_events, stable_event_id, step_event
from etl_monitor.runs.periods import history_window, render_file_name, same_period
from etl_monitor.runs.views import CANCELLED, DONE, FAIL, QUEUED, RUNNING, SKIPPED
from etl_monitor.runs.watermarks import default_processing_date
from etl_monitor.schema.tables import PARAMETERS, PROCESS, TASKS

log = logging.getLogger("etl_monitor.runs.queue")

_TASK_COLUMNS = (
    "TaskID",
    "WorkFlowID",
    "SequenceID",
    "TaskName",
    "SourceType",
    "SourceSystemCode",
    "TaskMandatory",
    "LoadFrequency",
    "FileMask",
    "FileExtension",
    "SourcePath",
    "TargetPath",
    "SLAMinutes",
)


def run_filter(a: RunArgs) -> tuple[str, dict[str, Any]]:
    """WHERE text and parameters for a process, narrowed to an execution and a date when given."""
    filters, args = (
        ["ProjectCode = :p", "ProcessLoad = :l"],
        {"p": a.project_code, "l": a.process_load},
    )
    if a.execution_id is not None:
        filters.append("ExecutionID = :e")
        args["e"] = a.execution_id
    if a.processing_date is not None:
        filters.append("ProcessingDate = :d")
        args["d"] = a.processing_date
    return " AND ".join(filters), args


def generate_execution_id() -> str:
    """A new execution id (UUID4 text)."""
    return str(uuid.uuid4())


def _queue_status(attempt: int) -> str:
    return QUEUED[0] if attempt <= 1 else QUEUED[1]


def generate_execution_steps(
    ctx: Context,
    execution_id: str,
    project_code: str,
    process_load: str,
    processing_date: Any = None,
) -> int:
    """Queue one step per active task; returns how many were queued (0 when already generated).

    Tasks already DONE in their load period (D date, W ISO week, M month, Y year) are not
    queued again; the others are queued at the next attempt number (RQUE after the first).
    Two workers generating the same execution at once write the same event ids, so the
    steps appear once.
    """
    a = validate(
        RunArgs,
        "generate_execution_steps",
        execution_id=execution_id,
        project_code=project_code,
        process_load=process_load,
        processing_date=processing_date,
    )
    if a.execution_id is None:
        raise InvalidArgumentError(
            "generate_execution_steps(): execution_id is required", argument="execution_id"
        )
    day = a.processing_date or default_processing_date(ctx, a.project_code, a.process_load)
    key = {"p": a.project_code, "l": a.process_load}
    meta = ctx.executor.query(
        # Joined aggregates: JVM Spark leaves parameters in scalar subqueries unbound.
        f"SELECT p.processes, x.existing FROM (SELECT COUNT(*) AS processes FROM {ctx.name(PROCESS)} "
        "WHERE ProjectCode = :p AND ProcessLoad = :l) p CROSS JOIN "
        f"(SELECT COUNT(*) AS existing FROM {ctx.name('ETLProcessingSteps')} "
        "WHERE ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l) x",
        {**key, "e": a.execution_id},
    )[0]
    if not meta["processes"]:
        raise NotFoundError(f"process {a.project_code}/{a.process_load} is not registered")
    if meta["existing"]:
        log.info("execution %s already generated", a.execution_id)
        return 0
    start, end = history_window(day)
    rows = ctx.executor.query(
        f"SELECT {', '.join('t.' + c for c in _TASK_COLUMNS)},\n"
        "  h.ExecutionID AS HistExecutionID, h.ProcessingDate AS HistDate, h.StatusCode AS HistStatus,\n"
        "  h.AttemptNo AS HistAttempt\n"
        f"FROM {ctx.name(TASKS)} t\n"
        "LEFT JOIN (SELECT ExecutionID, TaskID, WorkFlowID, ProcessingDate, StatusCode, AttemptNo\n"
        f"           FROM {ctx.name('ETLProcessingSteps')}\n"
        "           WHERE ProjectCode = :p AND ProcessLoad = :l AND ProcessingDate BETWEEN :start AND :end) h\n"
        "  ON h.TaskID = t.TaskID AND h.WorkFlowID = t.WorkFlowID\n"
        "WHERE t.ProjectCode = :p AND t.ProcessLoad = :l AND t.IsActive = true",
        {**key, "start": start, "end": end},
    )
    tasks: dict[tuple[int, int], dict[str, Any]] = {}
    for row in rows:
        task = tasks.setdefault(
            (row["TaskID"], row["WorkFlowID"]), {c: row[c] for c in _TASK_COLUMNS} | {"history": []}
        )
        if row["HistExecutionID"] is not None:
            task["history"].append((row["HistDate"], row["HistStatus"], row["HistAttempt"] or 0))
    now, user = utcnow(), ctx.user
    events = []
    for (task_id, workflow_id), task in sorted(tasks.items()):
        frequency = task["LoadFrequency"] or "D"
        initiation = task_id == 0 and workflow_id == 0
        if frequency == "A":  # every run: earlier runs only count for the attempt number
            earlier = [h for h in task["history"] if h[0] == day]
        else:
            earlier = [h for h in task["history"] if same_period(h[0], day, frequency)]
            if not initiation and any(status == DONE for _, status, _ in earlier):
                continue
        attempts = [h[2] for h in earlier]
        attempt = max(attempts, default=0) + 1
        state = {
            "ExecutionID": a.execution_id,
            "ProjectCode": a.project_code,
            "ProcessLoad": a.process_load,
            "ProcessingDate": day,
            "AttemptNo": attempt,
            "FileName": render_file_name(task["FileMask"], task["FileExtension"], day, frequency),
            **{c: task[c] for c in _TASK_COLUMNS if c not in ("FileMask", "FileExtension")},
        }
        events.append(
            step_event(
                state,
                _queue_status(attempt),
                user=user,
                when=now,
                reason="generated",
                event_id=stable_event_id(
                    a.execution_id, a.project_code, a.process_load, task_id, workflow_id, "QUEUED"
                ),
                PreviousStatus=None,
            )
        )
    append_events(ctx, events)
    log.info(
        "execution %s of %s/%s for %s: %d steps queued",
        a.execution_id,
        a.project_code,
        a.process_load,
        day,
        len(events),
    )
    return len(events)


def read_step(
    ctx: Context, key: StepKeyArgs, *, with_watermark: bool = False
) -> dict[str, Any] | None:
    """The current state of one step, the task's active flag and (optionally) its watermark.

    This is the hot path of every task, so it reads the event log directly (a filtered
    scan) instead of going through the views; it follows the same rules as
    ETLProcessingSteps (latest event) and v_watermarks (latest change, else the
    registered value).
    """
    events = ctx.name("ETLProcessingEvents")
    marks = (
        ", mark AS (\n"
        "  SELECT e.ParameterName, e.ValueDateTime, e.ValueINT\n"
        f"  FROM {events} e JOIN step s ON e.ParameterName = s.SourceSystemCode\n"
        "  WHERE e.EventType = 'WATERMARK' AND e.ProjectCode = :p AND e.ProcessLoad = :l\n"
        "  ORDER BY e.EventTime DESC, e.EventID DESC LIMIT 1\n"
        ")"
        if with_watermark
        else ""
    )
    watermark_cols = (
        ",\n  p.ParameterName AS WatermarkName, p.ParameterType AS WatermarkType,\n"
        "  CASE WHEN m.ParameterName IS NULL THEN p.ValueDateTime ELSE m.ValueDateTime END AS WatermarkDateTime,\n"
        "  CASE WHEN m.ParameterName IS NULL THEN p.ValueINT ELSE m.ValueINT END AS WatermarkInt"
        if with_watermark
        else ""
    )
    watermark_join = (
        f"\nLEFT JOIN {ctx.name(PARAMETERS)} p ON p.ProjectCode = s.ProjectCode AND p.ProcessLoad = s.ProcessLoad "
        "AND p.ParameterName = s.SourceSystemCode\n"
        "LEFT JOIN mark m ON m.ParameterName = s.SourceSystemCode"
        if with_watermark
        else ""
    )
    rows = ctx.executor.query(
        "WITH step AS (\n"
        f"  SELECT * FROM {events}\n"
        "  WHERE EventType = 'STEP' AND ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l\n"
        "    AND TaskID = :t AND WorkFlowID = :w\n"
        "  ORDER BY EventTime DESC, EventID DESC LIMIT 1\n"
        f"){marks}\n"
        f"SELECT s.*, t.IsActive AS TaskIsActive{watermark_cols}\n"
        "FROM step s\n"
        f"LEFT JOIN {ctx.name(TASKS)} t ON t.ProjectCode = s.ProjectCode AND t.ProcessLoad = s.ProcessLoad "
        f"AND t.TaskID = s.TaskID AND t.WorkFlowID = s.WorkFlowID{watermark_join}",
        {
            "e": key.execution_id,
            "p": key.project_code,
            "l": key.process_load,
            "t": key.task_id,
            "w": key.workflow_id,
        },
    )
    return rows[0].asDict() if rows else None


def task_status(
    ctx: Context,
    execution_id: str,
    project_code: str,
    process_load: str,
    task_id: int,
    workflow_id: int,
) -> str | None:
    """Status of one step, or None when the execution has no such step."""
    key = validate(
        StepKeyArgs,
        "task_status",
        execution_id=execution_id,
        project_code=project_code,
        process_load=process_load,
        task_id=task_id,
        workflow_id=workflow_id,
    )
    state = read_step(ctx, key)
    return state["StatusCode"] if state else None


PENDING_ORDER = "ORDER BY WorkFlowID, SequenceID, TaskID"


def get_pending_tasks(
    ctx: Context,
    execution_id: str,
    project_code: str,
    process_load: str,
    processing_date: Any = None,
    task_id: int | None = None,
    workflow_id: int | None = None,
    sequence_id: int | None = None,
) -> list[dict[str, Any]] | str:
    """Runnable steps (NQUE / RQUE of active tasks) in workflow and stage order, with watermarks.

    Generates the execution's steps on first call. With task_id and workflow_id, returns
    that step's status, or the text 'NULL' when there is no such step (the ADF convention).
    """
    a = validate(
        RunArgs,
        "get_pending_tasks",
        execution_id=execution_id,
        project_code=project_code,
        process_load=process_load,
        processing_date=processing_date,
        task_id=task_id,
        workflow_id=workflow_id,
        sequence_id=sequence_id,
    )
    if a.task_id is not None:
        status = task_status(
            ctx, execution_id, project_code, process_load, a.task_id, a.workflow_id
        )  # type: ignore[arg-type]
        return status or "NULL"
    generate_execution_steps(ctx, execution_id, project_code, process_load, a.processing_date)
    stage = " AND SequenceID = :s" if a.sequence_id is not None else ""
    args: dict[str, Any] = {"e": a.execution_id, "p": a.project_code, "l": a.process_load}
    if a.sequence_id is not None:
        args["s"] = a.sequence_id
    rows = ctx.executor.query(
        f"SELECT * FROM {ctx.name('v_pendingTasks')} "
        f"WHERE ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l{stage} {PENDING_ORDER}",
        args,
    )
    return [r.asDict() for r in rows]


def _require_step(ctx: Context, function: str, **key: Any) -> tuple[StepKeyArgs, dict[str, Any]]:
    args = validate(StepKeyArgs, function, **key)
    state = read_step(ctx, args)
    if state is None:
        raise NotFoundError(
            f"{function}(): execution {args.execution_id} has no step for {args.project_code}/"
            f"{args.process_load} task_id={args.task_id} workflow_id={args.workflow_id}"
        )
    return args, state


def skip_task(
    ctx: Context,
    execution_id: str,
    project_code: str,
    process_load: str,
    task_id: int,
    workflow_id: int,
    reason: str | None = None,
) -> None:
    """Skip a queued step in this execution only; a later execution queues the task again."""
    _, state = _require_step(
        ctx,
        "skip_task",
        execution_id=execution_id,
        project_code=project_code,
        process_load=process_load,
        task_id=task_id,
        workflow_id=workflow_id,
    )
    if state["StatusCode"] not in QUEUED:
        raise StepStateError(
            f"skip_task(): only a queued step can be skipped; this one is {state['StatusCode']}"
        )
    append_events(
        ctx,
        [
            step_event(
                state,
                SKIPPED,
                user=ctx.user,
                reason="skipped",
                LogMessage=reason if reason is not None else state.get("LogMessage"),
            )
        ],
    )


def unskip_task(
    ctx: Context,
    execution_id: str,
    project_code: str,
    process_load: str,
    task_id: int,
    workflow_id: int,
) -> None:
    """Put a skipped step back in the queue at its attempt number."""
    _, state = _require_step(
        ctx,
        "unskip_task",
        execution_id=execution_id,
        project_code=project_code,
        process_load=process_load,
        task_id=task_id,
        workflow_id=workflow_id,
    )
    if state["StatusCode"] != SKIPPED:
        raise StepStateError(f"unskip_task(): the step is {state['StatusCode']}, not {SKIPPED}")
    append_events(
        ctx,
        [
            step_event(
                state, _queue_status(state["AttemptNo"] or 1), user=ctx.user, reason="unskipped"
            )
        ],
    )


def status_reset(
    ctx: Context,
    project_code: str,
    process_load: str,
    execution_id: str | None = None,
    processing_date: Any = None,
    task_id: int | None = None,
    workflow_id: int | None = None,
    force: bool = False,
) -> int:
    """Re-queue steps (RQUE, next attempt) and return how many were reset.

    - ``execution_id``: the failed, cancelled and skipped steps of that execution.
    - ``processing_date`` without ``execution_id``: a day replay, every step of that date,
      DONE ones included, so that the next execution runs the whole day again.
    - ``task_id`` / ``workflow_id``: only that task, whatever its status.
    The initiation step (0, 0) of each affected execution is always reset too. Running
    steps are left alone unless ``force=True`` (for a stale step whose process died).
    Earlier events stay in ETLProcessingEvents: the history of what was reset is kept.
    """
    a = validate(
        RunArgs,
        "status_reset",
        execution_id=execution_id,
        project_code=project_code,
        process_load=process_load,
        processing_date=processing_date,
        task_id=task_id,
        workflow_id=workflow_id,
    )
    if a.execution_id is None and a.processing_date is None:
        raise InvalidArgumentError(
            "status_reset(): give execution_id, processing_date or both", argument="execution_id"
        )
    where, args = run_filter(a)
    rows = [
        r.asDict()
        for r in ctx.executor.query(
            f"SELECT * FROM {ctx.name('ETLProcessingSteps')} WHERE {where}", args
        )
    ]
    if not rows:
        raise NotFoundError(
            f"status_reset(): no steps for {a.project_code}/{a.process_load} with {args}"
        )
    if a.task_id is not None:
        chosen = [r for r in rows if (r["TaskID"], r["WorkFlowID"]) == (a.task_id, a.workflow_id)]
        if not chosen:
            raise NotFoundError(
                f"status_reset(): no step for task_id={a.task_id} workflow_id={a.workflow_id}"
            )
        mode = "task"
    elif a.execution_id is not None:
        chosen = [r for r in rows if r["StatusCode"] in (FAIL, CANCELLED, SKIPPED)]
        mode = "failures"
    else:
        chosen = [r for r in rows if r["StatusCode"] not in QUEUED]
        mode = "day replay"
    executions = {r["ExecutionID"] for r in chosen}
    chosen += [
        r
        for r in rows
        if (r["TaskID"], r["WorkFlowID"]) == (0, 0)
        and r["ExecutionID"] in executions
        and r not in chosen
        and r["StatusCode"] not in QUEUED
    ]
    running = [
        r for r in chosen if r["StatusCode"] == RUNNING and (r["TaskID"], r["WorkFlowID"]) != (0, 0)
    ]
    if running and not force:
        names = ", ".join(f"task_id={r['TaskID']}/workflow_id={r['WorkFlowID']}" for r in running)
        raise StepStateError(
            f"status_reset(): {names} still RUNNING; pass force=True if its process died"
        )
    now, user = utcnow(), ctx.user
    events = [
        step_event(
            r,
            QUEUED[1],
            user=user,
            when=now,
            reason=f"status_reset ({mode})",
            AttemptNo=(r["AttemptNo"] or 0) + 1,
            StartTime=None,
            EndTime=None,
        )
        for r in chosen
    ]
    append_events(ctx, events)
    log.info(
        "status_reset %s/%s (%s): %d steps re-queued",
        a.project_code,
        a.process_load,
        mode,
        len(events),
    )
    return len(events)
