"""The reporting views, as data. They are a public interface: ADF Lookups and SQL Server read them.

Only scalar column types, stable names, UTC timestamps. ``ETLProcessingSteps`` is the
current state of each step (latest event); the ``v_*`` views build on it. "Current"
means the step of the latest execution for a task and processing date, so a failure
that a later execution retried successfully is no longer reported.
"""

from __future__ import annotations

from etl_monitor.engine.timestamps import utc_date, utc_iso_text
from etl_monitor.runs.events import HIGHEST_VALUE, STEP_COLUMNS, STEP_KEY, latest_first
from etl_monitor.runs.states import (
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
    rollup_status_sql,
    sql_in,
)
from etl_monitor.schema.tables import EVENTS, EVENTS_ARCHIVE, View

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
    + ",\n  ".join(f"r.{c}" for c in STEP_COLUMNS)
    + ",\n  CAST(unix_micros(r.EndTime) - unix_micros(r.StartTime) AS DOUBLE) / 1000000.0 AS DurationSeconds,\n"
    "  r.first_event_time AS CreatedOn,\n"
    "  r.EventTime AS ModifiedOn,\n"
    "  r.CreatedBy AS ModifiedBy,\n"
    "  r.Seq\n"
    "FROM ranked r\n"
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
    "  s.TaskName, s.SourceType, s.SourceSystemCode, s.TaskMandatory, s.LoadFrequency, s.FileName,\n"
    "  s.SourcePath, s.TargetPath, s.AttemptNo, s.StatusCode,\n"
    f"  {effective_status_sql('s.StatusCode', 't.IsActive')} AS EffectiveStatus,\n"
    "  s.StartTime, s.EndTime, s.DurationSeconds, s.SLAMinutes,\n"
    "  CASE WHEN s.SLAMinutes IS NULL OR s.StartTime IS NULL THEN false\n"
    "       WHEN s.EndTime IS NOT NULL THEN s.DurationSeconds > s.SLAMinutes * 60\n"
    f"       WHEN s.StatusCode = '{RUNNING}' THEN unix_seconds(current_timestamp()) - unix_seconds(s.StartTime) > s.SLAMinutes * 60\n"
    "       ELSE false END AS SLABreached,\n"
    f"  {is_stale_sql('s.StatusCode', 's.StartTime')} AS IsStale,\n"
    "  CASE WHEN s.exec_rank = 1 THEN true ELSE false END AS IsCurrent,\n"
    "  CASE WHEN s.TaskID = 0 AND s.WorkFlowID = 0 THEN true ELSE false END AS IsInitiation,\n"
    "  s.LogMessage, s.LogType, s.LogCode, s.ExceptionType, s.StackTrace, s.SourceRunID, s.JobRunID,\n"
    "  s.ClusterID, s.CreatedOn, s.ModifiedOn, s.ModifiedBy\n"
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
        ("QueuedTasks", f"{status} IN {sql_in(QUEUED)}"),
        ("RunningTasks", f"{status} = '{RUNNING}' AND NOT {d}.IsStale"),
        ("StaleTasks", f"{d}.IsStale"),
        ("DoneTasks", f"{status} = '{DONE}'"),
        ("FailedTasks", f"{status} = '{FAIL}'"),
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


RUN_SUMMARY = View(
    "v_runSummary",
    f"One row per execution: task counts per status, start, end, duration and RunStatus ({', '.join(RUN_STATUSES)}). IsLatestExecution marks the newest execution of a process and date.",
    "SELECT\n"
    "  d.ExecutionID, d.ProjectCode, d.ProcessLoad, d.ProcessingDate,\n"
    "  MAX(d.AttemptNo) AS MaxAttemptNo,\n" + _counts("d") + " AS RunStatus,\n"
    "  MAX(CASE WHEN d.IsInitiation THEN d.EffectiveStatus END) AS InitiationStatus,\n"
    "  MIN(d.StartTime) AS StartTime,\n"
    "  MAX(d.EndTime) AS EndTime,\n"
    "  CAST(unix_micros(MAX(d.EndTime)) - unix_micros(MIN(d.StartTime)) AS DOUBLE) / 1000000.0 AS DurationSeconds,\n"
    "  MIN(d.CreatedOn) AS CreatedOn,\n"
    "  MAX(d.ModifiedOn) AS LastActivity,\n"
    "  CASE WHEN ROW_NUMBER() OVER (PARTITION BY d.ProjectCode, d.ProcessLoad, d.ProcessingDate\n"
    "                               ORDER BY MIN(d.CreatedOn) DESC, d.ExecutionID DESC) = 1\n"
    "       THEN true ELSE false END AS IsLatestExecution\n"
    "FROM {t:v_taskDetail} d\n"
    "GROUP BY d.ExecutionID, d.ProjectCode, d.ProcessLoad, d.ProcessingDate",
)

PROCESS_STATUS = View(
    "v_processStatus",
    "One row per process and processing date, over the current step of every task (retries supersede earlier failures).",
    "SELECT\n"
    "  d.ProjectCode, d.ProcessLoad, MAX(p.ProcessName) AS ProcessName, d.ProcessingDate,\n"
    "  max_by(d.ExecutionID, d.CreatedOn) AS LatestExecutionID,\n"
    "  COUNT(DISTINCT d.ExecutionID) AS Executions,\n" + _counts("d") + " AS ProcessStatus,\n"
    "  MIN(d.StartTime) AS FirstStart,\n"
    "  MAX(d.EndTime) AS LastEnd,\n"
    "  MAX(d.ModifiedOn) AS LastActivity\n"
    "FROM {t:v_taskDetail} d\n"
    "LEFT JOIN {t:ETLconfigProcess} p ON p.ProjectCode = d.ProjectCode AND p.ProcessLoad = d.ProcessLoad\n"
    "WHERE d.IsCurrent\n"
    "GROUP BY d.ProjectCode, d.ProcessLoad, d.ProcessingDate",
)

_FAILURE_COLUMNS = (
    "d.ProjectCode, d.ProcessLoad, d.ProcessingDate, d.ExecutionID, d.TaskID, d.WorkFlowID, d.SequenceID, "
    "d.TaskName, d.SourceType, d.TaskMandatory, d.AttemptNo, d.EffectiveStatus AS StatusCode, d.StartTime, "
    "d.EndTime, d.LogMessage, d.LogType, d.LogCode, d.ExceptionType, d.SourceRunID, d.ModifiedOn"
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
    f"GROUP BY {_FAILURE_COLUMNS.replace(' AS StatusCode', '')}",
)

# ActiveValue formats: ISO 8601 with 'T' is read the same way by SQL Server datetime and
# datetime2 whatever the session language; a NULL DELTA_DATE (bulk mode) reads as 1900-01-01.

WATERMARKS = View(
    "v_watermarks",
    "Current value of every parameter with ActiveValue, a string for ADF Lookups and SQL Server comparisons (ISO 8601 datetimes, integers, 1/0 flags).",
    "WITH events AS (\n" + _events("WATERMARK") + "\n), latest AS (\n"
    "  SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.ProjectCode, e.ProcessLoad, e.ParameterName\n"
    f"                                 ORDER BY {latest_first('e', value_order=HIGHEST_VALUE)}) AS rn\n"
    "  FROM events e\n"
    "), resolved AS (\n"
    "  SELECT p.ProjectCode, p.ProcessLoad, p.ParameterName, p.ParameterType,\n"
    "    CASE WHEN l.EventID IS NULL THEN p.ValueDateTime ELSE l.ValueDateTime END AS ValueDateTime,\n"
    "    CASE WHEN l.EventID IS NULL THEN p.ValueINT ELSE l.ValueINT END AS ValueINT,\n"
    "    CASE WHEN l.EventID IS NULL THEN p.ValueBIT ELSE l.ValueBIT END AS ValueBIT,\n"
    "    p.Description, p.IsActive,\n"
    "    COALESCE(l.EventTime, p.ModifiedOn) AS LastChangedOn,\n"
    "    COALESCE(l.CreatedBy, p.ModifiedBy) AS LastChangedBy,\n"
    "    l.ExecutionID AS LastExecutionID,\n"
    "    COALESCE(l.Reason, 'registered') AS LastChangeReason,\n"
    "    COALESCE(l.Seq, 0) AS ValueGeneration\n"
    "  FROM {t:ETLconfigParameters} p\n"
    "  LEFT JOIN latest l\n"
    "    ON l.rn = 1 AND l.ProjectCode = p.ProjectCode AND l.ProcessLoad = p.ProcessLoad\n"
    "   AND l.ParameterName = p.ParameterName\n"
    ")\n"
    "SELECT r.ProjectCode, r.ProcessLoad, r.ParameterName, r.ParameterType,\n"
    "  r.ValueDateTime, r.ValueINT, r.ValueBIT,\n"
    "  CASE r.ParameterType\n"
    f"    WHEN 'DELTA_DATE' THEN COALESCE({utc_iso_text('r.ValueDateTime')}, '1900-01-01T00:00:00.000')\n"
    f"    WHEN 'SYSTEM' THEN COALESCE({utc_iso_text('r.ValueDateTime')},\n"
    f"      concat(CAST({utc_date('current_timestamp()')} AS STRING), 'T00:00:00.000'))\n"
    "    WHEN 'DELTA_ID' THEN CAST(COALESCE(r.ValueINT, 0) AS STRING)\n"
    "    WHEN 'FLAG' THEN CASE WHEN r.ValueBIT THEN '1' ELSE '0' END\n"
    "  END AS ActiveValue,\n"
    "  CASE WHEN r.ParameterType = 'SYSTEM' AND r.ValueDateTime IS NOT NULL THEN true ELSE false END AS IsHistoricMode,\n"
    "  r.Description, r.IsActive, r.LastChangedOn, r.LastChangedBy, r.LastExecutionID, r.LastChangeReason,\n"
    "  r.ValueGeneration\n"
    "FROM resolved r",
)

PENDING_TASKS = View(
    "v_pendingTasks",
    "Runnable steps (NQUE / RQUE of active tasks) with the task's file and watermark; ADF ForEach input. Order by WorkFlowID, SequenceID, TaskID.",
    "SELECT d.ExecutionID, d.ProjectCode, d.ProcessLoad, d.ProcessingDate, d.TaskID, d.WorkFlowID, d.SequenceID,\n"
    "  d.TaskName, d.SourceType, d.SourceSystemCode, d.TaskMandatory, d.StatusCode, d.AttemptNo, d.FileName,\n"
    "  d.SourcePath, d.TargetPath, w.ParameterName, w.ParameterType, w.ActiveValue\n"
    # Straight from the steps (no "current execution" window), so that a filter on one
    # execution reaches the scan, as the ADF Lookup's does.
    "FROM {t:ETLProcessingSteps} d\n"
    "LEFT JOIN {t:ETLconfigTasks} t\n"
    "  ON t.ProjectCode = d.ProjectCode AND t.ProcessLoad = d.ProcessLoad\n"
    " AND t.TaskID = d.TaskID AND t.WorkFlowID = d.WorkFlowID\n"
    "LEFT JOIN {t:v_watermarks} w\n"
    "  ON w.ProjectCode = d.ProjectCode AND w.ProcessLoad = d.ProcessLoad AND w.ParameterName = d.SourceSystemCode\n"
    f"WHERE {effective_status_sql('d.StatusCode', 't.IsActive')} IN {sql_in(QUEUED)}",
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
