"""Reads of run state for the features above tracking: one execution's steps, its blockers,
one step's status, a process's rows of a reporting view.

Everything outside ``tracking/`` that asks "what state is this run in?" asks here, with
named parameters only; the views are those `setup()` creates (`tracking.views`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from etl_monitor.core.context import Context
from etl_monitor.errors import InvalidIdentifierError, NotFoundError
from etl_monitor.tracking.states import sql_in
from etl_monitor.tracking.tables import PROCESS, TASKS
from etl_monitor.tracking.views import (
    ALL_VIEWS,
    MANDATORY_BLOCKERS,
    PROCESSING_STEPS,
    TASK_DETAIL,
)

#: The reporting views a process's rows can be read from (`process_rows`): every view
#: but ETLProcessingSteps, the whole step log.
PROCESS_VIEWS = tuple(v.name for v in ALL_VIEWS if v is not PROCESSING_STEPS)

_EXECUTION = "WHERE ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l"


def _execution(execution_id: str, project_code: str, process_load: str) -> dict[str, Any]:
    return {"e": execution_id, "p": project_code, "l": process_load}


def execution_steps(
    ctx: Context, execution_id: str, project_code: str, process_load: str
) -> list[Any]:
    """Every step of one execution, in stage order, with its effective status.

    Returns:
        Rows of TaskID, WorkFlowID, SequenceID, TaskName, TaskMandatory, EffectiveStatus.
    """
    return ctx.executor.query(
        "SELECT TaskID, WorkFlowID, SequenceID, TaskName, TaskMandatory, EffectiveStatus\n"
        f"FROM {ctx.name(TASK_DETAIL.name)}\n{_EXECUTION}\n"
        "ORDER BY SequenceID, WorkFlowID, TaskID",
        _execution(execution_id, project_code, process_load),
    )


def execution_blockers(
    ctx: Context, execution_id: str, project_code: str, process_load: str
) -> list[Any]:
    """The failed mandatory steps of one execution (rows of TaskID, WorkFlowID, TaskName)."""
    return ctx.executor.query(
        f"SELECT TaskID, WorkFlowID, TaskName FROM {ctx.name(MANDATORY_BLOCKERS.name)}\n"
        f"{_EXECUTION}\nORDER BY TaskID, WorkFlowID",
        _execution(execution_id, project_code, process_load),
    )


def open_steps_of_types(
    ctx: Context,
    execution_id: str,
    project_code: str,
    process_load: str,
    source_types: Iterable[str],
    closed: Iterable[str],
) -> list[Any]:
    """The steps of one execution of the given source types whose status is not in `closed`.

    Returns:
        Rows of TaskID, WorkFlowID, SequenceID, TaskName, ordered by task and workflow.
    """
    return ctx.executor.query(
        f"SELECT TaskID, WorkFlowID, SequenceID, TaskName FROM {ctx.name(TASK_DETAIL.name)}\n"
        f"{_EXECUTION}\n"
        f"  AND SourceType IN {sql_in(tuple(source_types))} AND EffectiveStatus NOT IN "
        f"{sql_in(tuple(closed))}\n"
        "ORDER BY TaskID, WorkFlowID",
        _execution(execution_id, project_code, process_load),
    )


def effective_status(
    ctx: Context,
    execution_id: str,
    project_code: str,
    process_load: str,
    task_id: int,
    workflow_id: int,
) -> str | None:
    """The effective status of one step of an execution (None: not generated)."""
    rows = ctx.executor.query(
        f"SELECT EffectiveStatus FROM {ctx.name(TASK_DETAIL.name)}\n"
        f"{_EXECUTION}\n  AND TaskID = :t AND WorkFlowID = :w",
        {**_execution(execution_id, project_code, process_load), "t": task_id, "w": workflow_id},
    )
    return rows[0]["EffectiveStatus"] if rows else None


def process_rows(ctx: Context, view: str, project_code: str, process_load: str) -> Any:
    """A process's rows of one reporting view, as a DataFrame.

    Raises:
        InvalidIdentifierError: `view` is not one of `PROCESS_VIEWS`.
    """
    if view not in PROCESS_VIEWS:
        raise InvalidIdentifierError(f"view {view!r} is not one of {list(PROCESS_VIEWS)}")
    return ctx.executor.dataframe(
        f"SELECT * FROM {ctx.name(view)} WHERE ProjectCode = :p AND ProcessLoad = :l",
        {"p": project_code, "l": process_load},
    )


def active_catalogue(
    ctx: Context, project_code: str | None = None, process_load: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The active processes and their active tasks, optionally of one project or process.

    Args:
        ctx: the framework's context.
        project_code: only this project (None: all).
        process_load: only this process (None: all).

    Returns:
        (ETLconfigProcess rows, ETLconfigTasks rows) as dicts.

    Raises:
        NotFoundError: a project or process was named and nothing active matches.
    """
    where, args = ["IsActive <=> TRUE"], {}
    if project_code is not None:
        where.append("ProjectCode = :project_code")
        args["project_code"] = project_code
    if process_load is not None:
        where.append("ProcessLoad = :process_load")
        args["process_load"] = process_load
    condition = " AND ".join(where)
    processes = _dicts(ctx, PROCESS.name, condition, args, "ProjectCode, ProcessLoad")
    if not processes and (project_code or process_load):
        raise NotFoundError(
            f"no active process {project_code or '*'}/{process_load or '*'} in "
            f"{ctx.catalog}.{ctx.schema}.{PROCESS.name}"
        )
    tasks = _dicts(
        ctx, TASKS.name, condition, args, "ProjectCode, ProcessLoad, SequenceID, WorkFlowID, TaskID"
    )
    return processes, tasks


def processes(ctx: Context) -> list[dict[str, Any]]:
    """Every row of the process config (active or not), as dicts."""
    return _dicts(ctx, PROCESS.name, "TRUE", {}, "ProjectCode, ProcessLoad")


def _dicts(
    ctx: Context, table: str, condition: str, args: dict[str, Any], order: str
) -> list[dict[str, Any]]:
    """Rows of one config table as dicts; `condition` and `order` are the library's own text."""
    text = f"SELECT * FROM {ctx.name(table)} WHERE {condition} ORDER BY {order}"
    return [r.asDict() for r in ctx.executor.query(text, args or None)]
