# Databricks notebook source
# MAGIC %md
# MAGIC # etl_start_task
# MAGIC
# MAGIC Called by an Azure Data Factory *Notebook* activity before a task's copy / load activity:
# MAGIC records the step as `RUNNING`. The exit value (a JSON string, in
# MAGIC `activity('...').output.runOutput`) carries the status, whether the task should run at
# MAGIC all (`active`), the file name and the watermark to load from.

# COMMAND ----------

# ruff: noqa: F821, E402 - spark, dbutils, display are notebook globals; imports sit in cells
dbutils.widgets.text("catalog", "main", "Catalog")
dbutils.widgets.text("schema", "etl", "Schema")
dbutils.widgets.text("execution_id", "", "Execution ID")
dbutils.widgets.text("project_code", "", "Project code")
dbutils.widgets.text("process_load", "", "Process load")
dbutils.widgets.text("task_id", "", "Task ID")
dbutils.widgets.text("workflow_id", "", "Workflow ID")
dbutils.widgets.text("sequence_id", "", "Sequence ID")
dbutils.widgets.text("processing_date", "", "Processing date (yyyy-MM-dd)")
dbutils.widgets.text("source_type", "ADF_PIPELINE", "Source type")
arg = dbutils.widgets.get

# COMMAND ----------

import json

from etl_monitor import ETLMonitorFramework

monitor = ETLMonitorFramework(spark, arg("catalog"), arg("schema"))
if int(arg("task_id")) == 0 and int(arg("workflow_id")) == 0:
    # The initiation task opens the execution: queue its steps first (a repeat call is a no-op).
    monitor.generate_execution_steps(
        arg("execution_id"),
        arg("project_code"),
        arg("process_load"),
        arg("processing_date") or None,
    )
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

# COMMAND ----------

result = {
    "execution_id": run.execution_id,
    "task_id": run.task_id,
    "workflow_id": run.workflow_id,
    "status": run.status,
    "active": run.active,
    "reason": run.inactive_reason,
    "attempt": run.attempt,
    "file_name": run.file_name,
    "watermark": None if run.watermark is None else str(run.watermark),
}
dbutils.notebook.exit(json.dumps(result))
