# Databricks notebook source
# MAGIC %md
# MAGIC # etl_job_task_fail
# MAGIC
# MAGIC Records `FAIL` for a `DBX_JOB` step of a Databricks job rendered by `etl-monitor jobs
# MAGIC render`, after its *Run Job* task or its start failed (`run_if: AT_LEAST_ONE_FAILED`),
# MAGIC with the child run's result state and error code. It writes only for a step this run
# MAGIC started (RUNNING), or one whose start task itself failed: a step whose stage never ran
# MAGIC (its gate failed) stays queued for the next run.

# COMMAND ----------

# MAGIC %pip install lakehouse-etl-monitor

# COMMAND ----------

# ruff: noqa: F821, E402 - spark, dbutils, display are notebook globals; imports sit in cells
dbutils.widgets.text("catalog", "main", "Catalog")
dbutils.widgets.text("schema", "etl", "Schema")
dbutils.widgets.text("execution_id", "", "Execution ID (the job run id)")
dbutils.widgets.text("job_run_id", "", "Job run ID")
dbutils.widgets.text("task_run_id", "", "Task run ID")
dbutils.widgets.text("project_code", "", "Project code")
dbutils.widgets.text("process_load", "", "Process load")
dbutils.widgets.text("task_id", "", "Task ID")
dbutils.widgets.text("workflow_id", "", "Workflow ID")
dbutils.widgets.text("sequence_id", "", "Sequence ID")
dbutils.widgets.text("processing_date", "", "Processing date (yyyy-MM-dd; empty: today, UTC)")
dbutils.widgets.text("source_type", "DBX_JOB", "Source type")
dbutils.widgets.text("start_state", "", "Result state of the step's start task")
dbutils.widgets.text("child_run_id", "", "Run id of the child job run")
dbutils.widgets.text("log_message", "", "Log message")
dbutils.widgets.text("log_code", "", "Log code")
arg = dbutils.widgets.get

# COMMAND ----------

import json

from etl_monitor import ETLMonitorFramework
from etl_monitor.jobs.gate import step_status
from etl_monitor.tracking.states import FAILED, FINISHED_OK, RUNNING

monitor = ETLMonitorFramework(spark, arg("catalog"), arg("schema"))
execution_id, project, process = arg("execution_id"), arg("project_code"), arg("process_load")
task_id, workflow_id = int(arg("task_id")), int(arg("workflow_id"))
status = step_status(monitor, execution_id, project, process, task_id, workflow_id)
start_failed = arg("start_state") == "FAILED"
record = status == RUNNING or (
    start_failed and status is not None and status not in (*FINISHED_OK, *FAILED)
)
if record:
    status = monitor.fail_task(
        execution_id,
        project,
        process,
        task_id=task_id,
        workflow_id=workflow_id,
        sequence_id=int(arg("sequence_id")) if arg("sequence_id") else None,
        processing_date=arg("processing_date") or None,
        log_message=arg("log_message") or None,
        log_code=arg("log_code") or None,
        source_run_id=arg("child_run_id") or None,
    )

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"status": status, "recorded": record}))
