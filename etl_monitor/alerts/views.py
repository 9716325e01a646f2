"""`v_alerts`: one row per problem of a process that should page its owner, as data.

The SQL alerts published by `etl_monitor.alerts` read this view filtered by
one process (``WHERE ProjectCode = :project_code AND ProcessLoad = :process_load``), so
what fires is defined here, once, on the same views the rest of the library reports
from, and tested on every engine. Five kinds of rows (``AlertType``):

==================  ==========================================================================
FAILURE             a non-mandatory task whose current step failed or was cancelled
                    (v_currentFailures: a later successful retry clears it)
MANDATORY_BLOCKER   a mandatory task whose current step failed (v_mandatoryBlockers); Detail
                    says how many unfinished tasks of later stages it blocks
SLA_BREACH          a current step that ran longer than its task's SLAMinutes: still RUNNING
                    (and not yet stale), or ended within the last `SLA_LOOKBACK_HOURS` hours
STALE_RUN           a current step RUNNING for longer than the framework's stale_after_minutes
FRESHNESS           an active process whose last completed run (OverallStatus COMPLETE in
                    v_processStatus; its registration when it never completed), or one of its
                    active DELTA_DATE / DELTA_ID watermarks (v_watermarks.LastUpdatedOn), is
                    older than the process's allowed age
==================  ==========================================================================

The allowed age is ``ETLconfigProcess.FreshnessMinutes`` when set, else derived from
``LoadFrequency`` with a grace for late runs (`FRESHNESS_BY_FREQUENCY`): D one day + 6
hours, W seven days + one day, M 31 days + two days, Y 366 days + seven days; A (ad hoc)
has no freshness check unless FreshnessMinutes is set.

``DetectedAt`` is the UTC instant the condition became true (the failure recorded, the SLA
or stale threshold crossed, the freshness deadline passed), so it does not move between
evaluations. Only scalar column types: the view is a public interface.
"""

from __future__ import annotations

from etl_monitor.core import objects
from etl_monitor.core.objects import TRACKING, View
from etl_monitor.tracking import views as _reads  # noqa: F401  (registered before v_alerts)
from etl_monitor.tracking.states import RUNNING

ALERTS_VIEW = "v_alerts"
ALERT_TYPES = ("FAILURE", "MANDATORY_BLOCKER", "SLA_BREACH", "STALE_RUN", "FRESHNESS")
#: Ended steps over their SLA are reported for this long after they ended.
SLA_LOOKBACK_HOURS = 24
#: LoadFrequency -> allowed age in minutes (the period plus a grace) when FreshnessMinutes is NULL.
FRESHNESS_BY_FREQUENCY = {
    "D": (1 * 24 + 6) * 60,
    "W": (7 + 1) * 24 * 60,
    "M": (31 + 2) * 24 * 60,
    "Y": (366 + 7) * 24 * 60,
}

#: (column, SQL type, comment) of v_alerts, in order.
ALERT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("AlertType", "STRING", "FAILURE, MANDATORY_BLOCKER, SLA_BREACH, STALE_RUN or FRESHNESS."),
    ("ProjectCode", "STRING", "Project of the process."),
    ("ProcessLoad", "STRING", "The process."),
    ("ExecutionID", "STRING", "Execution of the step (last one for a watermark); NULL otherwise."),
    ("ProcessingDate", "DATE", "Business date of the step; NULL for freshness rows."),
    ("TaskID", "INT", "Task of the step; NULL for freshness rows."),
    ("WorkFlowID", "INT", "Workflow pass of the step; NULL for freshness rows."),
    ("TaskName", "STRING", "Task name; NULL for freshness rows."),
    ("ParameterName", "STRING", "The stale watermark; NULL otherwise."),
    ("Detail", "STRING", "What is wrong, in words (at most 1000 characters)."),
    ("DetectedAt", "TIMESTAMP", "When the condition became true (UTC)."),
    ("ProcessOwner", "STRING", "ETLconfigProcess.ProcessOwner."),
    ("MonitorGroup", "STRING", "ETLconfigProcess.MonitorGroup."),
    ("RunbookUrl", "STRING", "ETLconfigProcess.RunbookUrl."),
    ("LineageUrl", "STRING", "ETLconfigProcess.LineageUrl."),
)


def _plus_seconds(timestamp: str, seconds: str) -> str:
    return f"timestamp_seconds(unix_seconds({timestamp}) + {seconds})"


def _age_seconds(timestamp: str) -> str:
    return f"unix_seconds(current_timestamp()) - unix_seconds({timestamp})"


def _branch(values: dict[str, str], source: str) -> str:
    """One SELECT of the union: every column, CAST to its type, in order (process columns from p)."""
    process = {
        "ProcessOwner": "p.ProcessOwner",
        "MonitorGroup": "p.MonitorGroup",
        "RunbookUrl": "p.RunbookUrl",
        "LineageUrl": "p.LineageUrl",
    }
    exprs = {**process, **values}
    columns = ",\n    ".join(
        f"CAST({exprs.get(name, 'NULL')} AS {kind}) AS {name}" for name, kind, _ in ALERT_COLUMNS
    )
    return f"  SELECT\n    {columns}\n  {source}"


def _detail(*parts: str) -> str:
    return f"substring(concat({', '.join(parts)}), 1, 1000)"


_STEP = {
    "ProjectCode": "d.ProjectCode",
    "ProcessLoad": "d.ProcessLoad",
    "ExecutionID": "d.ExecutionID",
    "ProcessingDate": "d.ProcessingDate",
    "TaskID": "d.TaskID",
    "WorkFlowID": "d.WorkFlowID",
    "TaskName": "d.TaskName",
}
_PROCESS_JOIN = "LEFT JOIN {t:ETLconfigProcess} p ON p.ProjectCode = d.ProjectCode AND p.ProcessLoad = d.ProcessLoad"
_ALLOWED = (
    "CASE WHEN p.FreshnessMinutes IS NOT NULL THEN p.FreshnessMinutes"
    + "".join(f" WHEN p.LoadFrequency = '{k}' THEN {v}" for k, v in FRESHNESS_BY_FREQUENCY.items())
    + " END"
)
_STEP_NAME = "COALESCE(d.TaskName, concat('task ', CAST(d.TaskID AS STRING)))"

_FAILURES = _branch(
    {
        **_STEP,
        "AlertType": "'FAILURE'",
        "Detail": _detail(
            _STEP_NAME,
            "' ', d.Status, ': '",
            "COALESCE(d.LogMessage, '(no message)')",
        ),
        "DetectedAt": "COALESCE(d.EndTime, d.LastUpdatedOn)",
    },
    "FROM {t:v_currentFailures} d\n  "
    + _PROCESS_JOIN
    + "\n  WHERE NOT COALESCE(d.TaskMandatory, false)",
)

_BLOCKERS = _branch(
    {
        **_STEP,
        "AlertType": "'MANDATORY_BLOCKER'",
        "Detail": _detail(
            "'mandatory ', " + _STEP_NAME,
            "' ', d.Status, ' blocks ', CAST(d.BlockedTaskCount AS STRING)",
            "' unfinished later task(s): '",
            "COALESCE(d.LogMessage, '(no message)')",
        ),
        "DetectedAt": "COALESCE(d.EndTime, d.LastUpdatedOn)",
    },
    "FROM {t:v_mandatoryBlockers} d\n  " + _PROCESS_JOIN,
)

_SLA = _branch(
    {
        **_STEP,
        "AlertType": "'SLA_BREACH'",
        "Detail": _detail(
            _STEP_NAME,
            "' ', d.Status, ' ran '",
            "CAST(CAST(COALESCE(d.DurationSeconds, "
            + _age_seconds("d.StartTime")
            + ") / 60 AS BIGINT) AS STRING)",
            "' min, SLA '",
            "CAST(d.SLAMinutes AS STRING), ' min'",
        ),
        "DetectedAt": _plus_seconds("d.StartTime", "d.SLAMinutes * 60"),
    },
    "FROM {t:v_taskDetail} d\n  "
    + _PROCESS_JOIN
    + "\n  WHERE d.IsCurrent AND d.SLABreached AND NOT d.IsStale\n"
    f"    AND (d.EndTime IS NULL OR {_age_seconds('d.EndTime')} <= {SLA_LOOKBACK_HOURS * 3600})",
)

_STALE = _branch(
    {
        **_STEP,
        "AlertType": "'STALE_RUN'",
        "Detail": _detail(
            _STEP_NAME,
            f"' {RUNNING} since '",
            "CAST(CAST((" + _age_seconds("d.StartTime") + ") / 60 AS BIGINT) AS STRING)",
            "' min (stale after '",
            "CAST(CAST({stale_after_seconds} / 60 AS BIGINT) AS STRING), ' min)'",
        ),
        "DetectedAt": _plus_seconds("d.StartTime", "{stale_after_seconds}"),
    },
    "FROM {t:v_taskDetail} d\n  " + _PROCESS_JOIN + "\n  WHERE d.IsCurrent AND d.IsStale",
)

_PROCESS_FRESHNESS = _branch(
    {
        "AlertType": "'FRESHNESS'",
        "ProjectCode": "p.ProjectCode",
        "ProcessLoad": "p.ProcessLoad",
        "Detail": _detail(
            "CASE WHEN p.LastCompleted IS NULL THEN 'never completed since registered; ' "
            "ELSE 'no completed run for ' END",
            "CAST(CAST((" + _age_seconds("p.Since") + ") / 60 AS BIGINT) AS STRING)",
            "' min (allowed ', CAST(p.AllowedMinutes AS STRING), ' min)'",
        ),
        "DetectedAt": _plus_seconds("p.Since", "p.AllowedMinutes * 60"),
    },
    "FROM (\n"
    "    SELECT c.*, " + _ALLOWED.replace("p.", "c.") + " AS AllowedMinutes,\n"
    "      l.LastCompleted, COALESCE(l.LastCompleted, c.CreatedOn) AS Since\n"
    "    FROM {t:ETLconfigProcess} c\n"
    "    LEFT JOIN last_completed l ON l.ProjectCode = c.ProjectCode AND l.ProcessLoad = c.ProcessLoad\n"
    "    WHERE COALESCE(c.IsActive, true)\n"
    "  ) p\n"
    "  WHERE p.AllowedMinutes IS NOT NULL AND "
    + _age_seconds("p.Since")
    + " > p.AllowedMinutes * 60",
)

_WATERMARK_FRESHNESS = _branch(
    {
        "AlertType": "'FRESHNESS'",
        "ProjectCode": "w.ProjectCode",
        "ProcessLoad": "w.ProcessLoad",
        "ExecutionID": "w.LastExecutionID",
        "TaskName": "w.LinkedTaskName",
        "ParameterName": "w.ParameterName",
        "Detail": _detail(
            "'watermark ', w.ParameterName, ' (', w.ActiveValue, ') not advanced for '",
            "CAST(CAST((" + _age_seconds("w.LastUpdatedOn") + ") / 60 AS BIGINT) AS STRING)",
            "' min (allowed ', CAST(p.AllowedMinutes AS STRING), ' min)'",
        ),
        "DetectedAt": _plus_seconds("w.LastUpdatedOn", "p.AllowedMinutes * 60"),
    },
    "FROM {t:v_watermarks} w\n"
    "  JOIN (SELECT c.*, " + _ALLOWED.replace("p.", "c.") + " AS AllowedMinutes\n"
    "        FROM {t:ETLconfigProcess} c WHERE COALESCE(c.IsActive, true)) p\n"
    "    ON p.ProjectCode = w.ProjectCode AND p.ProcessLoad = w.ProcessLoad\n"
    "  WHERE p.AllowedMinutes IS NOT NULL AND COALESCE(w.IsActive, true)\n"
    "    AND w.ParameterType IN ('DELTA_DATE', 'DELTA_ID')\n"
    "    AND " + _age_seconds("w.LastUpdatedOn") + " > p.AllowedMinutes * 60",
)

ALERTS = View(
    ALERTS_VIEW,
    "One row per problem that pages a process's owner: AlertType "
    + ", ".join(ALERT_TYPES)
    + "; with the process's owner, monitoring group, runbook and lineage URLs. Filter by "
    "ProjectCode and ProcessLoad.",
    "WITH last_completed AS (\n"
    "  SELECT ProjectCode, ProcessLoad, MAX(RunEnd) AS LastCompleted\n"
    "  FROM {t:v_processStatus} WHERE OverallStatus = 'COMPLETE'\n"
    "  GROUP BY ProjectCode, ProcessLoad\n"
    ")\n"
    + "\nUNION ALL\n".join(
        (_FAILURES, _BLOCKERS, _SLA, _STALE, _PROCESS_FRESHNESS, _WATERMARK_FRESHNESS)
    ),
)

# v_alerts is part of run tracking's setup, after the views it reads.
objects.register(TRACKING, views=(ALERTS,))
