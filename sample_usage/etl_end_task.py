# Databricks notebook source
# MAGIC %md
# MAGIC # etl_end_task
# MAGIC
# MAGIC Called by an Azure Data Factory *Notebook* activity on the success path of a task:
# MAGIC records `DONE` and, in the same commit, advances the task's `DELTA_DATE` watermark to the
# MAGIC task's start time. Exits with a JSON string holding the status.

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
dbutils.widgets.text("log_message", "", "Log message")
dbutils.widgets.text("log_type", "INFO", "Log type")
arg = dbutils.widgets.get

# COMMAND ----------

import json

from etl_monitor import ETLMonitorFramework

monitor = ETLMonitorFramework(spark, arg("catalog"), arg("schema"))
status = monitor.end_task(
    arg("execution_id"),
    arg("project_code"),
    arg("process_load"),
    task_id=int(arg("task_id")),
    workflow_id=int(arg("workflow_id")),
    sequence_id=int(arg("sequence_id")) if arg("sequence_id") else None,
    processing_date=arg("processing_date") or None,
    log_message=arg("log_message") or None,
    log_type=arg("log_type") or "INFO",
)

# COMMAND ----------

dbutils.notebook.exit(
    json.dumps(
        {
            "execution_id": arg("execution_id"),
            "task_id": int(arg("task_id")),
            "workflow_id": int(arg("workflow_id")),
            "status": status,
        }
    )
)
