# Databricks notebook source
# MAGIC %md
# MAGIC # etl_job_start
# MAGIC
# MAGIC The first task of a Databricks job rendered by `etl-monitor jobs render`: opens the
# MAGIC execution, whose id is the job's run id (`{{job.run_id}}`). Queues the execution's steps
# MAGIC (a repeat is a no-op), skips for this execution the steps a Databricks job does not run
# MAGIC (ADF pipelines, dataflows) and starts the initiation task 0/0. Fails, recording nothing
# MAGIC more, when the initiation step is not this run's to take (already DONE for the period,
# MAGIC deactivated or running elsewhere): no stage runs then.

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
arg = dbutils.widgets.get

# COMMAND ----------

import json

from etl_monitor import ETLMonitorFramework
from etl_monitor.errors import StepStateError
from etl_monitor.jobs.gate import skip_not_in_job

monitor = ETLMonitorFramework(spark, arg("catalog"), arg("schema"))
execution_id, project, process = arg("execution_id"), arg("project_code"), arg("process_load")
day = arg("processing_date") or None
queued = monitor.generate_execution_steps(execution_id, project, process, day)
skipped = skip_not_in_job(monitor, execution_id, project, process, day)
run = monitor.start_task(
    execution_id,
    project,
    process,
    task_id=0,
    workflow_id=0,
    sequence_id=0,
    processing_date=day,
    source_type="DBX_JOB",
)
if not run.active:
    raise StepStateError(
        f"the initiation task (0/0) of execution {execution_id} did not start: status "
        f"{run.status}, {run.inactive_reason}"
    )

# COMMAND ----------

dbutils.notebook.exit(
    json.dumps(
        {
            "execution_id": execution_id,
            "queued": queued,
            "skipped": skipped,
            "status": run.status,
            "attempt": run.attempt,
        }
    )
)
