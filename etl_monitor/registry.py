"""Config upserts: organisations, projects, processes, tasks, parameters.

Each call validates every argument first, checks that what it refers to exists, then
writes one MERGE whose source is a one-row DataFrame (no value in SQL text). A repeat
call with the same values changes nothing; a changed call updates the row in place and
keeps CreatedOn / CreatedBy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .context import Context, utcnow
from .errors import NotFoundError
from .schema import ORGANISATION, PARAMETERS, PROCESS, PROJECT, SEQUENCE, TASKS, Table
from .sql import quote
from .validation import (
    OrganisationArgs,
    ParameterArgs,
    ProcessArgs,
    ProjectArgs,
    SequenceArgs,
    TaskArgs,
    TaskKeyArgs,
    validate,
)

log = logging.getLogger("etl_monitor.registry")

_AUDIT = ("CreatedOn", "CreatedBy", "ModifiedOn", "ModifiedBy")


def upsert(ctx: Context, table: Table, values: Mapping[str, Any], *, insert: bool = True) -> None:
    """MERGE one row into a config table by its key; update only when something differs.

    With ``insert=False`` only existing rows are updated (for partial updates).
    """
    upsert_many(ctx, table, [values], insert=insert)


def upsert_many(
    ctx: Context, table: Table, rows: list[Mapping[str, Any]], *, insert: bool = True
) -> None:
    """MERGE many rows (same columns, unique keys; the last one wins) in one statement and commit."""
    if not rows:
        return
    now, user = utcnow(), ctx.user
    audit = {"CreatedOn": now, "CreatedBy": user, "ModifiedOn": now, "ModifiedBy": user}
    by_key = {tuple(r[k] for k in table.key): {**r, **audit} for r in rows}
    first = next(iter(by_key.values()))
    unknown = set(first) - set(table.column_names)
    assert not unknown, f"columns not in {table.name}: {unknown}"
    cols = [c for c in table.column_names if c in first]
    data = [c for c in cols if c not in table.key and c not in _AUDIT]
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in table.key)
    changed = " OR ".join(f"NOT (t.{quote(c)} <=> s.{quote(c)})" for c in data)
    updates = ", ".join(f"t.{quote(c)} = s.{quote(c)}" for c in [*data, "ModifiedOn", "ModifiedBy"])
    values = [[r[c] for c in cols] for r in by_key.values()]
    with ctx.executor.temp_rows(values, table.spark_schema(cols)) as src:
        ctx.executor.execute(
            f"MERGE INTO {ctx.name(table)} AS t USING {src} AS s\nON {on}\n"
            f"WHEN MATCHED AND ({changed}) THEN UPDATE SET {updates}"
            + (
                f"\nWHEN NOT MATCHED THEN INSERT ({', '.join(quote(c) for c in cols)}) "
                f"VALUES ({', '.join('s.' + quote(c) for c in cols)})"
                if insert
                else ""
            )
        )
    log.info("registered %d row(s) in %s", len(by_key), table.name)


def _require_process(
    ctx: Context, project_code: str, process_load: str, sequence_id: int | None = None
) -> None:
    """Raise NotFoundError unless the process (and the stage, when given) is registered."""
    stage = (
        f", (SELECT COUNT(*) FROM {ctx.name(SEQUENCE)} WHERE SequenceID = :sequence_id) AS stages"
        if sequence_id is not None
        else ", 1 AS stages"
    )
    args: dict[str, Any] = {"project_code": project_code, "process_load": process_load}
    if sequence_id is not None:
        args["sequence_id"] = sequence_id
    row = ctx.executor.query(
        f"SELECT (SELECT COUNT(*) FROM {ctx.name(PROCESS)} "
        f"WHERE ProjectCode = :project_code AND ProcessLoad = :process_load) AS processes{stage}",
        args,
    )[0]
    if not row["processes"]:
        raise NotFoundError(
            f"process {project_code}/{process_load} is not registered; call "
            f"register_process({project_code!r}, {process_load!r}, ...) first"
        )
    if not row["stages"]:
        raise NotFoundError(
            f"sequence_id={sequence_id} is not a stage in {SEQUENCE.name}; the framework stages "
            "are 0-6, register custom stages (SequenceID >= 10) with register_sequence()"
        )


def register_organisation(ctx: Context, org_code: str, **kwargs: Any) -> None:
    a = validate(OrganisationArgs, "register_organisation", org_code=org_code, **kwargs)
    upsert(
        ctx,
        ORGANISATION,
        {
            "OrgCode": a.org_code,
            "OrgName": a.name,
            "Description": a.description,
            "IsActive": a.is_active,
        },
    )


def register_project(ctx: Context, project_code: str, **kwargs: Any) -> None:
    a = validate(ProjectArgs, "register_project", project_code=project_code, **kwargs)
    upsert(
        ctx,
        PROJECT,
        {
            "ProjectCode": a.project_code,
            "OrgCode": a.org_code,
            "ProjectName": a.name,
            "Description": a.description,
            "Owner": a.owner,
            "IsActive": a.is_active,
        },
    )


def register_process(ctx: Context, project_code: str, process_load: str, **kwargs: Any) -> None:
    a = validate(
        ProcessArgs,
        "register_process",
        project_code=project_code,
        process_load=process_load,
        **kwargs,
    )
    upsert(
        ctx,
        PROCESS,
        {
            "ProjectCode": a.project_code,
            "ProcessLoad": a.process_load,
            "ProcessName": a.name,
            "Description": a.description,
            "Owner": a.owner,
            "LoadFrequency": a.load_frequency,
            "IsActive": a.is_active,
        },
    )


def register_task(ctx: Context, project_code: str, process_load: str, **kwargs: Any) -> None:
    a = validate(
        TaskArgs, "register_task", project_code=project_code, process_load=process_load, **kwargs
    )
    _require_process(ctx, a.project_code, a.process_load, a.sequence_id)
    upsert(
        ctx,
        TASKS,
        {
            "ProjectCode": a.project_code,
            "ProcessLoad": a.process_load,
            "TaskID": a.task_id,
            "WorkFlowID": a.workflow_id,
            "SequenceID": a.sequence_id,
            "TaskName": a.task_name,
            "SourceType": a.source_type,
            "SourceSystemCode": a.source_system_code,
            "TaskMandatory": a.task_mandatory,
            "IsActive": a.is_active,
            "LoadFrequency": a.load_frequency,
            "FileMask": a.file_mask,
            "FileExtension": a.file_extension,
            "SourcePath": a.source_path,
            "TargetPath": a.target_path,
            "SLAMinutes": a.sla_minutes,
            "Description": a.description,
        },
    )


def register_parameter(
    ctx: Context,
    project_code: str,
    process_load: str,
    parameter_name: str,
    parameter_type: str,
    **kwargs: Any,
) -> None:
    a = validate(
        ParameterArgs,
        "register_parameter",
        project_code=project_code,
        process_load=process_load,
        parameter_name=parameter_name,
        parameter_type=parameter_type,
        **kwargs,
    )
    _require_process(ctx, a.project_code, a.process_load)
    upsert(
        ctx,
        PARAMETERS,
        {
            "ProjectCode": a.project_code,
            "ProcessLoad": a.process_load,
            "ParameterName": a.parameter_name,
            "ParameterType": a.parameter_type,
            "ValueDateTime": a.value_datetime,
            "ValueINT": a.value_int,
            "ValueBIT": a.value_bit,
            "Description": a.description,
            "IsActive": a.is_active,
        },
    )


def set_task_active(
    ctx: Context,
    project_code: str,
    process_load: str,
    task_id: int,
    workflow_id: int,
    is_active: bool,
) -> None:
    """Switch a registered task on or off; raises NotFoundError for an unknown task."""
    function = "activate_task" if is_active is True else "deactivate_task"
    a = validate(
        TaskKeyArgs,
        function,
        project_code=project_code,
        process_load=process_load,
        task_id=task_id,
        workflow_id=workflow_id,
    )
    found = ctx.executor.query(
        f"SELECT COUNT(*) AS n FROM {ctx.name(TASKS)} WHERE ProjectCode = :project_code "
        "AND ProcessLoad = :process_load AND TaskID = :task_id AND WorkFlowID = :workflow_id",
        a.model_dump(),
    )[0]["n"]
    if not found:
        raise NotFoundError(
            f"{function}(): no task {a.project_code}/{a.process_load} task_id={a.task_id} "
            f"workflow_id={a.workflow_id}; register it with register_task() first"
        )
    upsert(
        ctx,
        TASKS,
        {
            "ProjectCode": a.project_code,
            "ProcessLoad": a.process_load,
            "TaskID": a.task_id,
            "WorkFlowID": a.workflow_id,
            "IsActive": bool(is_active),
        },
        insert=False,
    )


def register_sequence(ctx: Context, sequence_id: int, sequence_code: str, **kwargs: Any) -> None:
    """Add or change a custom stage (SequenceID >= 10; 0-9 belong to the framework)."""
    a = validate(
        SequenceArgs,
        "register_sequence",
        sequence_id=sequence_id,
        sequence_code=sequence_code,
        **kwargs,
    )
    upsert(
        ctx,
        SEQUENCE,
        {
            "SequenceID": a.sequence_id,
            "SequenceCode": a.sequence_code,
            "Description": a.description,
            "IsFrameworkManaged": False,
        },
    )
