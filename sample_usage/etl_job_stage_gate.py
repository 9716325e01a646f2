# Databricks notebook source
# MAGIC %md
# MAGIC # etl_job_stage_gate
# MAGIC
# MAGIC The task before each stage of a Databricks job rendered by `etl-monitor jobs render`. It
# MAGIC runs whatever the earlier stage's tasks did (`run_if: ALL_DONE`) and fails, so that the
# MAGIC stage's tasks are not run, when the initiation step is not RUNNING, a mandatory task of
# MAGIC the execution failed, or a mandatory task of an earlier stage is neither finished nor
# MAGIC failed. An optional task's failure does not stop the next stage.

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
dbutils.widgets.text("processing_date", "", "Processing date (yyyy-MM-dd; empty: today, UTC)")
dbutils.widgets.text("sequence_id", "", "Stage about to run (SequenceID)")
arg = dbutils.widgets.get

# COMMAND ----------

import json

from etl_monitor import ETLMonitorFramework
from etl_monitor.jobs.gate import check_stage

monitor = ETLMonitorFramework(spark, arg("catalog"), arg("schema"))
outcome = check_stage(
    monitor, arg("execution_id"), arg("project_code"), arg("process_load"), int(arg("sequence_id"))
)

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"stage": int(arg("sequence_id")), "open": outcome.ok}))
