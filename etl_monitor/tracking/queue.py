"""The queue: generating an execution's steps, pending tasks, skips and resets.

Every change is a claimed STEP event (see `events.claim_events`), allowed by `states`.
Reads name the process and, where known, the processing date or execution, so that the
engine reads only their files however long the history.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from etl_monitor.core.arguments import (
    STEP_FACTS,
    GenerateArgs,
    PendingArgs,
    ResetArgs,
    RunArgs,
    SkipArgs,
    StepKeyArgs,
    TaskStatusArgs,
    UnskipArgs,
)
from etl_monitor.core.context import Context
from etl_monitor.core.objects import spark_type
from etl_monitor.engine.timestamps import iso_text, utc, utcnow
from etl_monitor.errors import InvalidArgumentError, NotFoundError, StepStateError
from etl_monitor.tracking import states
from etl_monitor.tracking.events import (
    HIGHEST_VALUE,
    VIEW_NAMES,
    attempts_of,
    claim_events,
    latest_first,
    state_columns,
    step_event,
)
from etl_monitor.tracking.periods import history_window, render_file_name, same_period
from etl_monitor.tracking.states import DONE, INACTIVE, QUEUED, RUNNING
from etl_monitor.tracking.tables import EVENTS, PARAMETERS, PROCESS, SEQUENCE, TASKS
from etl_monitor.tracking.views import PENDING_COLUMNS
from etl_monitor.tracking.watermarks import default_processing_date

log: logging.Logger = logging.getLogger("etl_monitor.tracking.queue")

_TASK_COLUMNS = (
    "TaskID",
    "WorkFlowID",
    "SequenceID",
    "TaskName",
    "SourceType",
    "SourceSystemCode",
    "TaskMandatory",
    "LoadFrequency",
    "FileNameMask",
    "FileExtension",
    "InFilePath",
    "OutFilePath",
    "SLAMinutes",
)
#: Task catalogue column -> the step's snapshot column in the event log.
_SNAPSHOT = {"InFilePath": "SourcePath", "OutFilePath": "TargetPath"}


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
    for column, value in (
        ("WorkFlowID", a.workflow_id),
        ("SequenceID", a.sequence_id),
        ("TaskID", a.task_id),
    ):
        if value is not None:
            filters.append(f"{column} = :{column}")
            args[column] = value
    return " AND ".join(filters), args


def generate_execution_id() -> str:
    """A new execution id (UUID4 text)."""
    return str(uuid.uuid4())


def generate_execution_steps(ctx: Context, a: GenerateArgs) -> int:
    """Queue one step per active task; returns how many were queued (0 when already generated).

    Tasks already DONE in their load period (D date, W ISO week, M month, Y year) are not
    queued again; the others are queued at the next attempt number (RQUE after the first).
    Two workers generating the same execution at once claim the same event ids, so the
    steps appear once (the second gets 0).

    Raises:
        NotFoundError: the process is not registered.
    """
    return _generate(ctx, a.run())[0]


def _generate(ctx: Context, a: RunArgs) -> tuple[int, Any]:
    """Queue the execution's steps unless they exist; returns (steps queued, processing date)."""
    if a.execution_id is None:
        raise InvalidArgumentError(
            "generate_execution_steps(): execution_id is required", argument="execution_id"
        )
    key = {"p": a.project_code, "l": a.process_load}
    frequency_counts = ", ".join(
        f"COUNT(CASE WHEN LoadFrequency = '{f}' THEN 1 END) AS freq_{f}" for f in "WMY"
    )
    # An execution names one processing date: the caller's, or the one this process saw it
    # with. Either way only that date's files are read; without one, every date is.
    known = a.processing_date or ctx.execution_dates.get(a.execution_id)
    meta = ctx.executor.query(
        # Joined aggregates: JVM Spark leaves parameters in scalar subqueries unbound.
        f"SELECT p.processes, x.existing, x.day, f.* FROM (SELECT COUNT(*) AS processes FROM {ctx.name(PROCESS)} "
        "WHERE ProjectCode = :p AND ProcessLoad = :l) p CROSS JOIN "
        f"(SELECT COUNT(*) AS existing, MAX(ProcessingDate) AS day FROM {ctx.name('ETLProcessingSteps')} "
        "WHERE ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l"
        + (" AND ProcessingDate = :known" if known is not None else "")
        + ") x CROSS JOIN "
        f"(SELECT {frequency_counts} FROM {ctx.name(TASKS)} "
        "WHERE ProjectCode = :p AND ProcessLoad = :l AND IsActive = true) f",
        {**key, "e": a.execution_id, **({"known": known} if known is not None else {})},
    )[0]
    if not meta["processes"]:
        raise NotFoundError(f"process {a.project_code}/{a.process_load} is not registered")
    if meta["existing"]:
        log.info("execution %s already generated", a.execution_id)
        ctx.remember_date(a.execution_id, meta["day"])
        return 0, meta["day"]
    day = a.processing_date or default_processing_date(ctx, a.project_code, a.process_load)
    ctx.remember_date(a.execution_id, day)
    start, end = history_window(day, {f for f in "WMY" if meta[f"freq_{f}"]})
    rows = ctx.executor.query(
        f"SELECT {', '.join('t.' + c for c in _TASK_COLUMNS)},\n"
        "  h.ExecutionID AS HistExecutionID, h.ProcessingDate AS HistDate, h.Status AS HistStatus,\n"
        "  h.AttemptNo AS HistAttempt, h.Attempts AS HistAttempts\n"
        f"FROM {ctx.name(TASKS)} t\n"
        "LEFT JOIN (SELECT ExecutionID, TaskID, WorkFlowID, ProcessingDate, Status, AttemptNo, Attempts\n"
        f"           FROM {ctx.name('ETLProcessingSteps')}\n"
        "           WHERE ProjectCode = :p AND ProcessLoad = :l AND ProcessingDate BETWEEN :start AND :end) h\n"
        "  ON h.TaskID = t.TaskID AND h.WorkFlowID = t.WorkFlowID\n"
        "WHERE t.ProjectCode = :p AND t.ProcessLoad = :l AND t.IsActive = true",
        {**key, "start": start, "end": end},
    )
    tasks: dict[tuple[int, int], dict[str, Any]] = {}
    # The execution's retry counter for the date, as databricks-etl-monitor counts it.
    earlier_executions = [r["HistAttempts"] for r in rows if r["HistDate"] == day]
    execution_attempts = max((n for n in earlier_executions if n is not None), default=-1) + 1
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
            "Attempts": execution_attempts,
            "FileName": render_file_name(
                task["FileNameMask"], task["FileExtension"], day, frequency
            ),
            **{
                _SNAPSHOT.get(c, c): task[c]
                for c in _TASK_COLUMNS
                if c not in ("FileNameMask", "FileExtension")
            },
        }
        events.append(
            step_event(
                state,
                states.check("queue", None, attempt=attempt),
                user=user,
                when=now,
                reason="generated",
                claim=True,
                PreviousStatus=None,
            )
        )
    queued = claim_events(ctx, events)
    log.info(
        "execution %s of %s/%s for %s: %d steps queued",
        a.execution_id,
        a.project_code,
        a.process_load,
        day,
        queued,
    )
    return queued, day


def read_step(
    ctx: Context,
    key: StepKeyArgs,
    *,
    with_watermark: bool = False,
    with_stage: bool = False,
    processing_date: Any = None,
) -> dict[str, Any] | None:
    """The current state of one step, the task's active flag and (optionally) its watermark
    and its stage's SequenceCode.

    This is the hot path of every task, so it reads the event log directly (the filters
    reach the scan) instead of going through the views; it follows the same rules as
    ETLProcessingSteps (highest Seq) and v_watermarks (highest generation, then value;
    else the registered value). Archived steps (see `maintenance`) are not read.
    With `processing_date` (the caller's, or the execution's as this process last saw
    it) only that date's files are read; a date that does not match the step falls back
    to a read without it. `with_stage` adds the stage's code (for v_pendingTasks rows).
    """
    hint = processing_date
    if hint is None:
        hint = ctx.execution_dates.get(key.execution_id)
    found = _read_step(ctx, key, with_watermark, with_stage, hint) if hint is not None else None
    if found is None:
        found = _read_step(ctx, key, with_watermark, with_stage, None)
    if found is not None:
        ctx.remember_date(key.execution_id, found.get("ProcessingDate"))
    return found


def _read_step(
    ctx: Context, key: StepKeyArgs, with_watermark: bool, with_stage: bool, processing_date: Any
) -> dict[str, Any] | None:
    """One statement, one scan of each table it needs (a UNION ALL of narrow reads, no join).

    The event log is scanned once for the step's events and, with `with_watermark`, the
    process's watermark events, each ranked in its own group; the task's row, the
    process's registered parameters and the stages come in the same result as rows of
    the event log's shape, told apart by EventType.
    """
    events = ctx.name("ETLProcessingEvents")
    step = [
        "e.EventType = 'STEP'",
        "e.ExecutionID = :e",
        "e.ProjectCode = :p",
        "e.ProcessLoad = :l",
        "e.TaskID = :t",
        "e.WorkFlowID = :w",
    ]
    dates = []
    if processing_date is not None:
        step.append("e.ProcessingDate = :d")
        dates.append("e.ProcessingDate = :d")
    where = "(" + " AND ".join(step) + ")"
    if with_watermark:
        where += (
            "\n     OR (e.EventType = 'WATERMARK' AND e.ProcessingDate IS NULL"
            " AND e.ProjectCode = :p AND e.ProcessLoad = :l)"
        )
        dates.append("e.ProcessingDate IS NULL")
    if processing_date is not None:  # the partitions, for engines that prune by conjuncts only
        where = f"({where})\n    AND ({' OR '.join(dates)})"
    parts = [
        f"SELECT {_EVENT_LIST} FROM (\n"
        f"  SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.EventType, e.ParameterName\n"
        f"    ORDER BY {latest_first('e', value_order=HIGHEST_VALUE)}) AS event_rank\n"
        f"  FROM {events} e\n  WHERE {where}\n) x WHERE x.event_rank = 1",
        _as_events(
            "TASK",
            {"IsActive": "ValueBIT"},
            f"{ctx.name(TASKS)} WHERE ProjectCode = :p AND ProcessLoad = :l "
            "AND TaskID = :t AND WorkFlowID = :w",
        ),
    ]
    if with_stage:
        stage = {"SequenceID": "SequenceID", "SequenceCode": "TaskName"}
        parts.append(_as_events("STAGE", stage, ctx.name(SEQUENCE)))
    if with_watermark:
        parts.append(
            _as_events(
                "PARAMETER",
                {c: c for c in ("ParameterName", "ParameterType", "ValueDateTime", "ValueINT")},
                f"{ctx.name(PARAMETERS)} WHERE ProjectCode = :p AND ProcessLoad = :l",
            )
        )
    args = {
        "e": key.execution_id,
        "p": key.project_code,
        "l": key.process_load,
        "t": key.task_id,
        "w": key.workflow_id,
        **({"d": processing_date} if processing_date is not None else {}),
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for row in ctx.executor.query("\nUNION ALL\n".join(parts), args):
        found.setdefault(row["EventType"], []).append(row.asDict())
    if not found.get("STEP"):
        return None
    state = found["STEP"][0]
    tasks = found.get("TASK", [])
    state["TaskIsActive"] = tasks[0]["ValueBIT"] if tasks else None
    stages = {r["SequenceID"]: r["TaskName"] for r in found.get("STAGE", [])}
    state["SequenceCode"] = stages.get(state["SequenceID"])
    if with_watermark:
        name = state["SourceSystemCode"]
        registered = next((r for r in found.get("PARAMETER", []) if r["ParameterName"] == name), {})
        mark = next((r for r in found.get("WATERMARK", []) if r["ParameterName"] == name), None)
        value = mark if mark is not None else registered
        state.update(
            WatermarkName=registered.get("ParameterName"),
            WatermarkType=registered.get("ParameterType"),
            WatermarkDateTime=value.get("ValueDateTime"),
            WatermarkInt=value.get("ValueINT"),
            WatermarkGeneration=(mark or {}).get("Seq") or 0,
        )
    return state


_EVENT_LIST = ", ".join(EVENTS.column_names)


def _as_events(kind: str, columns: dict[str, str], source: str) -> str:
    """SELECT of a config table's row in the event log's shape: `columns` maps its columns in."""
    into = {event_column: column for column, event_column in columns.items()}
    values = [
        f"{into[c]} AS {c}" if c in into else f"CAST(NULL AS {EVENTS.column(c).type}) AS {c}"
        for c in EVENTS.column_names
        if c != "EventType"
    ]
    values.insert(EVENTS.column_names.index("EventType"), f"'{kind}' AS EventType")
    return f"SELECT {', '.join(values)} FROM {source}"


def runnable_status(state: dict[str, Any] | None) -> str:
    """The step's status when ``task()`` would run it now, else 'NULL' (nothing to run)."""
    if state is None or state.get("TaskIsActive") is False:
        return INACTIVE
    status = state["StatusCode"]
    return INACTIVE if states.refusal("start", status) else status


def _named_step(
    ctx: Context, a: PendingArgs | TaskStatusArgs, function: str
) -> dict[str, Any] | None:
    """The step a task_id (with or without workflow_id) names in an execution, or None.

    Raises:
        InvalidArgumentError: the task_id names several steps (workflow passes); give workflow_id.
    """
    if a.workflow_id is not None:
        key = StepKeyArgs(**a.model_dump(include=set(StepKeyArgs.model_fields)))
        state = read_step(
            ctx, key, with_watermark=True, with_stage=True, processing_date=a.processing_date
        )
        candidates = [state] if state else []
    else:
        where, args = run_filter(a.run())
        found = ctx.executor.query(
            f"SELECT WorkFlowID FROM {ctx.name('ETLProcessingSteps')} WHERE {where}", args
        )
        if len({r["WorkFlowID"] for r in found}) > 1:
            raise InvalidArgumentError(
                f"{function}(): task_id={a.task_id} has a step in {len(found)} workflow passes of execution "
                f"{a.execution_id}; give workflow_id",
                argument="workflow_id",
            )
        if not found:
            return None
        key = StepKeyArgs(
            **a.model_dump(include=set(StepKeyArgs.model_fields) - {"workflow_id"}),
            workflow_id=found[0]["WorkFlowID"],
        )
        state = read_step(
            ctx, key, with_watermark=True, with_stage=True, processing_date=a.processing_date
        )
        candidates = [state] if state else []
    for state in candidates:
        check_step(function, state, a.expected)
    return candidates[0] if candidates else None


def check_step(function: str, state: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    """Refuse a call whose sequence_id, processing_date or attempts disagree with its step.

    A step is named by its execution and (task_id, workflow_id); what else the caller
    says about it must hold, so that arguments in another order never reach another step.

    Raises:
        InvalidArgumentError: naming the argument, the value given and the step's.
    """
    if state is None:
        return
    for column, value in expected.items():
        have = attempts_of(state) if column == "Attempts" else state.get(column)
        if value is not None and have != value:
            name = STEP_FACTS[column]
            raise InvalidArgumentError(
                f"{function}(): {name}={value!r} does not match the step of task_id="
                f"{state.get('TaskID')} workflow_id={state.get('WorkFlowID')} in execution "
                f"{state.get('ExecutionID')}, which has {name}={have!r}; nothing was written",
                argument=name,
                value=value,
            )


def task_status(ctx: Context, a: TaskStatusArgs) -> str:
    """The named step's status when it can run now (NQUE, RQUE, FAIL, CANCELLED), else 'NULL'.

    'NULL' means nothing to run: no such step, DONE, RUNNING, SKIPPED or a deactivated
    task. Without task_id, the status of the first pending step (or 'NULL').
    """
    if a.task_id is None:
        rows = get_pending_tasks(ctx, PendingArgs(**a.model_dump())).limit(1).collect()
        return rows[0]["Status"] if rows else INACTIVE
    return runnable_status(_named_step(ctx, a, "task_status"))


PENDING_ORDER = "ORDER BY WorkFlowID, SequenceID, TaskID"


def _watermark_text(state: dict[str, Any]) -> str | None:
    """v_watermarks.ActiveValue of the step's watermark, from the values read with the step."""
    kind = state.get("WatermarkType")
    if kind == "DELTA_DATE":
        value = state.get("WatermarkDateTime")
        return iso_text(utc(value)) if value else "1900-01-01T00:00:00.000"
    if kind == "DELTA_ID":
        return str(state.get("WatermarkInt") or 0)
    return None


def _pending_row(a: PendingArgs, state: dict[str, Any] | None) -> tuple[Any, ...]:
    """One v_pendingTasks row for a named step; Status 'NULL' when it has nothing to run."""
    state = state or {}
    values = {
        **{VIEW_NAMES.get(c, c): v for c, v in state.items()},
        "Status": runnable_status(state or None),
        "ExecutionID": state.get("ExecutionID", a.execution_id),
        "ProjectCode": state.get("ProjectCode", a.project_code),
        "ProcessLoad": state.get("ProcessLoad", a.process_load),
        "Attempts": attempts_of(state),
        "ForceSkip": state.get("StatusCode") == states.SKIPPED if state else None,
        "WatermarkValue": _watermark_text(state),
    }
    return tuple(values.get(name) for name, _, _ in PENDING_COLUMNS)


def get_pending_tasks(ctx: Context, a: PendingArgs) -> Any:
    """Runnable steps as a DataFrame (v_pendingTasks' columns), in workflow and stage order.

    Generates the execution's steps on first call. With task_id, exactly one row: the
    step's Status when it can run now, else 'NULL' (the ADF convention).
    """
    _, day = _generate(
        ctx, a.run().model_copy(update={"task_id": None, "workflow_id": None, "sequence_id": None})
    )
    if a.task_id is not None:
        named = a.model_copy(update={"processing_date": a.processing_date or day})
        row = _pending_row(a, _named_step(ctx, named, "get_pending_tasks"))
        return ctx.spark.createDataFrame([row], pending_schema())
    filters = ["ExecutionID = :e", "ProjectCode = :p", "ProcessLoad = :l", "ProcessingDate = :d"]
    # The date lets the filter pass the views' "current execution" window to the scan.
    args: dict[str, Any] = {"e": a.execution_id, "p": a.project_code, "l": a.process_load, "d": day}
    for column, value in (("SequenceID", a.sequence_id), ("WorkFlowID", a.workflow_id)):
        if value is not None:
            filters.append(f"{column} = :{column}")
            args[column] = value
    return ctx.executor.dataframe(
        f"SELECT * FROM {ctx.name('v_pendingTasks')} WHERE {' AND '.join(filters)} {PENDING_ORDER}",
        args,
    )


def pending_schema() -> Any:
    """The StructType of v_pendingTasks (and of get_pending_tasks' DataFrames)."""
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(n, spark_type(t), True) for n, t, _ in PENDING_COLUMNS])


def _transition(ctx: Context, function: str, action: str, a: Any, **changes: Any) -> None:
    """Claim one allowed transition of one step, or raise why it is not allowed or was lost."""
    state = read_step(ctx, a.key, processing_date=a.processing_date)
    if state is None:
        raise NotFoundError(
            f"{function}(): execution {a.execution_id} has no step for {a.project_code}/"
            f"{a.process_load} task_id={a.task_id} workflow_id={a.workflow_id}"
        )
    check_step(function, state, a.expected)
    try:
        target = states.check(action, state["StatusCode"], attempt=state["AttemptNo"] or 1)
    except StepStateError as refused:
        raise StepStateError(f"{function}(): {refused}") from None
    row = step_event(state, target, user=ctx.user, reason=_REASONS[action], claim=True, **changes)
    if not claim_events(ctx, [row]):
        now = read_step(ctx, a.key, processing_date=state["ProcessingDate"]) or {}
        raise StepStateError(
            f"{function}(): the step changed meanwhile (it is now {now.get('StatusCode')}); "
            "nothing was written"
        )


_REASONS = {"skip": "skipped", "unskip": "unskipped"}


def skip_task(ctx: Context, a: SkipArgs) -> None:
    """Skip a queued step in this execution only; a later execution queues the task again.

    Raises:
        NotFoundError: the execution has no such step.
        InvalidArgumentError: sequence_id or processing_date do not match the step.
        StepStateError: the step is not queued, or changed while skipping.
    """
    changes = {"LogMessage": a.reason} if a.reason is not None else {}
    _transition(ctx, "skip_task", "skip", a, **changes)


def unskip_task(ctx: Context, a: UnskipArgs) -> None:
    """Put a skipped step back in the queue at its attempt number.

    Raises:
        NotFoundError: the execution has no such step.
        InvalidArgumentError: sequence_id or processing_date do not match the step.
        StepStateError: the step is not SKIPPED, or changed meanwhile.
    """
    _transition(ctx, "unskip_task", "unskip", a)


def _describe(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"task {r['TaskID']}/{r['WorkFlowID']} {r['StatusCode']}" for r in rows)


def status_reset(ctx: Context, a: ResetArgs) -> int:
    """Re-queue steps (RQUE, next attempt) and return how many were reset.

    - ``execution_id``: the failed, cancelled and skipped steps of that execution; with
      ``force=True`` its RUNNING steps too (a process killed inside ``task()`` leaves its
      step RUNNING: this is how to run it again).
    - ``processing_date`` without ``execution_id``: a day replay, every step of that date,
      DONE ones included, so that the next execution runs the whole day again. Neither
      given: the process's processing date (the historic date, else today).
    - ``workflow_id`` / ``sequence_id`` / ``task_id``: only the steps they name, whatever
      their status; ``attempts``: only steps of executions up to that retry counter.
    The initiation step (0, 0) of each affected execution is reset too. In a day replay or
    a task reset a RUNNING step raises unless ``force=True``. A reset that changes nothing
    logs a warning that says why and returns 0. ``remark`` is recorded as the reset's
    message. Earlier events stay in the log.

    Raises:
        NotFoundError: no steps match.
        StepStateError: a day replay or task reset meets a RUNNING step without force.
    """
    run = a.run()
    if run.execution_id is None and run.processing_date is None:
        run = run.model_copy(
            update={"processing_date": default_processing_date(ctx, a.project_code, a.process_load)}
        )
    scope = run.model_copy(update={"workflow_id": None, "sequence_id": None, "task_id": None})
    where, args = run_filter(scope)
    rows = [
        r.asDict()
        for r in ctx.executor.query(
            f"SELECT {state_columns()}, Seq FROM {ctx.name('ETLProcessingSteps')} WHERE {where}",
            args,
        )
    ]
    if a.attempts is not None:
        rows = [r for r in rows if (r["Attempts"] or 0) <= a.attempts]
    if not rows:
        raise NotFoundError(
            f"status_reset(): no steps for {a.project_code}/{a.process_load} with {args}"
        )
    named = {
        column: value
        for column, value in (
            ("WorkFlowID", a.workflow_id),
            ("SequenceID", a.sequence_id),
            ("TaskID", a.task_id),
        )
        if value is not None
    }
    force = a.force
    if named:
        chosen = [r for r in rows if all(r[c] == v for c, v in named.items())]
        if not chosen:
            names = ", ".join(f"{c}={v}" for c, v in named.items())
            raise NotFoundError(f"status_reset(): no step for {names}")
        mode = "task"
    elif a.execution_id is not None:
        chosen = [r for r in rows if not states.refusal("reset", r["StatusCode"], force=force)]
        chosen = [r for r in chosen if r["StatusCode"] != DONE]  # a retry keeps what succeeded
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
        and not states.refusal("reset", r["StatusCode"], force=True)
    ]
    running = [
        r for r in chosen if r["StatusCode"] == RUNNING and (r["TaskID"], r["WorkFlowID"]) != (0, 0)
    ]
    if running and not force:
        names = ", ".join(f"task_id={r['TaskID']}/workflow_id={r['WorkFlowID']}" for r in running)
        raise StepStateError(
            f"status_reset(): {names} still RUNNING; pass force=True if its process died"
        )
    chosen = [r for r in chosen if r["StatusCode"] not in QUEUED]
    if not chosen:
        hint = (
            "; RUNNING steps are reset only with force=True (when their process died)"
            if any(r["StatusCode"] == RUNNING for r in rows) and not force
            else ""
        )
        log.warning(
            "status_reset %s/%s (%s): nothing to reset: %s%s",
            a.project_code,
            a.process_load,
            mode,
            _describe(rows),
            hint,
        )
        return 0
    now, user = utcnow(), ctx.user
    events = [
        step_event(
            r,
            states.check("reset", r["StatusCode"], force=True),
            user=user,
            when=now,
            reason=f"status_reset ({mode})",
            claim=True,
            LogMessage=a.remark if a.remark is not None else r.get("LogMessage"),
            AttemptNo=(r["AttemptNo"] or 0) + 1,
            StartTime=None,
            EndTime=None,
        )
        for r in chosen
    ]
    reset = claim_events(ctx, events)
    if reset < len(events):
        log.warning(
            "status_reset %s/%s: %d of %d steps changed meanwhile and were not reset",
            a.project_code,
            a.process_load,
            len(events) - reset,
            len(events),
        )
    log.info(
        "status_reset %s/%s (%s): %d steps re-queued", a.project_code, a.process_load, mode, reset
    )
    return reset
