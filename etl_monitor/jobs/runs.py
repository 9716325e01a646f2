"""Each step beside its Databricks job run and task run, from the ``system.lakeflow`` timelines.

``system.lakeflow.job_run_timeline`` and ``job_task_run_timeline`` (Databricks' "Jobs system
table reference") hold one row per run and time slice: a run longer than an hour has several
rows with the same ``run_id``, and only the slice that ends the run carries ``result_state``
and ``termination_code``. A repaired run adds rows to the same ``run_id``. So each run is
aggregated first (first slice start, last slice end, the last slice's state and code), then
joined to the steps by the job run id they recorded, and to their task run by the task run
id they recorded; a step without one gets its job run's task run when that job run has
exactly one.

The view is not part of `setup()`: system tables exist only on Databricks, and only where an
account admin enabled the ``system.lakeflow`` schema. `create_job_runs_view` checks that
both tables are readable before it creates anything.
"""

from __future__ import annotations

import logging

from etl_monitor.core.context import Context
from etl_monitor.core.objects import View
from etl_monitor.engine.executor import check_identifier, qualified
from etl_monitor.errors import InvalidArgumentError, NotFoundError

log: logging.Logger = logging.getLogger("etl_monitor.jobs.runs")

VIEW_NAME = "v_stepJobRuns"
DEFAULT_SOURCE = "system.lakeflow"
JOB_RUNS, TASK_RUNS = "job_run_timeline", "job_task_run_timeline"

#: The documented columns the view reads, per table.
REQUIRED_COLUMNS = {
    JOB_RUNS: (
        "workspace_id",
        "job_id",
        "run_id",
        "period_start_time",
        "period_end_time",
        "trigger_type",
        "run_type",
        "run_name",
        "result_state",
        "termination_code",
    ),
    TASK_RUNS: (
        "workspace_id",
        "job_id",
        "run_id",
        "job_run_id",
        "period_start_time",
        "period_end_time",
        "task_key",
        "result_state",
        "termination_code",
    ),
}

#: The view's columns: name, type, meaning. All scalar; times are UTC.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("ExecutionID", "STRING", "The step's execution."),
    ("ProjectCode", "STRING", "The step's project."),
    ("ProcessLoad", "STRING", "The step's process."),
    ("ProcessingDate", "DATE", "The step's processing date."),
    ("TaskID", "INT", "The step's task."),
    ("WorkFlowID", "INT", "The step's workflow pass."),
    ("TaskName", "STRING", "The step's task name."),
    ("Status", "STRING", "The step's current status."),
    ("StartTime", "TIMESTAMP", "When the step started (UTC)."),
    ("EndTime", "TIMESTAMP", "When the step ended (UTC)."),
    ("JobRunID", "STRING", "The job run id the step recorded."),
    ("TaskRunID", "STRING", "The task run id the step recorded (NULL when not detected)."),
    ("WorkspaceID", "STRING", "Workspace of the job run."),
    ("JobID", "STRING", "Job of the job run."),
    ("RunName", "STRING", "The job run's name."),
    ("RunType", "STRING", "JOB_RUN, SUBMIT_RUN or WORKFLOW_RUN."),
    ("TriggerType", "STRING", "What triggered the job run."),
    ("JobRunStart", "TIMESTAMP", "Start of the job run's first time slice (UTC)."),
    ("JobRunEnd", "TIMESTAMP", "End of the job run's last time slice (UTC)."),
    ("JobRunSeconds", "DOUBLE", "JobRunEnd - JobRunStart in seconds."),
    ("JobResultState", "STRING", "The job run's outcome; NULL while it runs."),
    ("JobTerminationCode", "STRING", "The job run's termination code; NULL while it runs."),
    ("MatchedTaskRunID", "STRING", "The task run joined to the step."),
    ("TaskMatchedBy", "STRING", "TASK_RUN_ID, ONLY_TASK_RUN (the job run has one) or NULL."),
    ("TaskKey", "STRING", "The task run's task key."),
    ("TaskRunStart", "TIMESTAMP", "Start of the task run's first time slice (UTC)."),
    ("TaskRunEnd", "TIMESTAMP", "End of the task run's last time slice (UTC)."),
    ("TaskRunSeconds", "DOUBLE", "TaskRunEnd - TaskRunStart in seconds."),
    ("TaskResultState", "STRING", "The task run's outcome; NULL while it runs."),
    ("TaskTerminationCode", "STRING", "The task run's termination code; NULL while it runs."),
    ("TimelineFound", "BOOLEAN", "True once the job run has rows in job_run_timeline."),
)


def parse_source(source: object) -> tuple[str, str]:
    """``catalog.schema`` of the lakeflow tables, validated.

    Raises:
        InvalidArgumentError: not two identifiers joined by one dot.
    """
    parts = source.split(".") if isinstance(source, str) else []
    if len(parts) != 2:
        raise InvalidArgumentError(
            f"invalid source {source!r}: expected catalog.schema, e.g. {DEFAULT_SOURCE!r}",
            argument="source",
            value=source,
        )
    catalog, schema = parts
    return (
        check_identifier(catalog, "source catalog", allow_dash=True),
        check_identifier(schema, "source schema", allow_dash=True),
    )


def _seconds(end: str, start: str) -> str:
    return f"CAST(unix_micros({end}) - unix_micros({start}) AS DOUBLE) / 1000000.0"


def _last(column: str, alias: str) -> str:
    """The value of `column` on the run's last slice (the one that ends last)."""
    return f"max_by({alias}.{column}, {alias}.period_end_time)"


def job_runs_view(catalog: str, schema: str) -> View:
    """The view over the lakeflow tables in ``catalog.schema`` (already validated)."""
    job_runs, task_runs = (
        qualified(catalog, schema, JOB_RUNS),
        qualified(catalog, schema, TASK_RUNS),
    )
    select = {
        "ExecutionID": "s.ExecutionID",
        "ProjectCode": "s.ProjectCode",
        "ProcessLoad": "s.ProcessLoad",
        "ProcessingDate": "s.ProcessingDate",
        "TaskID": "s.TaskID",
        "WorkFlowID": "s.WorkFlowID",
        "TaskName": "s.TaskName",
        "Status": "s.Status",
        "StartTime": "s.StartTime",
        "EndTime": "s.EndTime",
        "JobRunID": "s.JobRunID",
        "TaskRunID": "s.TaskRunID",
        "WorkspaceID": "CAST(r.workspace_id AS STRING)",
        "JobID": "CAST(r.job_id AS STRING)",
        "RunName": "CAST(r.run_name AS STRING)",
        "RunType": "CAST(r.run_type AS STRING)",
        "TriggerType": "CAST(r.trigger_type AS STRING)",
        "JobRunStart": "r.first_start",
        "JobRunEnd": "r.last_end",
        "JobRunSeconds": _seconds("r.last_end", "r.first_start"),
        "JobResultState": "CAST(r.result_state AS STRING)",
        "JobTerminationCode": "CAST(r.termination_code AS STRING)",
        "MatchedTaskRunID": "CAST(t.run_id AS STRING)",
        "TaskMatchedBy": "CASE WHEN t.run_id IS NULL THEN NULL "
        "WHEN t.run_id = s.TaskRunID THEN 'TASK_RUN_ID' ELSE 'ONLY_TASK_RUN' END",
        "TaskKey": "CAST(t.task_key AS STRING)",
        "TaskRunStart": "t.first_start",
        "TaskRunEnd": "t.last_end",
        "TaskRunSeconds": _seconds("t.last_end", "t.first_start"),
        "TaskResultState": "CAST(t.result_state AS STRING)",
        "TaskTerminationCode": "CAST(t.termination_code AS STRING)",
        "TimelineFound": "CASE WHEN r.run_id IS NULL THEN false ELSE true END",
    }
    assert list(select) == [c[0] for c in COLUMNS]
    body = (
        "WITH steps AS (\n"
        "  SELECT * FROM {t:ETLProcessingSteps} WHERE JobRunID IS NOT NULL\n"
        "), runs AS (\n"
        "  SELECT j.workspace_id, j.run_id, MAX(j.job_id) AS job_id,\n"
        f"    {_last('run_name', 'j')} AS run_name, {_last('run_type', 'j')} AS run_type,\n"
        f"    {_last('trigger_type', 'j')} AS trigger_type,\n"
        "    MIN(j.period_start_time) AS first_start, MAX(j.period_end_time) AS last_end,\n"
        f"    {_last('result_state', 'j')} AS result_state,\n"
        f"    {_last('termination_code', 'j')} AS termination_code\n"
        f"  FROM {job_runs} j\n"
        "  LEFT SEMI JOIN steps s ON j.run_id = s.JobRunID\n"
        "  GROUP BY j.workspace_id, j.run_id\n"
        "), task_runs AS (\n"
        "  SELECT k.job_run_id, k.run_id, MAX(k.task_key) AS task_key,\n"
        "    MIN(k.period_start_time) AS first_start, MAX(k.period_end_time) AS last_end,\n"
        f"    {_last('result_state', 'k')} AS result_state,\n"
        f"    {_last('termination_code', 'k')} AS termination_code\n"
        f"  FROM {task_runs} k\n"
        "  LEFT SEMI JOIN steps s ON k.job_run_id = s.JobRunID\n"
        "  GROUP BY k.job_run_id, k.run_id\n"
        "), task_counts AS (\n"
        "  SELECT job_run_id, COUNT(*) AS task_runs FROM task_runs GROUP BY job_run_id\n"
        ")\n"
        "SELECT\n  "
        + ",\n  ".join(f"{expr} AS {name}" for name, expr in select.items())
        + "\nFROM steps s\n"
        "LEFT JOIN runs r ON r.run_id = s.JobRunID\n"
        "LEFT JOIN task_counts c ON c.job_run_id = s.JobRunID\n"
        "LEFT JOIN task_runs t ON t.job_run_id = s.JobRunID\n"
        " AND (t.run_id = s.TaskRunID OR (s.TaskRunID IS NULL AND c.task_runs = 1))"
    )
    return View(
        VIEW_NAME,
        f"Each step that recorded a Databricks job run, with that run and its task run from "
        f"{catalog}.{schema}.{JOB_RUNS} and {TASK_RUNS}: result state, termination code, first "
        "start and last end (UTC) per run, over all its time slices.",
        body,
    )


def check_sources(ctx: Context, catalog: str, schema: str) -> None:
    """Raise NotFoundError unless both timelines are readable and have the columns used.

    Raises:
        NotFoundError: a table is missing, unreadable, or lacks a documented column.
    """
    for table, required in REQUIRED_COLUMNS.items():
        name = f"{catalog}.{schema}.{table}"
        try:
            fields = ctx.executor.table_schema(qualified(catalog, schema, table)).fields
        except Exception as error:
            raise NotFoundError(
                f"cannot read {name}: {type(error).__name__}: {str(error).splitlines()[0][:300]}. "
                f"{_HOW_TO_ENABLE} Nothing was created."
            ) from error
        present = {f.name.lower() for f in fields}
        missing = [c for c in required if c not in present]
        if missing:
            raise NotFoundError(
                f"{name} lacks the columns {', '.join(missing)} of Databricks' jobs system "
                f"table reference; nothing was created."
            )


_HOW_TO_ENABLE = (
    "Databricks system tables exist only on Databricks: the system.lakeflow schema must be "
    "enabled by an account admin (see 'Enable system table schemas'), and reading it takes "
    "USE and SELECT on the system catalog and schema (or metastore admin and account admin)."
)


def create_job_runs_view(ctx: Context, source: str = DEFAULT_SOURCE) -> str:
    """Create (or replace) `VIEW_NAME` in the framework's schema over `source`'s timelines.

    Args:
        ctx: the framework's catalog, schema and executor.
        source: ``catalog.schema`` holding ``job_run_timeline`` and ``job_task_run_timeline``.

    Returns:
        The view's name.

    Raises:
        InvalidArgumentError: `source` is not a valid two-part name.
        NotFoundError: a timeline table is absent, unreadable or lacks a column; nothing was
            created.
    """
    catalog, schema = parse_source(source)
    check_sources(ctx, catalog, schema)
    view = job_runs_view(catalog, schema)
    ctx.create_view(view.name, view.create_sql(ctx.catalog, ctx.schema, ctx.view_settings))
    log.info("created %s over %s.%s", ctx.name(view.name), catalog, schema)
    return VIEW_NAME
