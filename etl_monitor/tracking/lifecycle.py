"""Task lifecycle: start, end, fail, and the ``task()`` context manager.

A task costs one read (its step, task flag and watermark, in one statement) and two
writes: the RUNNING claim (written so that it lands once, see `events.claim_events`: of
several concurrent starters of one step exactly one runs the load), checked by a narrow
read, and the DONE append with its watermark advances in the same commit.
Bookkeeping never turns a successful load into a failure: a failed DONE write is
retried, and if it still fails the load is left RUNNING (stale after a while), never
recorded as FAIL. Which transitions are allowed is `states`' business.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from types import TracebackType
from typing import Any, TypeVar

from etl_monitor.core.arguments import (
    EndArgs,
    EventArgs,
    StepKeyArgs,
    TaskCallArgs,
    utc,
    validate,
)
from etl_monitor.core.context import Context
from etl_monitor.engine import retry
from etl_monitor.engine.retry import RetryPolicy
from etl_monitor.engine.runtime import databricks_ids
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.errors import InvalidArgumentError, StepStateError
from etl_monitor.tracking import states
from etl_monitor.tracking.events import (
    append_events,
    attempts_of,
    claim_events,
    new_event_id,
    step_event,
    step_seq,
    watermark_event,
)
from etl_monitor.tracking.failures import describe_exception, failure_status, safe_text, type_name
from etl_monitor.tracking.queue import check_step, read_step
from etl_monitor.tracking.states import CANCELLED, DONE, FAIL, FAILED, INACTIVE, SKIPPED
from etl_monitor.tracking.watermarks import AdvanceArgs, active_runs, advance_watermark, is_forward

log: logging.Logger = logging.getLogger("etl_monitor.tracking.lifecycle")

T = TypeVar("T")
BOOKKEEPING_RETRY = RetryPolicy(max_attempts=5, base_delay=0.2, max_delay=3.0)


class TaskRun:
    """One run of one task. ``active`` is False when there is nothing to do (and nothing was written)."""

    def __init__(
        self,
        ctx: Context,
        key: StepKeyArgs,
        state: dict[str, Any] | None,
        inactive_reason: str | None,
    ):
        self._ctx = ctx
        self.key = key
        self.state = state or {}
        self.inactive_reason = inactive_reason
        self.active = inactive_reason is None
        #: The step's status; 'NULL' when there is nothing to run (databricks-etl-monitor's marker).
        self.status: str | None = self.state.get("StatusCode") if self.active else INACTIVE
        self.bookkeeping_error: BaseException | None = None
        #: Watermark advances held until DONE: name -> (type, value, generation).
        self.staged: dict[str, tuple[str, Any, int]] = {}

    @property
    def execution_id(self) -> str:
        """The execution the step belongs to."""
        return self.key.execution_id

    @property
    def project_code(self) -> str:
        """The process's project."""
        return self.key.project_code

    @property
    def process_load(self) -> str:
        """The process."""
        return self.key.process_load

    @property
    def task_id(self) -> int:
        """The task."""
        return self.key.task_id

    @property
    def workflow_id(self) -> int:
        """The task's workflow."""
        return self.key.workflow_id

    @property
    def processing_date(self) -> date | None:
        """The step's processing date."""
        return self.state.get("ProcessingDate")

    @property
    def attempt(self) -> int | None:
        """The step's attempt number (1 first)."""
        return self.state.get("AttemptNo")

    @property
    def attempts(self) -> int | None:
        """The execution's retry counter (0 first), what databricks-etl-monitor's start_task returned."""
        return attempts_of(self.state)

    @property
    def file_name(self) -> str | None:
        """The file name the step loaded, when it names one."""
        return self.state.get("FileName")

    @property
    def watermark(self) -> datetime | int | None:
        """The step's watermark: a DELTA_DATE's instant (UTC), else the integer watermark."""
        return (
            self.state.get("WatermarkDateTime")
            if self.state.get("WatermarkType") == "DELTA_DATE"
            else self.state.get("WatermarkInt")
        )

    def __repr__(self) -> str:
        why = "" if self.active else f", inactive: {self.inactive_reason}"
        return f"TaskRun({self.project_code}/{self.process_load} task {self.task_id}/{self.workflow_id}, status={self.status}{why})"

    def __bool__(self) -> bool:
        return self.active

    def advance_watermark(
        self,
        new_datetime_value: Any = None,
        new_int_value: int | None = None,
        parameter_name: str | None = None,
    ) -> bool:
        """Advance a watermark of this process (by default the task's own, its SourceSystemCode)."""
        name = parameter_name or self.state.get("SourceSystemCode")
        if not name:
            raise InvalidArgumentError(
                "advance_watermark(): the task has no SourceSystemCode; pass parameter_name",
                argument="parameter_name",
            )
        args = validate(
            AdvanceArgs,
            "advance_watermark",
            project_code=self.project_code,
            process_load=self.process_load,
            parameter_name=name,
            new_datetime_value=new_datetime_value,
            new_int_value=new_int_value,
            execution_id=self.execution_id,
        )
        return advance_watermark(self._ctx, args, run=self)

    def stage_watermark(
        self, name: str, kind: str, new: Any, current: Any, generation: int = 0
    ) -> bool:
        """Hold an advance until the task ends DONE (called by advance_watermark inside the block)."""
        if not is_forward(kind, current, new):
            log.warning(
                "advance_watermark %s: %r is not ahead of %r; unchanged", name, new, current
            )
            return False
        self.staged[name] = (kind, new, generation)
        return True


def _retry(action: Callable[[], T], what: str, policy: RetryPolicy = BOOKKEEPING_RETRY) -> T:
    """Retry bookkeeping writes on any error but bad input; the last error propagates."""
    return retry.call(
        action,
        policy=policy,
        transient=lambda error: not isinstance(error, InvalidArgumentError | StepStateError),
        what=what,
        level=logging.WARNING,
    )


def _inactive_reason(state: dict[str, Any] | None) -> str | None:
    if state is None:
        return "no such step in this execution (call generate_execution_steps() first)"
    if state.get("TaskIsActive") is False:
        return "the task is deactivated"
    if states.refusal("start", state["StatusCode"]):
        return f"the step is already {state['StatusCode']}"
    return None


def error_message(error: BaseException) -> str:
    """The exception's own text: ``KeyError("it's")`` gives ``it's``, not its repr.

    Args:
        error: any exception; one whose ``__str__`` fails still gets a description.

    Returns:
        The text, safe to write (see `failures.describe_exception`); never raises.
    """
    return describe_exception(error).message


def start(
    ctx: Context, key: StepKeyArgs, event: EventArgs, expected: dict[str, Any] | None = None
) -> TaskRun:
    """Record RUNNING and return an active TaskRun, or an inactive one that wrote nothing."""
    state = read_step(ctx, key, with_watermark=True, processing_date=_day(expected))
    check_step("start_task", state, expected or {})
    reason = _inactive_reason(state)
    run = TaskRun(ctx, key, state, reason)
    if reason:
        log.info("%r not started: %s", run, reason)
        return run
    assert state is not None
    changes: dict[str, Any] = {
        "StartTime": event.timestamp or utcnow(),
        "EndTime": None,
        "SourceRunID": event.source_run_id,
        "LogMessage": event.log_message,
        "LogType": event.log_type,
        "LogCode": event.log_code,
        "ExceptionType": None,
        "StackTrace": None,
        **databricks_ids(ctx.spark),
    }
    if event.source_type:
        changes["SourceType"] = event.source_type
    if state["StatusCode"] in FAILED:  # started again without a reset: an implicit retry
        changes["AttemptNo"] = (state["AttemptNo"] or 0) + 1
    status = states.check("start", state["StatusCode"])
    reason = f"started (run {new_event_id()[:8]})"
    row = step_event(state, status, user=ctx.user, reason=reason, claim=True, **changes)
    day = state["ProcessingDate"]
    if not _retry(lambda: claim_events(ctx, [row]), "start"):  # another starter won
        now = read_step(ctx, key, processing_date=day) or {}
        run.inactive_reason = (
            f"another starter took the step first (it is {now.get('StatusCode')}, "
            f"{now.get('Reason')} by {now.get('ModifiedBy') or now.get('CreatedBy')})"
        )
        run.active, run.status = False, INACTIVE
        log.info("%r not started: %s", run, run.inactive_reason)
        return run
    run.state = {**state, **changes, "StatusCode": status, "Seq": step_seq(state)}
    run.status = status
    return run


def _day(expected: dict[str, Any] | None) -> Any:
    """The processing date the caller gave, if any: a hint that narrows the step read."""
    return (expected or {}).get("ProcessingDate")


def _state_for_end(
    ctx: Context,
    run: TaskRun | None,
    key: StepKeyArgs,
    function: str,
    expected: dict[str, Any] | None = None,
) -> TaskRun | None:
    if run is not None:
        return run
    state = read_step(ctx, key, with_watermark=True, processing_date=_day(expected))
    check_step(function, state, expected or {})
    if state is None:
        raise StepStateError(
            f"{function}(): execution {key.execution_id} has no step for task_id={key.task_id} "
            f"workflow_id={key.workflow_id}"
        )
    status = state["StatusCode"]
    if status == DONE:
        log.info("%s: step already DONE; nothing to record", function)
        return None
    if status == SKIPPED:
        raise StepStateError(f"{function}(): the step was SKIPPED; unskip_task() it first")
    return TaskRun(ctx, key, state, None)


def end(
    ctx: Context,
    key: StepKeyArgs,
    event: EventArgs,
    run: TaskRun | None = None,
    *,
    expected: dict[str, Any] | None = None,
) -> str:
    """Record DONE and, in the same commit, the task's watermark advances; returns the status."""
    run = _state_for_end(ctx, run, key, "end_task", expected)
    if run is None:
        return DONE
    state, now = run.state, event.timestamp or utcnow()
    started = state.get("StartTime") or now
    if started.tzinfo is None:
        started = utc(started)
    rows = [
        step_event(
            state,
            states.check("end", state["StatusCode"]),
            user=ctx.user,
            reason="ended",
            event_id=new_event_id(),
            StartTime=started,
            EndTime=now,
            LogMessage=event.log_message
            if event.log_message is not None
            else state.get("LogMessage"),
            LogType=event.log_type or "INFO",
            LogCode=event.log_code,
            SourceRunID=event.source_run_id or state.get("SourceRunID"),
        )
    ]
    staged = dict(run.staged)
    own, own_type = state.get("WatermarkName"), state.get("WatermarkType")
    if own and own_type == "DELTA_DATE" and own not in staged:
        current = state.get("WatermarkDateTime")
        if is_forward(own_type, utc(current) if current else None, started):
            staged[own] = (own_type, started, state.get("WatermarkGeneration") or 0)
    for name, (kind, value, generation) in sorted(staged.items()):
        rows.append(
            watermark_event(
                key.project_code,
                key.process_load,
                name,
                kind,
                execution_id=key.execution_id,
                generation=max(generation, 1),
                value_datetime=value if kind == "DELTA_DATE" else None,
                value_int=value if kind == "DELTA_ID" else None,
                reason=f"task {key.task_id}/{key.workflow_id} DONE",
                user=ctx.user,
                event_id=new_event_id(),
            )
        )
    _retry(lambda: append_events(ctx, rows), "end")
    run.status = DONE
    return DONE


def fail(
    ctx: Context,
    key: StepKeyArgs,
    event: EventArgs,
    run: TaskRun | None = None,
    *,
    error: BaseException | None = None,
    status: str = FAIL,
    expected: dict[str, Any] | None = None,
) -> str:
    """Record FAIL (or CANCELLED) with the message verbatim, the exception type and the traceback.

    Whatever `error` is (a broken ``__str__``, lone surrogates, a megabyte of message),
    its description is safe to write (`failures.describe_exception`), so the step never
    stays RUNNING for want of a printable exception.

    Args:
        ctx: the framework's context.
        key: the step.
        event: the caller's log message, type and code; a given log_message wins over
            the exception's own.
        run: the run being ended, if this process started it (else the step is read).
        error: the exception to record, if any.
        status: FAIL or CANCELLED.
        expected: what the caller said of the step, checked against it.

    Returns:
        The status recorded.

    Raises:
        StepStateError: the step is DONE, SKIPPED, missing, or may not move to `status`.
    """
    run = _state_for_end(ctx, run, key, "fail_task", expected)
    if run is None:
        raise StepStateError(
            "fail_task(): the step is already DONE; status_reset() it to run it again"
        )
    state = run.state
    action = "fail" if status == FAIL else "cancel"
    status = states.check(action, state["StatusCode"])
    failure = describe_exception(error) if error is not None else None
    message = event.log_message
    if message is not None:
        message = safe_text(message)
    elif failure is not None:
        message = failure.message
    row = step_event(
        state,
        status,
        user=ctx.user,
        reason="failed" if status == FAIL else "cancelled",
        event_id=new_event_id(),
        StartTime=state.get("StartTime"),
        EndTime=event.timestamp or utcnow(),
        LogMessage=message,
        LogType=event.log_type or "ERROR",
        LogCode=event.log_code,
        ExceptionType=failure.exception_type if failure is not None else state.get("ExceptionType"),
        StackTrace=failure.trace if failure is not None else None,
        SourceRunID=event.source_run_id or state.get("SourceRunID"),
    )
    _retry(lambda: append_events(ctx, [row]), "fail")
    run.status = status
    return status


def finish(ctx: Context, a: EndArgs) -> str:
    """end_task(): DONE, or FAIL when the caller says ``status='FAIL'``; returns the status."""
    if a.status == FAIL:
        event = a.event.model_copy(update={"log_type": a.log_type or "ERROR"})
        return fail(ctx, a.key, event, expected=a.expected)
    return end(ctx, a.key, a.event, expected=a.expected)


class TaskContext:
    """``with monitor.task(...) as t:`` records RUNNING, then DONE, or FAIL / CANCELLED and re-raises.

    The call's log_message, log_type and log_code are written with DONE; a failure
    records the exception's own message.
    """

    def __init__(self, ctx: Context, call: TaskCallArgs):
        self._ctx, self._call, self._key = ctx, call, call.key
        self._token: Any = None
        self.run: TaskRun | None = None

    def __enter__(self) -> TaskRun:
        call = self._call
        opening = EventArgs(source_type=call.source_type, source_run_id=call.source_run_id)
        self.run = start(self._ctx, self._key, opening, call.expected)
        self._token = active_runs.set((*active_runs.get(), self.run))
        return self.run

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        active_runs.reset(self._token)
        run = self.run
        if run is None or not run.active:
            return False
        plain = EventArgs(source_run_id=self._call.source_run_id)
        try:
            if exc is None:
                end(
                    self._ctx,
                    self._key,
                    self._call.event.model_copy(update={"timestamp": None}),
                    run,
                )
            elif failure_status(exc) == CANCELLED:
                cancelled = f"{type_name(type(exc))}: cancelled"
                fail(
                    self._ctx,
                    self._key,
                    EventArgs(log_message=cancelled, log_type="WARN"),
                    run,
                    error=exc,
                    status=CANCELLED,
                )
            else:
                fail(self._ctx, self._key, plain, run, error=exc)
        except Exception as error:  # bookkeeping must not hide the body's outcome
            run.bookkeeping_error = error
            log.error("could not record the end of %r: %s", run, error, exc_info=error)
        return False  # an exception from the body propagates unchanged
