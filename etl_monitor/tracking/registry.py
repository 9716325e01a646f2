"""Config upserts: organisations, projects, processes, tasks, parameters.

Each call validates every argument first, checks that what it refers to exists, then
writes one MERGE whose source is a one-row DataFrame (no value in SQL text). A repeat
call with the same values changes nothing; a changed call updates the row in place and
keeps CreatedOn / CreatedBy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etl_monitor.core.arguments import (
    OrganisationArgs,
    ParameterArgs,
    ProcessArgs,
    ProjectArgs,
    SequenceArgs,
    TaskArgs,
    TaskKeyArgs,
    _Args,
)
from etl_monitor.core.context import Context
from etl_monitor.core.objects import Table
from etl_monitor.engine.executor import quote
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.errors import NotFoundError
from etl_monitor.tracking.tables import ORGANISATION, PARAMETERS, PROCESS, PROJECT, SEQUENCE, TASKS

log: logging.Logger = logging.getLogger("etl_monitor.tracking.registry")

_AUDIT = ("CreatedOn", "CreatedBy", "LastUpdatedOn", "LastUpdatedBy")


@dataclass(frozen=True)
class RowSpec:
    """One config table: its argument model and the argument -> column mapping the registry uses."""

    kind: str
    table: Table
    model: type[_Args]
    columns: tuple[tuple[str, str], ...]
    constants: tuple[tuple[str, Any], ...] = ()

    @property
    def key_fields(self) -> tuple[str, ...]:
        by_column = {c: f for f, c in self.columns}
        return tuple(by_column[c] for c in self.table.key)

    def row(self, args: _Args) -> dict[str, Any]:
        """The row register_* writes for these (validated) arguments."""
        return {c: getattr(args, f) for f, c in self.columns} | dict(self.constants)

    def key(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[f] for f in self.key_fields)


# What register_* write: argument -> column, per config table (the catalogue uses the same).
_KEY = (("project_code", "ProjectCode"), ("process_load", "ProcessLoad"))
ROW_SPECS: dict[str, RowSpec] = {
    "organisation": RowSpec(
        "organisation",
        ORGANISATION,
        OrganisationArgs,
        (
            ("organisation_code", "OrganisationCode"),
            ("organisation_name", "OrganisationName"),
            ("organisation_description", "OrganisationDescription"),
            ("is_active", "IsActive"),
        ),
    ),
    "project": RowSpec(
        "project",
        PROJECT,
        ProjectArgs,
        (
            ("project_code", "ProjectCode"),
            ("organisation_code", "OrganisationCode"),
            ("project_name", "ProjectName"),
            ("project_description", "ProjectDescription"),
            ("owner", "ProjectOwner"),
            ("is_active", "IsActive"),
        ),
    ),
    "sequence": RowSpec(
        "sequence",
        SEQUENCE,
        SequenceArgs,
        (
            ("sequence_id", "SequenceID"),
            ("sequence_code", "SequenceCode"),
            ("description", "SequenceDescription"),
            ("sequence_name", "SequenceName"),
            ("sort_order", "SortOrder"),
        ),
        (("IsFrameworkManaged", False), ("IsActive", True)),
    ),
    "process": RowSpec(
        "process",
        PROCESS,
        ProcessArgs,
        (
            *_KEY,
            ("name", "ProcessName"),
            ("description", "ProcessDescription"),
            ("owner", "ProcessOwner"),
            ("load_frequency", "LoadFrequency"),
            ("is_active", "IsActive"),
            ("monitor_group", "MonitorGroup"),
            ("runbook_url", "RunbookUrl"),
            ("lineage_url", "LineageUrl"),
            ("freshness_minutes", "FreshnessMinutes"),
        ),
    ),
    "task": RowSpec(
        "task",
        TASKS,
        TaskArgs,
        (
            *_KEY,
            ("task_id", "TaskID"),
            ("workflow_id", "WorkFlowID"),
            ("sequence_id", "SequenceID"),
            ("task_name", "TaskName"),
            ("task_description", "TaskDescription"),
            ("source_type", "SourceType"),
            ("source_identifier", "SourceIdentifier"),
            ("source_system_code", "SourceSystemCode"),
            ("task_mandatory", "TaskMandatory"),
            ("is_active", "IsActive"),
            ("load_frequency", "LoadFrequency"),
            ("file_name_mask", "FileNameMask"),
            ("file_extension", "FileExtension"),
            ("in_file_path", "InFilePath"),
            ("out_file_path", "OutFilePath"),
            ("sla_minutes", "SLAMinutes"),
        ),
    ),
    "parameter": RowSpec(
        "parameter",
        PARAMETERS,
        ParameterArgs,
        (
            *_KEY,
            ("parameter_name", "ParameterName"),
            ("parameter_type", "ParameterType"),
            ("value_datetime", "ValueDateTime"),
            ("value_int", "ValueINT"),
            ("value_bit", "ValueBIT"),
            ("description", "ParameterDescription"),
            ("is_active", "IsActive"),
        ),
    ),
}


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
    audit = {"CreatedOn": now, "CreatedBy": user, "LastUpdatedOn": now, "LastUpdatedBy": user}
    by_key = {tuple(r[k] for k in table.key): {**r, **audit} for r in rows}
    first = next(iter(by_key.values()))
    unknown = set(first) - set(table.column_names)
    assert not unknown, f"columns not in {table.name}: {unknown}"
    cols = [c for c in table.column_names if c in first]
    data = [c for c in cols if c not in table.key and c not in _AUDIT]
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in table.key)
    changed = " OR ".join(f"NOT (t.{quote(c)} <=> s.{quote(c)})" for c in data)
    updates = ", ".join(
        f"t.{quote(c)} = s.{quote(c)}" for c in [*data, "LastUpdatedOn", "LastUpdatedBy"]
    )
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
    # Counts as joined aggregates, not scalar subqueries: JVM Spark 4.1 leaves named
    # parameters inside scalar subqueries unbound (UNBOUND_SQL_PARAMETER).
    stage = (
        f" CROSS JOIN (SELECT COUNT(*) AS stages FROM {ctx.name(SEQUENCE)} "
        "WHERE SequenceID = :sequence_id) s"
        if sequence_id is not None
        else " CROSS JOIN (SELECT 1 AS stages) s"
    )
    args: dict[str, Any] = {"project_code": project_code, "process_load": process_load}
    if sequence_id is not None:
        args["sequence_id"] = sequence_id
    row = ctx.executor.query(
        f"SELECT p.processes, s.stages FROM (SELECT COUNT(*) AS processes FROM {ctx.name(PROCESS)} "
        f"WHERE ProjectCode = :project_code AND ProcessLoad = :process_load) p{stage}",
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


def register_organisation(ctx: Context, a: OrganisationArgs) -> None:
    upsert(ctx, ORGANISATION, ROW_SPECS["organisation"].row(a))


def register_project(ctx: Context, a: ProjectArgs) -> None:
    upsert(ctx, PROJECT, ROW_SPECS["project"].row(a))


def register_process(ctx: Context, a: ProcessArgs) -> None:
    upsert(ctx, PROCESS, ROW_SPECS["process"].row(a))


def register_task(ctx: Context, a: TaskArgs) -> None:
    _require_process(ctx, a.project_code, a.process_load, a.sequence_id)
    upsert(ctx, TASKS, ROW_SPECS["task"].row(a))


def register_parameter(ctx: Context, a: ParameterArgs) -> None:
    _require_process(ctx, a.project_code, a.process_load)
    upsert(ctx, PARAMETERS, ROW_SPECS["parameter"].row(a))


def set_task_active(ctx: Context, a: TaskKeyArgs, is_active: bool) -> None:
    """Switch a registered task on or off; raises NotFoundError for an unknown task."""
    function = "activate_task" if is_active else "deactivate_task"
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


def register_sequence(ctx: Context, a: SequenceArgs) -> None:
    """Add or change a custom stage (SequenceID >= 10; 0-9 belong to the framework)."""
    upsert(ctx, SEQUENCE, ROW_SPECS["sequence"].row(a))
