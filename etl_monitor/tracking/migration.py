"""Converting a databricks-etl-monitor 1.0 schema in place, as part of `setup()`.

That package keeps run state in a *table* ``ETLProcessingSteps`` (one row per step,
updated in place) and receipts in ``ETLsysLogs`` (with an identity column); its config
tables have the names and columns ours have (ours add a few, which setup adds). So:

1. `inspect_schema` checks every existing object that has a framework name and raises
   `SchemaConflictError`, before anything is written, when one is neither ours nor the
   peer's;
2. `set_aside` renames the peer's ``ETLProcessingSteps`` and ``ETLsysLogs`` to
   ``*_peer_v1`` (kept, never dropped);
3. the ordinary setup then creates the event log, the new ``ETLsysLogs`` and the views,
   and widens the config tables;
4. `convert` copies each peer step row into the event log as one STEP event with a
   deterministic id and each receipt into ``ETLsysLogs``, both as insert-only anti joins,
   fills the added flags, and marks the kept table converted.

Every statement leaves a state the next run recognises, so a run killed at any point and
run again ends with the same rows. Renaming needs ``ALTER TABLE ... RENAME``, which the
embedded engine lacks: there a peer schema raises `SchemaConflictError`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from etl_monitor.core.context import Context
from etl_monitor.core.objects import Table
from etl_monitor.engine.executor import qualified, quote, sql_string_literal
from etl_monitor.errors import SchemaConflictError
from etl_monitor.tracking.tables import ALL_TABLES, EVENTS, PARAMETERS, SEQUENCE, SYSLOGS

log: logging.Logger = logging.getLogger("etl_monitor.tracking.migration")

PEER = "databricks-etl-monitor 1.0"
STEPS, LOGS = "ETLProcessingSteps", SYSLOGS.name
#: Where the peer's tables are kept after the conversion.
BACKUPS = {STEPS: "ETLProcessingSteps_peer_v1", LOGS: "ETLsysLogs_peer_v1"}
CONVERTED = "etl_monitor.converted_from"
#: Columns that make a table the peer's.
PEER_COLUMNS = {
    STEPS: {"ProcessingDate", "ExecutionID", "WorkFlowID", "TaskID", "Attempts", "Status"},
    LOGS: {"_ID", "LogTimeUTC", "RunID", "Message"},
}
_DAY_MICROS = 86_400_000_000


def _is_peer(name: str, columns: set[str]) -> bool:
    """The peer's table: its columns, and not our ETLProcessingSteps view (which has Seq)."""
    return name in PEER_COLUMNS and PEER_COLUMNS[name] <= columns and "Seq" not in columns


@dataclass
class MigrationReport:
    """What converting a peer schema did (counts are rows added by this run)."""

    source: str = PEER
    renamed: dict[str, str] = field(default_factory=dict)
    step_events: int = 0
    receipts: int = 0
    completed: bool = False
    statements: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.completed and not self.statements:
            return f"converted from {self.source} earlier: nothing to do"
        kept = ", ".join(f"{a} -> {b}" for a, b in self.renamed.items()) or "already set aside"
        return (
            f"converted from {self.source}: {kept}; {self.step_events} step rows as events, "
            f"{self.receipts} receipts; {self.statements} statements in {self.seconds:.2f}s"
        )


def _columns(ctx: Context, name: str) -> set[str]:
    return {f.name for f in ctx.table_fields(name)}


def inspect_schema(ctx: Context, existing: set[str]) -> bool:
    """True when the schema is (or is half-way to becoming) a converted peer schema.

    Args:
        ctx: the framework's context.
        existing: lower-cased names of the schema's tables and views.

    Raises:
        SchemaConflictError: an object with a framework name is neither ours nor the
            peer's, or the peer schema needs a rename the engine cannot do.
    """
    peer = False
    problems = []
    # With the event log present, ETLProcessingSteps is our view: the peer's table is
    # renamed before the event log is created.
    ours = EVENTS.name.lower() in existing
    for table in (*ALL_TABLES, _PEER_STEPS):
        if table.name.lower() not in existing or (ours and table is _PEER_STEPS):
            continue
        have = _columns(ctx, table.name)
        if _is_peer(table.name, have):
            peer = True
            continue
        wanted = {c for c in table.key}
        former = {c.formerly for c in table.columns if c.formerly and c.name in wanted}
        if not (wanted <= have or (former and former <= have)):
            problems.append(
                f"{table.name} has columns {sorted(have)}, without "
                f"{' or '.join(sorted(wanted | former))}"
            )
    if problems:
        raise SchemaConflictError(
            f"schema {ctx.catalog}.{ctx.schema} holds objects with the framework's names that "
            "neither etl_monitor nor databricks-etl-monitor created: "
            + "; ".join(problems)
            + ". Nothing was changed; use another schema or move these objects."
        )
    if peer and not ctx.engine.alter_add_columns:
        raise SchemaConflictError(
            f"schema {ctx.catalog}.{ctx.schema} was created by {PEER}; converting it renames "
            "its ETLProcessingSteps and ETLsysLogs tables, which this engine cannot do "
            "(ALTER TABLE ... RENAME). Run setup() on Databricks or the Delta engine."
        )
    return peer or any(b.lower() in existing for b in BACKUPS.values())


#: The peer's steps table, as the conflict check sees it (ours is a view of that name).
_PEER_STEPS = Table(STEPS, "", (), key=("ExecutionID", "TaskID", "WorkFlowID"))


def set_aside(ctx: Context, existing: set[str], report: MigrationReport) -> None:
    """Rename the peer's steps and receipts tables to their backup names (once)."""
    for name, backup in BACKUPS.items():
        present = name.lower() in existing and backup.lower() not in existing
        if present and _is_peer(name, _columns(ctx, name)):
            # The session catalog takes a two-part target; Unity Catalog the full name.
            target = (
                ctx.name(backup) if ctx.engine.three_level_names else qualified(ctx.schema, backup)
            )
            ctx.executor.execute(f"ALTER TABLE {ctx.name(name)} RENAME TO {target}", kind="ddl")
            report.renamed[name] = backup
            existing.discard(name.lower())
            existing.add(backup.lower())
            log.info("kept %s's %s as %s", PEER, name, backup)


def _is_converted(ctx: Context) -> bool:
    rows = ctx.executor.query(f"SHOW TBLPROPERTIES {ctx.name(BACKUPS[STEPS])}")
    return any(str(r[0]) == CONVERTED for r in rows)


def _utc_midnight(day: str) -> str:
    return f"timestamp_micros(unix_date({day}) * {_DAY_MICROS})"


def _step_events_sql(ctx: Context) -> str:
    """INSERT of one STEP event per peer step row that the event log does not hold yet."""
    key = "p.ExecutionID, p.ProjectCode, p.ProcessLoad, CAST(p.ProcessingDate AS STRING), " + (
        "CAST(p.WorkFlowID AS STRING), CAST(p.TaskID AS STRING), CAST(p.Attempts AS STRING)"
    )
    values = {
        "EventID": f"concat('peer-', sha2(concat_ws('|', {key}), 256))",
        "EventTime": "COALESCE(p.LastUpdatedOn, p.EndTime, p.StartTime, "
        + _utc_midnight("p.ProcessingDate")
        + ")",
        "EventType": "'STEP'",
        "ExecutionID": "p.ExecutionID",
        "ProjectCode": "p.ProjectCode",
        "ProcessLoad": "p.ProcessLoad",
        "TaskID": "p.TaskID",
        "WorkFlowID": "p.WorkFlowID",
        "SequenceID": "p.SequenceID",
        "ProcessingDate": "p.ProcessingDate",
        "AttemptNo": "ROW_NUMBER() OVER (PARTITION BY p.ProjectCode, p.ProcessLoad, "
        "p.ProcessingDate, p.TaskID, p.WorkFlowID ORDER BY p.Attempts, p.ExecutionID)",
        "Attempts": "p.Attempts",
        "StatusCode": "CASE WHEN COALESCE(p.ForceSkip, false) AND p.Status IN ('NQUE', 'RQUE') "
        "THEN 'SKIPPED' ELSE p.Status END",
        "TaskName": "p.TaskName",
        "SourceType": "p.SourceType",
        "SourceSystemCode": "p.SourceSystemCode",
        "TaskMandatory": "p.TaskMandatory",
        "LoadFrequency": "t.LoadFrequency",
        "FileName": "p.FullFileName",
        "SourcePath": "p.InFilePath",
        "TargetPath": "p.OutFilePath",
        "StartTime": "p.StartTime",
        "EndTime": "p.EndTime",
        "LogMessage": "p.LogMessage",
        "LogType": "p.LogType",
        "LogCode": "p.LogCode",
        "SourceRunID": "p.SourceRunID",
        "ClusterID": "p.ClusterID",
        "Reason": sql_string_literal(f"converted from {PEER}"),
        "CreatedBy": "p.LastUpdatedBy",
        "Seq": "CAST(1 AS BIGINT)",
    }
    source = (
        f"{ctx.name(BACKUPS[STEPS])} p\n"
        f"  LEFT JOIN {ctx.name('ETLconfigTasks')} t ON t.ProjectCode = p.ProjectCode "
        "AND t.ProcessLoad = p.ProcessLoad AND t.TaskID = p.TaskID AND t.WorkFlowID = p.WorkFlowID"
    )
    return _insert_missing(ctx, EVENTS, values, source)


def _insert_missing(ctx: Context, table: Table, values: dict[str, str], source: str) -> str:
    """INSERT into `table` of the rows `values` builds from `source` whose key it lacks."""
    columns = [c for c in table.column_names if c in values]
    select = ",\n    ".join(f"{values[c]} AS {quote(c)}" for c in columns)
    (key,) = table.key
    return (
        f"INSERT INTO {ctx.name(table)} ({', '.join(quote(c) for c in columns)})\n"
        f"SELECT {', '.join('x.' + quote(c) for c in columns)} FROM (\n"
        f"  SELECT {select}\n  FROM {source}\n) x\n"
        f"LEFT ANTI JOIN {ctx.name(table)} y ON y.{quote(key)} = x.{quote(key)}"
    )


def _receipts_sql(ctx: Context) -> str:
    """INSERT of the peer's receipts that ETLsysLogs does not hold yet (LogID peer-<_ID>)."""
    values = {
        "LogID": "concat('peer-', CAST(l._ID AS STRING))",
        "LogTime": f"COALESCE(l.LogTimeUTC, {_utc_midnight('l.ProcessingDate')}, "
        "timestamp_micros(0))",
        "ExecutionID": "l.ExecutionID",
        "ProjectCode": "l.ProjectCode",
        "ProcessLoad": "l.ProcessLoad",
        "SourceType": "l.SourceType",
        "SourceRunID": "l.RunID",
        "LogType": "CASE WHEN l.Level >= 3 THEN 'ERROR' WHEN l.Level = 2 THEN 'WARN' "
        "WHEN l.Level IS NOT NULL THEN 'INFO' END",
        "LogMessage": "l.Message",
        "CreatedBy": sql_string_literal(f"converted from {PEER}"),
        "ProcessingDate": "l.ProcessingDate",
        "CorrelationID": "l.CorrelationID",
        "PipelineName": "l.PipelineName",
        "ActivityName": "l.ActivityName",
        "OperationName": "l.OperationName",
        "Level": "l.Level",
    }
    return _insert_missing(ctx, SYSLOGS, values, f"{ctx.name(BACKUPS[LOGS])} l")


#: Flags the peer's tables lacked, filled once for its rows.
_DEFAULTS = (
    (PARAMETERS, "IsActive", "true"),
    (SEQUENCE, "IsFrameworkManaged", "SequenceID < 10"),
)


def convert(ctx: Context, existing: set[str], report: MigrationReport) -> None:
    """Copy the kept peer rows into the event log and ETLsysLogs, then mark the conversion done.

    Skipped (one query) once marked; every step before the mark adds only missing rows.
    """
    if BACKUPS[STEPS].lower() not in existing:
        return
    if _is_converted(ctx):
        report.completed = True
        return
    started, before = time.perf_counter(), ctx.executor.stats["statements"]
    report.step_events = _added(ctx, EVENTS, _step_events_sql(ctx))
    if BACKUPS[LOGS].lower() in existing:
        report.receipts = _added(ctx, SYSLOGS, _receipts_sql(ctx))
    for table, column, value in _DEFAULTS:
        ctx.executor.execute(
            f"UPDATE {ctx.name(table)} SET {quote(column)} = {value} WHERE {quote(column)} IS NULL"
        )
    ctx.executor.execute(
        f"ALTER TABLE {ctx.name(BACKUPS[STEPS])} SET TBLPROPERTIES "
        f"({sql_string_literal(CONVERTED)} = {sql_string_literal(PEER)})",
        kind="ddl",
    )
    report.completed = True
    report.statements += ctx.executor.stats["statements"] - before
    report.seconds += time.perf_counter() - started
    log.info("%s", report)


def _added(ctx: Context, table: Table, insert: str) -> int:
    """Run an INSERT of converted rows; returns how many it added (engines differ in what
    an INSERT reports, so the converted rows are counted before and after)."""
    count = f"SELECT COUNT(*) AS n FROM {ctx.name(table)} WHERE {quote(table.key[0])} LIKE 'peer-%'"
    before = ctx.executor.query(count)[0]["n"]
    ctx.executor.execute(insert)
    return int(ctx.executor.query(count)[0]["n"] - before)
