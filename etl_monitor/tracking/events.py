"""The run-time log: building STEP and WATERMARK rows and raw receipts, and writing them.

A step event carries the step's whole state and its number ``Seq`` (previous + 1), so
the current state is the event with the highest ``Seq``: no clock decides the order.
Two kinds of write:

- ``claim_events``: a transition that must happen once (queue, start, skip, unskip,
  reset) gets the id ``stable_event_id(step, Seq)`` and is written so that the id lands
  once: an idempotent append keyed by it where the engine has Delta's idempotent
  writes, else an insert-only MERGE on it. Of several writers of one transition exactly
  one lands its row; the others learn they lost from a narrow read.
- ``append_events``: the run owner's end (DONE with its watermark advances in the same
  commit, or FAIL) and watermark changes are blind appends, which never conflict.

Event ids are chosen before the first write attempt, so a retried append that had in
fact committed shows once in the views.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from etl_monitor.core.context import Context
from etl_monitor.core.objects import Table
from etl_monitor.engine.timestamps import epoch_micros, utcnow
from etl_monitor.tracking.maintenance import compact_if_due
from etl_monitor.tracking.tables import EVENTS, SYSLOGS

_NAMESPACE = uuid.UUID("5f1d8a4e-1c55-4a36-9a8e-6a0c7e0f2b11")

_DATE, _ID, _TIME, _BY, _REASON, _SEQ = (
    EVENTS.column_names.index(c)
    for c in ("ProcessingDate", "EventID", "EventTime", "CreatedBy", "Reason", "Seq")
)

#: The columns that identify a step.
STEP_KEY = ("ExecutionID", "ProjectCode", "ProcessLoad", "ProcessingDate", "TaskID", "WorkFlowID")
_NOT_STEP = {
    "EventID",
    "EventTime",
    "EventType",
    "PreviousStatus",
    "ParameterName",
    "ParameterType",
    "ValueDateTime",
    "ValueINT",
    "ValueBIT",
    "Reason",
    "CreatedBy",
    "Seq",
}
#: The step's state, carried whole by every STEP event.
STEP_COLUMNS = [c for c in EVENTS.column_names if c not in _NOT_STEP]

#: Step columns the views show under databricks-etl-monitor 1.0's names (same meaning).
VIEW_NAMES = {
    "StatusCode": "Status",
    "FileName": "FullFileName",
    "SourcePath": "InFilePath",
    "TargetPath": "OutFilePath",
}


def attempts_of(state: Mapping[str, Any]) -> int | None:
    """A step's Attempts; for steps queued before that column existed, AttemptNo - 1."""
    if state.get("Attempts") is None and state.get("AttemptNo"):
        return state["AttemptNo"] - 1
    return state.get("Attempts")


def state_columns(alias: str = "") -> str:
    """SELECT list reading ETLProcessingSteps back under the event log's column names."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        f"{prefix}{VIEW_NAMES[c]} AS {c}" if c in VIEW_NAMES else f"{prefix}{c}"
        for c in STEP_COLUMNS
    )


#: Within a watermark generation the highest value wins (concurrent advances never go back).
HIGHEST_VALUE = "e.ValueINT DESC NULLS LAST, e.ValueDateTime DESC NULLS LAST"


def latest_first(alias: str, *, value_order: str = "") -> str:
    """ORDER BY text that puts the current event of a step (or parameter) first.

    Highest ``Seq`` first; rows written before ``Seq`` existed (NULL) rank below and
    keep their old order by EventTime. ``value_order`` breaks ties within a watermark
    generation (the highest value wins); EventID breaks the remaining ties.
    """
    a = alias
    order = [
        f"COALESCE({a}.Seq, 0) DESC",
        f"CASE WHEN {a}.Seq IS NULL THEN {a}.EventTime END DESC",
    ]
    if value_order:
        order.append(value_order)
    order.append(f"{a}.EventID DESC")
    return ", ".join(order)


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


def step_seq(state: Mapping[str, Any]) -> int:
    """The number the next event of this step gets."""
    return int(state.get("Seq") or 0) + 1


def claim_id(state: Mapping[str, Any], seq: int) -> str:
    """The id every writer of the step's event number `seq` uses, so only one row lands."""
    return stable_event_id(*(state.get(k) for k in STEP_KEY), "seq", seq)


def step_event(
    state: Mapping[str, Any],
    status: str,
    *,
    user: str,
    reason: str,
    claim: bool = False,
    event_id: str | None = None,
    when: datetime | None = None,
    **changes: Any,
) -> tuple:
    """A STEP event: the step's state (``state`` updated by ``changes``) with a new status.

    With ``claim=True`` the event id is the step's `claim_id`, for `claim_events`.
    """
    values = {c: state.get(c) for c in STEP_COLUMNS}
    values.update(changes)
    seq = step_seq(state)
    values.update(
        Seq=seq,
        EventID=claim_id(values, seq) if claim else (event_id or new_event_id()),
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
    generation: int,
    reason: str,
    user: str,
    event_id: str | None = None,
    when: datetime | None = None,
) -> tuple:
    """A WATERMARK event: the new value of one parameter in value `generation`.

    An advance keeps the current generation (the highest value of a generation wins, so
    concurrent advances never move it backwards); a deliberate set (bulk mode, restore,
    flag) starts the next one, which outranks every advance read before it.
    """
    return _row(
        {
            "Seq": generation,
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
    """One blind append (one Delta commit) of event rows; then a compaction if one is due.

    Where the engine does not compact after writes, the log is compacted here once per
    hundred commits (`maintenance.compact_if_due`), so its file count stays bounded.
    """
    ctx.executor.append(ctx.name(EVENTS), rows, spark_schema(EVENTS))
    compact_if_due(ctx, EVENTS)


def claim_events(ctx: Context, rows: Sequence[tuple]) -> int:
    """Write STEP events whose ids are not in the log yet, so that each id lands once.

    Two paths, one per engine capability (`Engine.idempotent_append`):

    - a change of an existing step (Seq 2 and later: start, skip, unskip, reset) is one
      idempotent append per row, with the row's id as the write's transaction id: a
      blind append, so starters of different steps never wait for each other;
    - the steps' first events (Seq 1, queued by a generation) and every claim on
      engines without idempotent writes are one insert-only MERGE, which reads only
      the processing dates of the rows.

    Every writer of one (step, Seq) takes the same path, so each id lands once either
    way. A narrow read of the rows' dates then tells which rows landed as this writer
    wrote them; a claim costs the same after years of history.

    Returns:
        How many rows were inserted by this writer: a row whose id another writer
        already wrote is not counted.
    """
    if not rows:
        return 0
    dates = sorted({row[_DATE] for row in rows})
    assert None not in dates, "a STEP event has a processing date"
    by_append = [ctx.engine.idempotent_append and row[_SEQ] != 1 for row in rows]
    changes = [row for row, append in zip(rows, by_append, strict=True) if append]
    firsts = [row for row, append in zip(rows, by_append, strict=True) if not append]
    for row in changes:
        ctx.executor.append_once(ctx.name(EVENTS), [row], spark_schema(EVENTS), token=row[_ID])
    if firsts:
        ctx.executor.merge_new_rows(
            ctx.name(EVENTS),
            firsts,
            spark_schema(EVENTS),
            key="EventID",
            within={"ProcessingDate": sorted({row[_DATE] for row in firsts})},
        )
    return _landed(ctx, rows, dates)


def _landed(ctx: Context, rows: Sequence[tuple], dates: Sequence[Any]) -> int:
    """How many of `rows` are in the log with this writer's time, author and reason."""
    found = ctx.executor.select_in(
        ctx.name(EVENTS),
        {
            "EventID": "EventID",
            "Micros": "unix_micros(EventTime)",
            "CreatedBy": "CreatedBy",
            "Reason": "Reason",
        },
        {"ProcessingDate": dates, "EventID": [row[_ID] for row in rows]},
    )
    written = {(r["EventID"], r["Micros"], r["CreatedBy"], r["Reason"]) for r in found}
    return sum(
        (row[_ID], epoch_micros(row[_TIME]), row[_BY], row[_REASON]) in written for row in rows
    )


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
