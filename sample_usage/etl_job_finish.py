# Databricks notebook source
# MAGIC %md
# MAGIC # etl_job_finish
# MAGIC
# MAGIC The last task of a Databricks job rendered by `etl-monitor jobs render` (`run_if:
# MAGIC ALL_DONE`): closes the execution. The initiation task 0/0 gets `DONE` when no mandatory
# MAGIC task failed and every mandatory task finished, else `FAIL` with the reason, and the task
# MAGIC fails so that the job run fails. When the initiation step is not RUNNING (the start did
# MAGIC not take it) nothing is recorded and the task fails.

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
dbutils.widgets.text("sequence_id", "", "Last stage of the job")
arg = dbutils.widgets.get

# COMMAND ----------

import json

from etl_monitor import ETLMonitorFramework
from etl_monitor.errors import StepStateError
from etl_monitor.jobs.gate import outcome
from etl_monitor.tracking.states import RUNNING

monitor = ETLMonitorFramework(spark, arg("catalog"), arg("schema"))
execution_id, project, process = arg("execution_id"), arg("project_code"), arg("process_load")
day = arg("processing_date") or None
result = outcome(monitor, execution_id, project, process)
step = {"task_id": 0, "workflow_id": 0, "sequence_id": 0, "processing_date": day}
if result.initiation_status != RUNNING:
    raise StepStateError(f"execution {execution_id} not closed: {result.reason()}")
if not result.ok:
    monitor.fail_task(
        execution_id, project, process, **step, log_message=result.reason(), log_code="BLOCKED"
    )
    raise StepStateError(f"execution {execution_id} failed: {result.reason()}")
status = monitor.end_task(execution_id, project, process, **step, log_message="all stages done")

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"execution_id": execution_id, "status": status}))
