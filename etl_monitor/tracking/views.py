"""The reporting views, as data. They are a public interface: ADF Lookups and SQL Server read them.

Only scalar column types, stable names, UTC timestamps. ``ETLProcessingSteps`` is the
current state of each step (latest event); the ``v_*`` views build on it. "Current"
means the step of the latest execution for a task and processing date, so a failure
that a later execution retried successfully is no longer reported.
"""

from __future__ import annotations

from etl_monitor.core import objects
from etl_monitor.core.objects import TRACKING, View
from etl_monitor.engine.timestamps import utc_date, utc_iso_text
from etl_monitor.tracking.events import (
    HIGHEST_VALUE,
    STEP_COLUMNS,
    STEP_KEY,
    VIEW_NAMES,
    latest_first,
)
from etl_monitor.tracking.states import (
    CANCELLED,
    DONE,
    FAIL,
    FAILED,
    FINISHED_OK,
    QUEUED,
    RUN_STATUSES,
    RUNNING,
    SKIPPED,
    effective_status_sql,
    is_stale_sql,
    overall_status_sql,
    rollup_status_sql,
    sql_in,
)
from etl_monitor.tracking.tables import ALL_TABLES, EVENTS, EVENTS_ARCHIVE

#: Settings rendered into the view text (framework-owned integers).
DEFAULT_SETTINGS = {"stale_after_seconds": 12 * 3600}


def _events(event_type: str) -> str:
    """Events of one type from the log and its archive (`maintain` moves old ones there).

    No window over EventID alone: filters on a view's key columns must reach the scan,
    and a retried append's duplicate (same id, same row) changes no "latest" pick.
    """
    columns = ", ".join(EVENTS.column_names)
    # Watermark events carry no processing date: on a partitioned log they sit together.
    where = " AND ProcessingDate IS NULL" if event_type == "WATERMARK" else ""
    return "\n  UNION ALL\n".join(
        f"  SELECT {columns} FROM {{t:{table.name}}} WHERE EventType = '{event_type}'{where}"
        for table in (EVENTS, EVENTS_ARCHIVE)
    )


_STEP_PARTITION = ", ".join("e." + k for k in STEP_KEY)


#: Step columns added after the views were published: shown last, so no column moves.
APPENDED_STEP_COLUMNS = ("TaskRunID",)


def _step_column(c: str) -> str:
    if c == "Attempts":  # rows queued before the column existed: one execution per attempt
        return "COALESCE(r.Attempts, r.AttemptNo - 1) AS Attempts"
    return f"r.{c} AS {VIEW_NAMES[c]}" if c in VIEW_NAMES else f"r.{c}"


PROCESSING_STEPS = View(
    "ETLProcessingSteps",
    "Current state of every step: its STEP event with the highest Seq per ExecutionID / ProjectCode / ProcessLoad / ProcessingDate / TaskID / WorkFlowID.",
    "WITH events AS (\n" + _events("STEP") + "\n), ranked AS (\n"
    "  SELECT e.*,\n"
    f"    ROW_NUMBER() OVER (PARTITION BY {_STEP_PARTITION} ORDER BY {latest_first('e')}) AS state_rank,\n"
    f"    MIN(e.EventTime) OVER (PARTITION BY {_STEP_PARTITION}) AS first_event_time\n"
    "  FROM events e\n"
    ")\n"
    "SELECT\n  "
    + ",\n  ".join(_step_column(c) for c in STEP_COLUMNS if c not in APPENDED_STEP_COLUMNS)
    + ",\n  q.SequenceCode,\n"
    f"  CASE WHEN r.StatusCode = '{SKIPPED}' THEN true ELSE false END AS ForceSkip,\n"
    "  CAST(unix_micros(r.EndTime) - unix_micros(r.StartTime) AS DOUBLE) / 1000000.0 AS DurationSeconds,\n"
    "  r.first_event_time AS CreatedOn,\n"
    "  r.EventTime AS LastUpdatedOn,\n"
    "  r.CreatedBy AS LastUpdatedBy,\n"
    "  r.Seq,\n  " + ",\n  ".join(_step_column(c) for c in APPENDED_STEP_COLUMNS) + "\n"
    "FROM ranked r\n"
    "LEFT JOIN {t:ETLconfigSequence} q ON q.SequenceID = r.SequenceID\n"
    "WHERE r.state_rank = 1",
)

TASK_DETAIL = View(
    "v_taskDetail",
    "Every step with its effective status, SLA breach and staleness flags; IsCurrent marks the latest execution per task and date. Filter by ExecutionID.",
    "WITH steps AS (\n"
    "  SELECT s.*,\n"
    "    ROW_NUMBER() OVER (PARTITION BY s.ProjectCode, s.ProcessLoad, s.ProcessingDate, s.TaskID, s.WorkFlowID\n"
    "                       ORDER BY s.CreatedOn DESC, s.ExecutionID DESC) AS exec_rank\n"
    "  FROM {t:ETLProcessingSteps} s\n"
    ")\n"
    "SELECT\n"
    "  s.ExecutionID, s.ProjectCode, s.ProcessLoad, s.ProcessingDate, s.TaskID, s.WorkFlowID, s.SequenceID,\n"
    "  s.SequenceCode, s.TaskName, s.SourceType, s.SourceSystemCode, s.TaskMandatory, s.LoadFrequency,\n"
    "  s.FullFileName, s.InFilePath, s.OutFilePath, s.Attempts, s.AttemptNo, s.Status,\n"
    f"  {effective_status_sql('s.Status', 't.IsActive')} AS EffectiveStatus, s.ForceSkip,\n"
    "  s.StartTime, s.EndTime, s.DurationSeconds, s.SLAMinutes,\n"
    "  CASE WHEN s.SLAMinutes IS NULL OR s.StartTime IS NULL THEN false\n"
    "       WHEN s.EndTime IS NOT NULL THEN s.DurationSeconds > s.SLAMinutes * 60\n"
    f"       WHEN s.Status = '{RUNNING}' THEN unix_seconds(current_timestamp()) - unix_seconds(s.StartTime) > s.SLAMinutes * 60\n"
    "       ELSE false END AS SLABreached,\n"
    f"  {is_stale_sql('s.Status', 's.StartTime')} AS IsStale,\n"
    "  CASE WHEN s.exec_rank = 1 THEN true ELSE false END AS IsCurrent,\n"
    "  CASE WHEN s.TaskID = 0 AND s.WorkFlowID = 0 THEN true ELSE false END AS IsInitiation,\n"
    "  s.LogMessage, s.LogType, s.LogCode, s.ExceptionType, s.StackTrace, s.SourceRunID, s.JobRunID,\n"
    "  s.ClusterID, s.CreatedOn, s.LastUpdatedOn, s.LastUpdatedBy, s.TaskRunID\n"
    "FROM steps s\n"
    "LEFT JOIN {t:ETLconfigTasks} t\n"
    "  ON t.ProjectCode = s.ProjectCode AND t.ProcessLoad = s.ProcessLoad\n"
    " AND t.TaskID = s.TaskID AND t.WorkFlowID = s.WorkFlowID",
)


def _counts(alias: str) -> str:
    """Per-status task counts (the initiation step is not a task) and the rolled-up status."""
    d = alias
    work = f"NOT {d}.IsInitiation"

    def count(condition: str, tasks_only: bool = True) -> str:
        return f"COUNT(CASE WHEN {work + ' AND ' if tasks_only else ''}{condition} THEN 1 END)"

    status = f"{d}.EffectiveStatus"
    per_status = [
        ("Pending", f"{status} IN {sql_in(QUEUED)}"),
        ("RunningTasks", f"{status} = '{RUNNING}' AND NOT {d}.IsStale"),
        ("StaleTasks", f"{d}.IsStale"),
        ("Done", f"{status} = '{DONE}'"),
        ("Failed", f"{status} = '{FAIL}'"),
        ("CancelledTasks", f"{status} = '{CANCELLED}'"),
        ("SkippedTasks", f"{status} = '{SKIPPED}'"),
        ("SLABreachedTasks", f"{d}.SLABreached"),
    ]
    return (
        f"  COUNT(CASE WHEN {work} THEN 1 END) AS TotalTasks,\n"
        + "".join(f"  {count(condition)} AS {name},\n" for name, condition in per_status)
        + "  "
        + rollup_status_sql(count, d)
    )


def _with_overall(status_column: str, body: str) -> str:
    """The rollup `body`, then OverallStatus (RUNNING, FAILED, COMPLETE) from its status."""
    return (
        f"WITH rollup AS (\n{body}\n)\n"
        f"SELECT r.*, {overall_status_sql('r.' + status_column)} AS OverallStatus\nFROM rollup r"
    )


RUN_SUMMARY = View(
    "v_runSummary",
    f"One row per execution: task counts per status, start, end, duration, RunStatus ({', '.join(RUN_STATUSES)}) and OverallStatus (RUNNING, FAILED, COMPLETE). IsLatestExecution marks the newest execution of a process and date.",
    _with_overall(
        "RunStatus",
        "SELECT\n"
        "  d.ExecutionID, d.ProjectCode, d.ProcessLoad, d.ProcessingDate,\n"
        "  MAX(d.Attempts) AS Attempts, MAX(d.AttemptNo) AS MaxAttemptNo,\n"
        + _counts("d")
        + " AS RunStatus,\n"
        "  MAX(CASE WHEN d.IsInitiation THEN d.EffectiveStatus END) AS InitiationStatus,\n"
        "  MIN(d.StartTime) AS RunStart,\n"
        "  MAX(d.EndTime) AS RunEnd,\n"
        "  CAST(unix_micros(MAX(d.EndTime)) - unix_micros(MIN(d.StartTime)) AS DOUBLE) / 1000000.0 AS WallClockSeconds,\n"
        "  SUM(d.DurationSeconds) AS TotalDurationSeconds,\n"
        "  MIN(d.CreatedOn) AS CreatedOn,\n"
        "  MAX(d.LastUpdatedOn) AS LastActivity,\n"
        "  CASE WHEN ROW_NUMBER() OVER (PARTITION BY d.ProjectCode, d.ProcessLoad, d.ProcessingDate\n"
        "                               ORDER BY MIN(d.CreatedOn) DESC, d.ExecutionID DESC) = 1\n"
        "       THEN true ELSE false END AS IsLatestExecution\n"
        "FROM {t:v_taskDetail} d\n"
        "GROUP BY d.ExecutionID, d.ProjectCode, d.ProcessLoad, d.ProcessingDate",
    ),
)

PROCESS_STATUS = View(
    "v_processStatus",
    "One row per process and processing date, over the current step of every task (retries supersede earlier failures).",
    _with_overall(
        "ProcessStatus",
        "SELECT\n"
        "  d.ProjectCode, d.ProcessLoad, MAX(p.ProcessName) AS ProcessName,\n"
        "  MAX(p.ProcessOwner) AS ProcessOwner, d.ProcessingDate,\n"
        "  max_by(d.ExecutionID, d.CreatedOn) AS LatestExecutionID,\n"
        "  MAX(d.Attempts) AS LatestAttempt,\n"
        "  COUNT(DISTINCT d.ExecutionID) AS TotalRuns,\n" + _counts("d") + " AS ProcessStatus,\n"
        "  MIN(d.StartTime) AS RunStart,\n"
        "  MAX(d.EndTime) AS RunEnd,\n"
        "  CAST(unix_micros(MAX(d.EndTime)) - unix_micros(MIN(d.StartTime)) AS DOUBLE) / 1000000.0 AS WallClockSeconds,\n"
        "  MAX(d.LastUpdatedOn) AS LastActivity\n"
        "FROM {t:v_taskDetail} d\n"
        "LEFT JOIN {t:ETLconfigProcess} p ON p.ProjectCode = d.ProjectCode AND p.ProcessLoad = d.ProcessLoad\n"
        "WHERE d.IsCurrent\n"
        "GROUP BY d.ProjectCode, d.ProcessLoad, d.ProcessingDate",
    ),
)

_FAILURE_COLUMNS = (
    "d.ProjectCode, d.ProcessLoad, d.ProcessingDate, d.ExecutionID, d.TaskID, d.WorkFlowID, d.SequenceID, "
    "d.SequenceCode, d.TaskName, d.SourceType, d.SourceSystemCode, d.TaskMandatory, d.Attempts, "
    "d.AttemptNo, d.EffectiveStatus AS Status, d.StartTime, d.EndTime, d.LogMessage, d.LogType, "
    "d.LogCode, d.ExceptionType, d.SourceRunID, d.LastUpdatedOn"
)

CURRENT_FAILURES = View(
    "v_currentFailures",
    "Tasks whose current step (latest execution for the task and date) failed or was cancelled.",
    f"SELECT {_FAILURE_COLUMNS}\n"
    "FROM {t:v_taskDetail} d\n"
    f"WHERE d.IsCurrent AND d.EffectiveStatus IN {sql_in(FAILED)}",
)

MANDATORY_BLOCKERS = View(
    "v_mandatoryBlockers",
    "Mandatory tasks whose current step failed, with the number of unfinished tasks in later stages they block.",
    "WITH cur AS (SELECT * FROM {t:v_taskDetail} WHERE IsCurrent)\n"
    f"SELECT {_FAILURE_COLUMNS},\n"
    "  COUNT(w.TaskID) AS BlockedTaskCount\n"
    "FROM cur d\n"
    "LEFT JOIN cur w\n"
    "  ON w.ProjectCode = d.ProjectCode AND w.ProcessLoad = d.ProcessLoad\n"
    " AND w.ProcessingDate = d.ProcessingDate AND w.SequenceID > d.SequenceID\n"
    f" AND w.EffectiveStatus NOT IN {sql_in(FINISHED_OK)}\n"
    f"WHERE d.TaskMandatory = true AND d.EffectiveStatus IN {sql_in(FAILED)}\n"
    f"GROUP BY {_FAILURE_COLUMNS.replace(' AS Status', '')}",
)

# ActiveValue formats: ISO 8601 with 'T' is read the same way by SQL Server datetime and
# datetime2 whatever the session language; a NULL DELTA_DATE (bulk mode) reads as 1900-01-01.
_ISO = utc_iso_text("r.ValueDateTime")

WATERMARKS = View(
    "v_watermarks",
    "Current value of every parameter with ActiveValue, a string for ADF Lookups and SQL Server comparisons (ISO 8601 datetimes, integers, 1/0 flags), and WatermarkState in words.",
    "WITH events AS (\n" + _events("WATERMARK") + "\n), latest AS (\n"
    "  SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.ProjectCode, e.ProcessLoad, e.ParameterName\n"
    f"                                 ORDER BY {latest_first('e', value_order=HIGHEST_VALUE)}) AS rn\n"
    "  FROM events e\n"
    "), linked AS (\n"
    "  SELECT ProjectCode, ProcessLoad, SourceSystemCode, MIN(TaskName) AS LinkedTaskName\n"
    "  FROM {t:ETLconfigTasks} GROUP BY ProjectCode, ProcessLoad, SourceSystemCode\n"
    "), resolved AS (\n"
    "  SELECT p.ProjectCode, p.ProcessLoad, p.ParameterName, p.ParameterType,\n"
    "    CASE WHEN l.EventID IS NULL THEN p.ValueDateTime ELSE l.ValueDateTime END AS ValueDateTime,\n"
    "    CASE WHEN l.EventID IS NULL THEN p.ValueINT ELSE l.ValueINT END AS ValueINT,\n"
    "    CASE WHEN l.EventID IS NULL THEN p.ValueBIT ELSE l.ValueBIT END AS ValueBIT,\n"
    "    p.ParameterDescription, p.IsActive,\n"
    "    COALESCE(l.EventTime, p.LastUpdatedOn) AS LastUpdatedOn,\n"
    "    COALESCE(l.CreatedBy, p.LastUpdatedBy) AS LastUpdatedBy,\n"
    "    l.ExecutionID AS LastExecutionID,\n"
    "    COALESCE(l.Reason, 'registered') AS LastChangeReason,\n"
    "    COALESCE(l.Seq, 0) AS ValueGeneration\n"
    "  FROM {t:ETLconfigParameters} p\n"
    "  LEFT JOIN latest l\n"
    "    ON l.rn = 1 AND l.ProjectCode = p.ProjectCode AND l.ProcessLoad = p.ProcessLoad\n"
    "   AND l.ParameterName = p.ParameterName\n"
    ")\n"
    "SELECT r.ProjectCode, r.ProcessLoad, r.ParameterName, r.ParameterType, r.ParameterDescription,\n"
    "  r.ValueINT, r.ValueDateTime, r.ValueBIT,\n"
    "  CASE r.ParameterType\n"
    f"    WHEN 'DELTA_DATE' THEN COALESCE({_ISO}, '1900-01-01T00:00:00.000')\n"
    f"    WHEN 'SYSTEM' THEN COALESCE({_ISO},\n"
    f"      concat(CAST({utc_date('current_timestamp()')} AS STRING), 'T00:00:00.000'))\n"
    "    WHEN 'DELTA_ID' THEN CAST(COALESCE(r.ValueINT, 0) AS STRING)\n"
    "    WHEN 'FLAG' THEN CASE WHEN r.ValueBIT THEN '1' ELSE '0' END\n"
    "  END AS ActiveValue,\n"
    "  CASE r.ParameterType\n"
    "    WHEN 'DELTA_DATE' THEN CASE WHEN r.ValueDateTime IS NULL THEN 'BULK MODE'\n"
    f"      ELSE concat('DELTA: ', {_ISO}) END\n"
    "    WHEN 'DELTA_ID' THEN CASE WHEN r.ValueINT IS NULL OR r.ValueINT IN (-1, 0) THEN 'BULK MODE'\n"
    "      ELSE concat('DELTA: ', CAST(r.ValueINT AS STRING)) END\n"
    "    WHEN 'FLAG' THEN CASE WHEN r.ValueBIT THEN 'true' WHEN NOT r.ValueBIT THEN 'false' END\n"
    "    WHEN 'SYSTEM' THEN CASE WHEN r.ValueDateTime IS NULL THEN 'LIVE DATE'\n"
    f"      ELSE concat('HISTORIC: ', {_ISO}) END\n"
    "    ELSE 'UNKNOWN'\n"
    "  END AS WatermarkState,\n"
    "  t.LinkedTaskName,\n"
    "  CASE WHEN r.ParameterType = 'SYSTEM' AND r.ValueDateTime IS NOT NULL THEN true ELSE false END AS IsHistoricMode,\n"
    "  r.IsActive, r.LastUpdatedOn, r.LastUpdatedBy, r.LastExecutionID, r.LastChangeReason,\n"
    "  r.ValueGeneration\n"
    "FROM resolved r\n"
    "LEFT JOIN linked t\n"
    "  ON t.ProjectCode = r.ProjectCode AND t.ProcessLoad = r.ProcessLoad AND t.SourceSystemCode = r.ParameterName",
)

#: v_pendingTasks, column by column: what `get_pending_tasks` returns, in this order.
PENDING_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Status", "STRING", "d.Status"),
    ("ExecutionID", "STRING", "d.ExecutionID"),
    ("ProjectCode", "STRING", "d.ProjectCode"),
    ("ProcessLoad", "STRING", "d.ProcessLoad"),
    ("ProcessingDate", "DATE", "d.ProcessingDate"),
    ("WorkFlowID", "INT", "d.WorkFlowID"),
    ("SequenceID", "INT", "d.SequenceID"),
    ("TaskID", "INT", "d.TaskID"),
    ("TaskName", "STRING", "d.TaskName"),
    ("SequenceCode", "STRING", "d.SequenceCode"),
    ("TaskMandatory", "BOOLEAN", "d.TaskMandatory"),
    ("SourceSystemCode", "STRING", "d.SourceSystemCode"),
    ("SourceType", "STRING", "d.SourceType"),
    ("Attempts", "INT", "d.Attempts"),
    ("AttemptNo", "INT", "d.AttemptNo"),
    ("StartTime", "TIMESTAMP", "d.StartTime"),
    ("ForceSkip", "BOOLEAN", "d.ForceSkip"),
    ("FullFileName", "STRING", "d.FullFileName"),
    ("InFilePath", "STRING", "d.InFilePath"),
    ("OutFilePath", "STRING", "d.OutFilePath"),
    ("WatermarkName", "STRING", "w.ParameterName"),
    ("WatermarkType", "STRING", "w.ParameterType"),
    ("WatermarkValue", "STRING", "w.ActiveValue"),
)

PENDING_TASKS = View(
    "v_pendingTasks",
    "Runnable steps (NQUE / RQUE of active tasks) with the task's file and watermark (WatermarkValue as in v_watermarks.ActiveValue); ADF ForEach input. Order by WorkFlowID, SequenceID, TaskID.",
    "SELECT " + ", ".join(f"{expr} AS {name}" for name, _, expr in PENDING_COLUMNS) + "\n"
    # Straight from the steps (no "current execution" window), so that a filter on one
    # execution reaches the scan, as the ADF Lookup's does.
    "FROM {t:ETLProcessingSteps} d\n"
    "LEFT JOIN {t:ETLconfigTasks} t\n"
    "  ON t.ProjectCode = d.ProjectCode AND t.ProcessLoad = d.ProcessLoad\n"
    " AND t.TaskID = d.TaskID AND t.WorkFlowID = d.WorkFlowID\n"
    "LEFT JOIN {t:v_watermarks} w\n"
    "  ON w.ProjectCode = d.ProjectCode AND w.ProcessLoad = d.ProcessLoad AND w.ParameterName = d.SourceSystemCode\n"
    f"WHERE {effective_status_sql('d.Status', 't.IsActive')} IN {sql_in(QUEUED)}",
)

ALL_VIEWS = (
    PROCESSING_STEPS,
    TASK_DETAIL,
    RUN_SUMMARY,
    PROCESS_STATUS,
    CURRENT_FAILURES,
    MANDATORY_BLOCKERS,
    WATERMARKS,
    PENDING_TASKS,
)

objects.register(TRACKING, tables=ALL_TABLES, views=ALL_VIEWS)
