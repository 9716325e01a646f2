# Databricks notebook source
# MAGIC %md
# MAGIC # etl_job_task_start
# MAGIC
# MAGIC Starts the step of a `DBX_JOB` task in a Databricks job rendered by `etl-monitor jobs
# MAGIC render`, before the job's *Run Job* task: records `RUNNING` and sets the task value
# MAGIC `active`, which the condition task after it reads, so that a step with nothing to do
# MAGIC (already DONE, skipped, deactivated) does not run the child job. `etl_end_task` and
# MAGIC `etl_job_task_fail` record the outcome.

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
arg = dbutils.widgets.get

# COMMAND ----------

import json

from etl_monitor import ETLMonitorFramework

monitor = ETLMonitorFramework(spark, arg("catalog"), arg("schema"))
run = monitor.start_task(
    arg("execution_id"),
    arg("project_code"),
    arg("process_load"),
    task_id=int(arg("task_id")),
    workflow_id=int(arg("workflow_id")),
    sequence_id=int(arg("sequence_id")) if arg("sequence_id") else None,
    processing_date=arg("processing_date") or None,
    source_type=arg("source_type") or None,
)
dbutils.jobs.taskValues.set(key="active", value=bool(run.active))

# COMMAND ----------

dbutils.notebook.exit(
    json.dumps({"status": run.status, "active": run.active, "reason": run.inactive_reason})
)
