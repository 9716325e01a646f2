"""The append-only run-time log: building STEP, WATERMARK rows and raw receipts, and appending them.

Every run-time change is a blind append, which Delta commits side by side with other
appends: parallel tasks never conflict. A step event carries the step's whole state, so
the current state is simply the latest event. Event ids are chosen before the first
write attempt, so a retried append that had in fact committed is dropped by the views.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from etl_monitor.engine.context import Context
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.runs.views import STEP_COLUMNS
from etl_monitor.schema.tables import EVENTS, SYSLOGS, Table

_NAMESPACE = uuid.UUID("5f1d8a4e-1c55-4a36-9a8e-6a0c7e0f2b11")


def new_event_id() -> str:
    return str(uuid.uuid4())


def stable_event_id(*parts: object) -> str:
    """Deterministic id: two workers writing the same logical event produce one row in the views."""
    return str(uuid.uuid5(_NAMESPACE, "|".join(str(p) for p in parts)))


@cache
def spark_schema(table: Table) -> Any:
    return table.spark_schema()


def _row(values: Mapping[str, Any]) -> tuple:
    unknown = set(values) - set(EVENTS.column_names)
    assert not unknown, f"not event columns: {unknown}"
    return tuple(values.get(c) for c in EVENTS.column_names)


def step_event(
    state: Mapping[str, Any],
    status: str,
    *,
    user: str,
    reason: str,
    event_id: str | None = None,
    when: datetime | None = None,
    **changes: Any,
) -> tuple:
    """A STEP event: the step's state (``state`` updated by ``changes``) with a new status."""
    values = {c: state.get(c) for c in STEP_COLUMNS}
    values.update(changes)
    values.update(
        EventID=event_id or new_event_id(),
        EventTime=when or utcnow(),
        EventType="STEP",
        StatusCode=status,
        PreviousStatus=state.get("StatusCode"),
        Reason=reason,
        CreatedBy=user,
    )
    return _row(values)


def watermark_event(
    project_code: str,
    process_load: str,
    parameter_name: str,
    parameter_type: str,
    *,
    value_datetime: datetime | None = None,
    value_int: int | None = None,
    value_bit: bool | None = None,
    execution_id: str | None = None,
    reason: str,
    user: str,
    event_id: str | None = None,
    when: datetime | None = None,
) -> tuple:
    """A WATERMARK event: the new value of one parameter."""
    return _row(
        {
            "EventID": event_id or new_event_id(),
            "EventTime": when or utcnow(),
            "EventType": "WATERMARK",
            "ExecutionID": execution_id,
            "ProjectCode": project_code,
            "ProcessLoad": process_load,
            "ParameterName": parameter_name,
            "ParameterType": parameter_type,
            "ValueDateTime": value_datetime,
            "ValueINT": value_int,
            "ValueBIT": value_bit,
            "Reason": reason,
            "CreatedBy": user,
        }
    )


def append_events(ctx: Context, rows: Sequence[tuple]) -> None:
    """One blind append (one Delta commit) of event rows."""
    ctx.executor.append(ctx.name(EVENTS), rows, spark_schema(EVENTS))


def append_receipt(ctx: Context, values: Mapping[str, Any]) -> str:
    """Append one raw run receipt to ETLsysLogs; returns its LogID."""
    log_id = new_event_id()
    row = {"LogID": log_id, "LogTime": utcnow(), "CreatedBy": ctx.user, **values}
    unknown = set(row) - set(SYSLOGS.column_names)
    assert not unknown, f"not ETLsysLogs columns: {unknown}"
    ctx.executor.append(
        ctx.name(SYSLOGS), [tuple(row.get(c) for c in SYSLOGS.column_names)], spark_schema(SYSLOGS)
    )
    return log_id
