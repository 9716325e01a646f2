"""Watermarks and processing modes: current values, advances, history, restores.

A parameter's current value comes from its WATERMARK events, or is its registered value
when it never changed (view ``v_watermarks``). Each event carries a generation: an
advance keeps the generation it read and the highest value of a generation wins, so
DELTA_DATE and DELTA_ID never move backwards, whatever the interleaving of concurrent
advances; a deliberate set (bulk mode, restore, flag, historic date) starts the next
generation, which outranks every advance read before it. Every change is an event, so
the history is complete.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import Field, StrictBool, StrictInt, model_validator

from etl_monitor.core.arguments import (
    BIGINT_MAX,
    BIGINT_MIN,
    Code,
    Day,
    ExecutionId,
    Instant,
    Name,
    _Args,
    utc,
)
from etl_monitor.core.context import Context
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.errors import InvalidArgumentError, NotFoundError
from etl_monitor.tracking.events import append_events, watermark_event

log: logging.Logger = logging.getLogger("etl_monitor.tracking.watermarks")


class StagingRun(Protocol):
    """A started task that holds its process's watermark advances until it ends DONE."""

    @property
    def project_code(self) -> str:
        """The task's project."""
        ...

    @property
    def process_load(self) -> str:
        """The task's process."""
        ...

    @property
    def active(self) -> bool:
        """False when the task has nothing to run."""
        ...

    def stage_watermark(
        self, name: str, kind: str, new: Any, current: Any, generation: int = 0
    ) -> bool:
        """Hold one advance; False when it is not ahead of the current value."""
        ...


#: task() blocks open in this thread / task: advances inside them are written with the DONE.
active_runs: ContextVar[tuple[StagingRun, ...]] = ContextVar("etl_monitor_active_runs", default=())


class ParameterKey(_Args):
    project_code: Code
    process_load: Code
    parameter_name: Name


class AdvanceArgs(ParameterKey):
    new_datetime_value: Instant | None = None
    new_int_value: Annotated[StrictInt, Field(ge=BIGINT_MIN, le=BIGINT_MAX)] | None = None
    execution_id: ExecutionId | None = None


class FlagArgs(ParameterKey):
    value: StrictBool


class RestoreArgs(ParameterKey):
    before_execution_id: ExecutionId


class ModeArgs(_Args):
    project_code: Code
    process_load: Code
    is_bulk_mode: StrictBool = False
    is_historic_mode: StrictBool = False
    processing_date: Day | None = None
    parameter_name: Name | None = None
    value_datetime: Instant | None = None
    value_int: Annotated[StrictInt, Field(ge=BIGINT_MIN, le=BIGINT_MAX)] | None = None
    value_bit: StrictBool | None = None
    historic_date: Day | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("historic_date",)

    @model_validator(mode="after")
    def _one_date(self) -> ModeArgs:
        if None not in (self.processing_date, self.historic_date) and (
            self.processing_date != self.historic_date
        ):
            raise ValueError(
                "processing_date and historic_date name the same date; give one of them"
            )
        if self.is_historic_mode != (self.day is not None):
            raise ValueError(
                "processing_date (or historic_date) is required with is_historic_mode=True "
                "and only then"
            )
        values = (self.value_datetime, self.value_int, self.value_bit)
        if any(v is not None for v in values) and (
            self.parameter_name is None or self.is_bulk_mode
        ):
            raise ValueError(
                "value_datetime, value_int and value_bit set one parameter: give parameter_name, "
                "without is_bulk_mode"
            )
        return self

    @property
    def day(self) -> date | None:
        """The historic date, whichever name it was given under."""
        return self.processing_date or self.historic_date


def read_parameters(
    ctx: Context,
    project_code: str,
    process_load: str,
    parameter_name: str | None = None,
    parameter_type: str | None = None,
) -> list[dict[str, Any]]:
    """Current parameter rows of a process from v_watermarks."""
    filters, args = "ProjectCode = :p AND ProcessLoad = :l", {"p": project_code, "l": process_load}
    if parameter_name is not None:
        filters += " AND ParameterName = :n"
        args["n"] = parameter_name
    if parameter_type is not None:
        filters += " AND ParameterType = :t"
        args["t"] = parameter_type
    rows = ctx.executor.query(
        f"SELECT * FROM {ctx.name('v_watermarks')} WHERE {filters} ORDER BY ParameterName", args
    )
    return [r.asDict() for r in rows]


def _one(ctx: Context, key: ParameterKey, function: str) -> dict[str, Any]:
    rows = read_parameters(ctx, key.project_code, key.process_load, key.parameter_name)
    if not rows:
        raise NotFoundError(
            f"{function}(): parameter {key.parameter_name!r} is not registered for "
            f"{key.project_code}/{key.process_load}; call register_parameter() first"
        )
    return rows[0]


def typed_value(row: dict[str, Any]) -> Any:
    """The value that counts for the parameter's type."""
    return {"DELTA_ID": row["ValueINT"], "FLAG": row["ValueBIT"]}.get(
        row["ParameterType"], row["ValueDateTime"]
    )


def get_active_watermark(ctx: Context, key: ParameterKey) -> Any:
    """Current value: a UTC datetime (DELTA_DATE, SYSTEM), an int (DELTA_ID) or a bool (FLAG); may be None."""
    return typed_value(_one(ctx, key, "get_active_watermark"))


def default_processing_date(ctx: Context, project_code: str, process_load: str) -> date:
    """The historic date when the process is in historic mode, else today (UTC)."""
    rows = [
        r
        for r in read_parameters(ctx, project_code, process_load, parameter_type="SYSTEM")
        if r["ValueDateTime"]
    ]
    return rows[0]["ValueDateTime"].date() if rows else utcnow().date()


def _next_generation(row: dict[str, Any]) -> int:
    """The generation a deliberate set starts: above every advance read before it."""
    return int(row["ValueGeneration"] or 0) + 1


def is_forward(parameter_type: str, current: Any, new: Any) -> bool:
    """True when `new` moves a DELTA watermark forward (NULL means "from the beginning")."""
    if new is None:
        return False
    if current is None:
        return True
    return new > current


def advance_watermark(ctx: Context, a: AdvanceArgs, run: StagingRun | None = None) -> bool:
    """Move a DELTA_DATE (new_datetime_value) or DELTA_ID (new_int_value) watermark forward.

    Inside a ``task()`` block of the same process (or when `run` is a started task of it)
    the value is held and written in the same commit as the task's DONE (and dropped if
    the task fails). A value that is not ahead of the current one is ignored (returns
    False): watermarks never move backwards.
    """
    if (a.new_datetime_value is None) == (a.new_int_value is None):
        raise InvalidArgumentError(
            "advance_watermark(): give exactly one of new_datetime_value, new_int_value",
            argument="new_datetime_value",
        )
    row = _one(ctx, a, "advance_watermark")
    kind = row["ParameterType"]
    expected = {"DELTA_DATE": "new_datetime_value", "DELTA_ID": "new_int_value"}.get(kind)
    given = "new_datetime_value" if a.new_datetime_value is not None else "new_int_value"
    if expected != given:
        raise InvalidArgumentError(
            f"advance_watermark(): {a.parameter_name!r} is a {kind} parameter; "
            + (
                f"use {expected}" if expected else "only DELTA_DATE and DELTA_ID parameters advance"
            ),
            argument=given,
            value=getattr(a, given),
        )
    new = utc(a.new_datetime_value) if kind == "DELTA_DATE" else a.new_int_value
    current = typed_value(row)
    if kind == "DELTA_DATE" and current is not None:
        current = utc(current)
    generation = row["ValueGeneration"] or 0
    for staging in (*active_runs.get(), *([run] if run is not None else []))[::-1]:
        if (staging.project_code, staging.process_load) == (
            a.project_code,
            a.process_load,
        ) and staging.active:
            return staging.stage_watermark(a.parameter_name, kind, new, current, generation)
    if not is_forward(kind, current, new):
        log.warning(
            "advance_watermark %s: %r is not ahead of %r; unchanged", a.parameter_name, new, current
        )
        return False
    append_events(
        ctx,
        [
            watermark_event(
                a.project_code,
                a.process_load,
                a.parameter_name,
                kind,
                execution_id=a.execution_id,
                value_datetime=new if kind == "DELTA_DATE" else None,
                value_int=new if kind == "DELTA_ID" else None,
                generation=max(generation, 1),
                reason="advance_watermark",
                user=ctx.user,
            )
        ],
    )
    return True


def set_flag(ctx: Context, a: FlagArgs) -> None:
    """Set a FLAG parameter."""
    row = _one(ctx, a, "set_flag")
    if row["ParameterType"] != "FLAG":
        raise InvalidArgumentError(
            f"set_flag(): {a.parameter_name!r} is a {row['ParameterType']} parameter, not FLAG",
            argument="parameter_name",
            value=a.parameter_name,
        )
    append_events(
        ctx,
        [
            watermark_event(
                a.project_code,
                a.process_load,
                a.parameter_name,
                "FLAG",
                value_bit=a.value,
                generation=_next_generation(row),
                reason="set_flag",
                user=ctx.user,
            )
        ],
    )


def watermark_history(ctx: Context, key: ParameterKey) -> list[dict[str, Any]]:
    """Every change of a parameter, oldest first."""
    rows = ctx.executor.query(
        "SELECT EventTime, ExecutionID, ParameterType, ValueDateTime, ValueINT, ValueBIT, Reason, CreatedBy, "
        "Seq AS Generation "
        f"FROM (SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.EventID ORDER BY e.EventTime) AS dup_rank "
        f"FROM {ctx.name('ETLProcessingEvents')} e WHERE e.EventType = 'WATERMARK' AND e.ProcessingDate IS NULL "
        "AND e.ProjectCode = :p AND e.ProcessLoad = :l AND e.ParameterName = :n) h WHERE h.dup_rank = 1 "
        "ORDER BY COALESCE(Seq, 0), EventTime, EventID",
        {"p": key.project_code, "l": key.process_load, "n": key.parameter_name},
    )
    return [r.asDict() for r in rows]


def restore_watermark(ctx: Context, a: RestoreArgs) -> Any:
    """Set a parameter back to its value before `before_execution_id` first changed it; returns that value."""
    row = _one(ctx, a, "restore_watermark")
    history = watermark_history(ctx, a)
    first = next(
        (i for i, h in enumerate(history) if h["ExecutionID"] == a.before_execution_id), None
    )
    if first is None:
        raise NotFoundError(
            f"restore_watermark(): execution {a.before_execution_id} never changed "
            f"{a.parameter_name!r}"
        )
    if first > 0:
        previous = history[first - 1]
        values = (previous["ValueDateTime"], previous["ValueINT"], previous["ValueBIT"])
    else:  # back to the registered value
        registered = ctx.executor.query(
            f"SELECT ValueDateTime, ValueINT, ValueBIT FROM {ctx.name('ETLconfigParameters')} "
            "WHERE ProjectCode = :p AND ProcessLoad = :l AND ParameterName = :n",
            {"p": a.project_code, "l": a.process_load, "n": a.parameter_name},
        )[0]
        values = (registered[0], registered[1], registered[2])
    append_events(
        ctx,
        [
            watermark_event(
                a.project_code,
                a.process_load,
                a.parameter_name,
                row["ParameterType"],
                value_datetime=values[0],
                value_int=values[1],
                value_bit=values[2],
                generation=_next_generation(row),
                reason=f"restored to before execution {a.before_execution_id}",
                user=ctx.user,
            )
        ],
    )
    return typed_value(
        {
            "ParameterType": row["ParameterType"],
            "ValueDateTime": values[0],
            "ValueINT": values[1],
            "ValueBIT": values[2],
        }
    )


def set_processing_mode(ctx: Context, a: ModeArgs) -> int:
    """Switch modes; returns the number of parameters changed.

    - bulk: DELTA_DATE watermarks to NULL and DELTA_ID to 0 (a full reload next run).
    - historic: SYSTEM parameters to the given date, the default processing date of run-time calls.
    - neither: live mode, SYSTEM parameters back to NULL (today's date).
    Each touches only its own parameter types, so switching to live keeps a pending bulk
    reset and a bulk reset keeps the historic date. `parameter_name` limits it to one
    parameter; with a value (value_datetime, value_int or value_bit) it sets that value.
    """
    params = read_parameters(ctx, a.project_code, a.process_load, a.parameter_name)
    if a.parameter_name and not params:
        raise NotFoundError(
            f"set_processing_mode(): parameter {a.parameter_name!r} is not registered"
        )
    if a.is_historic_mode and not any(r["ParameterType"] == "SYSTEM" for r in params):
        raise NotFoundError(
            f"set_processing_mode(): {a.project_code}/{a.process_load} has no SYSTEM parameter to hold the "
            "historic date; register one, e.g. register_parameter(project, process, 'SYSDT', 'SYSTEM')"
        )
    given = {"value_datetime": a.value_datetime, "value_int": a.value_int, "value_bit": a.value_bit}
    if any(v is not None for v in given.values()):
        return _set_value(ctx, a, params[0], given)
    events = []
    mode: Literal["bulk", "historic", "live"]
    for row in params:
        kind, value = row["ParameterType"], None
        if kind in ("DELTA_DATE", "DELTA_ID") and a.is_bulk_mode:
            mode, value = "bulk", 0 if kind == "DELTA_ID" else None
        elif kind == "SYSTEM" and a.is_historic_mode:
            mode, value = "historic", utc(a.day)
        elif kind == "SYSTEM" and not a.is_bulk_mode:
            mode = "live"
        else:
            continue
        events.append(
            watermark_event(
                a.project_code,
                a.process_load,
                row["ParameterName"],
                kind,
                generation=_next_generation(row),
                reason=f"processing mode: {mode}",
                value_datetime=value if kind != "DELTA_ID" else None,
                value_int=value if kind == "DELTA_ID" else None,
                user=ctx.user,
            )
        )
    append_events(ctx, events)
    return len(events)


_VALUE_OF = {"DELTA_DATE": "value_datetime", "SYSTEM": "value_datetime", "DELTA_ID": "value_int"}


def _set_value(ctx: Context, a: ModeArgs, row: dict[str, Any], given: dict[str, Any]) -> int:
    """Set one parameter to a given value (a deliberate set: a new generation, may go back)."""
    kind = row["ParameterType"]
    allowed = _VALUE_OF.get(kind, "value_bit")
    wrong = [name for name, v in given.items() if v is not None and name != allowed]
    if wrong:
        raise InvalidArgumentError(
            f"set_processing_mode(): {a.parameter_name!r} is a {kind} parameter; use {allowed}",
            argument=wrong[0],
            value=given[wrong[0]],
        )
    append_events(
        ctx,
        [
            watermark_event(
                a.project_code,
                a.process_load,
                row["ParameterName"],
                kind,
                generation=_next_generation(row),
                reason="set_processing_mode: value set",
                value_datetime=utc(a.value_datetime) if allowed == "value_datetime" else None,
                value_int=a.value_int,
                value_bit=a.value_bit,
                user=ctx.user,
            )
        ],
    )
    return 1
