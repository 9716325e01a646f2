"""Maintenance: compaction, archiving and file clean-up that keep run tracking fast for years.

Every task appends small commits; `maintain` keeps the number of files bounded without
losing, duplicating or blocking an event, and is safe to run while tasks run:

- **Archive** (optional, ``archive_after_days=N``): STEP events of finished executions
  (no step queued or running) of processing dates more than N days old are copied to ``ETLProcessingEventsArchive`` (an insert-only MERGE on
  EventID, so a rerun copies nothing twice), then removed from the log (a MERGE that
  deletes only rows present in the archive, so an event appended meanwhile stays). The
  views read both tables. Watermark events stay: a watermark's latest value may be old.
- **Compact**: ``OPTIMIZE`` where the engine has it (Databricks, open-source Delta:
  bin-packing and liquid clustering; concurrent appends never conflict with it). Where
  it does not (Sail), the same Delta operation through the ``deltalake`` package on the
  table's files: small files rewritten as one per partition, committed as a
  data-unchanged rewrite that concurrent appends and claims rebase over.
- **Compact as it goes**: the event log and the receipts are compacted after writes
  too, so their file count stays bounded between maintenance runs. Delta does it itself
  (the ``delta.autoOptimize.autoCompact`` table property, set by ``setup()``); where the
  engine cannot (Sail), `compact_if_due` does the compaction above once per hundred
  commits, run by the writer that sees the log's hundredth-commit checkpoint.
- **Vacuum** (default on): files no longer referenced and older than the retention (7
  days, Delta's default) are deleted, so the file count on storage stays bounded too.

Schedule it daily, off-peak or not (see the README): ``etl-monitor maintain`` or
``monitor.maintain()`` in a Databricks job.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt

from etl_monitor.core.arguments import HINTS, _Args
from etl_monitor.core.context import Context
from etl_monitor.core.objects import Table
from etl_monitor.engine import retry
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.errors import InvalidArgumentError
from etl_monitor.tracking.states import OPEN, sql_in
from etl_monitor.tracking.tables import ALL_TABLES, EVENTS, EVENTS_ARCHIVE

log: logging.Logger = logging.getLogger("etl_monitor.tracking.maintenance")

#: Delta's default: removed files younger than this stay for readers of older snapshots.
VACUUM_RETENTION_HOURS = 168


@dataclass
class MaintenanceReport:
    """What one `maintain` call did."""

    catalog: str
    schema: str
    archived_events: int = 0
    archive_cutoff: date | None = None
    files_before: dict[str, int | None] = field(default_factory=dict)
    files_after: dict[str, int | None] = field(default_factory=dict)
    method: str = ""
    statements: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        events = EVENTS.name
        return (
            f"{self.catalog}.{self.schema}: archived {self.archived_events} events"
            + (f" before {self.archive_cutoff}" if self.archive_cutoff else "")
            + f"; {events} files {self.files_before.get(events)} -> {self.files_after.get(events)}"
            f" ({self.method}); {self.statements} statements in {self.seconds:.2f}s"
        )


class MaintainArgs(_Args):
    archive_after_days: Annotated[StrictInt, Field(ge=1, le=36_500)] | None = None
    vacuum: StrictBool = True


HINTS["archive_after_days"] = (
    "a positive number of days up to 36500 (a century), or None to archive nothing"
)


def maintain(ctx: Context, a: MaintainArgs) -> MaintenanceReport:
    """Archive old step events (optional), compact every table, vacuum old files.

    Args:
        ctx: the framework's catalog, schema and executor.
        a.archive_after_days: move STEP events of processing dates older than this many
            days (UTC) to the archive table; None (default) archives nothing.
        a.vacuum: delete unreferenced files older than 7 days after compacting.

    Returns:
        Events archived and files per table before and after.

    Raises:
    Example:
        >>> monitor.maintain(archive_after_days=400)  # doctest: +SKIP
    """
    started, before = time.perf_counter(), ctx.executor.stats["statements"]
    report = MaintenanceReport(ctx.catalog, ctx.schema)
    report.files_before = {t.name: file_count(ctx, t) for t in ALL_TABLES}
    if a.archive_after_days is not None:
        report.archive_cutoff = utcnow().date() - timedelta(days=a.archive_after_days)
        report.archived_events = archive(ctx, report.archive_cutoff)
    report.method = compact_all(ctx, vacuum=a.vacuum)
    report.files_after = {t.name: file_count(ctx, t) for t in ALL_TABLES}
    report.statements = ctx.executor.stats["statements"] - before
    report.seconds = time.perf_counter() - started
    log.info("maintain: %s", report)
    return report


# -- archive -----------------------------------------------------------------------------


def archive(ctx: Context, cutoff: date) -> int:
    """Move STEP events of processing dates before `cutoff` to the archive; returns how many.

    Executions with a step still queued or running stay (the hot paths read the log
    only). Rerunnable at any point: the copy inserts only ids the archive lacks, the
    removal takes only rows the archive holds.
    """
    from pyspark.sql.types import DateType, StructField, StructType

    cutoff_schema = StructType([StructField("cutoff", DateType(), False)])
    events, archived = ctx.name(EVENTS), ctx.name(EVENTS_ARCHIVE)
    with ctx.executor.temp_rows([(cutoff,)], cutoff_schema) as limit:
        copied = ctx.executor.execute(
            f"MERGE INTO {archived} t USING (\n"
            f"  SELECT e.* FROM {events} e CROSS JOIN {limit} c\n"
            "  LEFT ANTI JOIN (\n"
            "    SELECT DISTINCT o.ExecutionID, o.ProjectCode, o.ProcessLoad\n"
            f"    FROM {ctx.name('ETLProcessingSteps')} o CROSS JOIN {limit} oc\n"
            f"    WHERE o.ProcessingDate < oc.cutoff AND o.Status IN {sql_in(OPEN)}\n"
            "  ) still_open ON still_open.ExecutionID = e.ExecutionID\n"
            "    AND still_open.ProjectCode = e.ProjectCode AND still_open.ProcessLoad = e.ProcessLoad\n"
            "  WHERE e.EventType = 'STEP' AND e.ProcessingDate < c.cutoff\n"
            ") s\n"
            "ON t.ProcessingDate = s.ProcessingDate AND t.EventID = s.EventID\n"
            "WHEN NOT MATCHED THEN INSERT *"
        )
        removal = (
            f"MERGE INTO {events} t USING (\n"
            f"  SELECT DISTINCT a.ProcessingDate, a.EventID FROM {archived} a CROSS JOIN {limit} c\n"
            "  WHERE a.ProcessingDate < c.cutoff\n"
            ") s\n"
            "ON t.ProcessingDate = s.ProcessingDate AND t.EventID = s.EventID AND t.EventType = 'STEP'\n"
            "WHEN MATCHED THEN DELETE"
        )
        try:
            ctx.executor.execute(removal)
        except Exception as error:  # a log created as append-only by an earlier version
            if "append" not in str(error).lower():
                raise
            ctx.executor.execute(
                f"ALTER TABLE {events} SET TBLPROPERTIES ('delta.appendOnly' = 'false')",
                kind="ddl",
            )
            ctx.executor.execute(removal)
    count = int(copied[0][0]) if copied and copied[0][0] is not None else 0
    log.info("archived %d step events of dates before %s", count, cutoff)
    return count


# -- compaction ----------------------------------------------------------------------------


def compact_all(ctx: Context, *, vacuum: bool) -> str:
    """Compact (and vacuum) every table; returns the method used."""
    if ctx.engine.optimize:
        for table in ALL_TABLES:
            ctx.executor.execute(f"OPTIMIZE {ctx.name(table)}", kind="maintenance")
            if vacuum:
                ctx.executor.execute(
                    f"VACUUM {ctx.name(table)} RETAIN {VACUUM_RETENTION_HOURS} HOURS",
                    kind="maintenance",
                )
        return "OPTIMIZE"
    if _local_location(ctx, EVENTS) is None:
        log.warning(
            "maintain: %s has neither OPTIMIZE nor table files this process can reach; "
            "nothing compacted",
            ctx.engine.name,
        )
        return "none"
    for table in ALL_TABLES:
        _compact_files(ctx, table, vacuum=vacuum)
    return "deltalake compact"


#: Without auto compaction, a log is compacted when its last checkpoint is at a multiple of
#: this many commits (engines checkpoint every 10 commits unless told otherwise).
COMPACT_EVERY = 100


def compact_if_due(ctx: Context, table: Table) -> bool:
    """Compact `table` where the engine does not and its log reached a hundredth commit.

    Called after every end of a task: reads one small file, the log's
    ``_last_checkpoint``. Due when the last checkpoint's version is a multiple of
    `COMPACT_EVERY`; the compaction then writes a checkpoint of its own (at another
    version), so the writers after it see nothing due. Two writers that both see the
    same checkpoint both compact; the second finds little left to do. A compaction that
    fails is logged, not raised: the caller's events have landed.

    Returns:
        True when a compaction ran.
    """
    if ctx.engine.auto_compaction:
        return False
    location = ctx.engine.table_location(ctx.catalog, ctx.schema, table.name)
    if location is None or not _compaction_due(location):
        return False
    try:
        _compact_files(ctx, table, vacuum=False)
    except Exception as error:  # housekeeping must never fail a task whose events landed
        log.warning("compaction of %s after a write failed: %s", table.name, error)
        return False
    return True


def _compaction_due(location: str) -> bool:
    try:
        with open(os.path.join(location, "_delta_log", "_last_checkpoint"), encoding="utf-8") as f:
            version = int(json.load(f)["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return version > 0 and version % COMPACT_EVERY == 0


def _local_location(ctx: Context, table: Table) -> str | None:
    location = ctx.engine.table_location(ctx.catalog, ctx.schema, table.name)
    if location and os.path.isdir(os.path.join(location, "_delta_log")):
        return location
    return None


def _delta_table(location: str) -> Any:
    try:
        from deltalake import DeltaTable
    except ImportError as error:  # pragma: no cover - the local extra installs it
        raise InvalidArgumentError(
            "maintain(): this engine has no OPTIMIZE; install the 'deltalake' package "
            "(pip install 'lakehouse-etl-monitor[local]') to compact its tables",
            argument="engine",
        ) from error
    return DeltaTable(location)


def _compact_files(ctx: Context, table: Table, *, vacuum: bool) -> None:
    location = _local_location(ctx, table)
    if location is None:
        return
    metrics = retry.call(  # a concurrent commit: rebase and try again
        lambda: _delta_table(location).optimize.compact(),
        policy=ctx.executor.retry,
        transient=lambda error: "commit" in str(error).lower(),
        what=f"compaction of {table.name}",
    )
    log.info(
        "compacted %s: %s files removed, %s added",
        table.name,
        metrics.get("numFilesRemoved"),
        metrics.get("numFilesAdded"),
    )
    if metrics.get("numFilesRemoved"):
        # The compaction's commit names every file it removed: without a checkpoint after
        # it, an engine that loads the table's state per statement (Sail) parses that
        # commit in every statement until its own next checkpoint.
        _delta_table(location).create_checkpoint()
    if vacuum:
        _delta_table(location).vacuum(
            retention_hours=VACUUM_RETENTION_HOURS, dry_run=False, enforce_retention_duration=True
        )


def file_count(ctx: Context, table: Table) -> int | None:
    """Data files in the table's current snapshot, or None where the engine cannot say."""
    location = _local_location(ctx, table)
    if location is not None:
        try:
            return len(_delta_table(location).file_uris())
        except Exception:  # no deltalake, or a table feature it cannot read: ask the engine
            log.debug("could not count the files of %s with deltalake", table.name)
    if ctx.engine.table_history:
        rows = ctx.executor.execute(f"DESCRIBE DETAIL {ctx.name(table)}", kind="maintenance")
        return int(rows[0]["numFiles"]) if rows else None
    return None
