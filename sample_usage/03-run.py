# Databricks notebook source
# MAGIC %md
# MAGIC # 03 - Run an execution
# MAGIC
# MAGIC One execution of `CORP` / `HR_DAILY` (registered in `02-config`): queue the steps, run
# MAGIC the tasks (one of them fails), look at the status, retry under a new execution id, and
# MAGIC finally replay the whole day.

# COMMAND ----------

# ruff: noqa: F821, E402 - spark, dbutils, display are notebook globals; imports sit in cells
dbutils.widgets.text("catalog", "main", "Catalog")
dbutils.widgets.text("schema", "etl", "Schema")
dbutils.widgets.text("processing_date", "", "Processing date (yyyy-MM-dd, empty: today)")

from datetime import datetime, timezone

from etl_monitor import ETLMonitorFramework

monitor = ETLMonitorFramework(spark, dbutils.widgets.get("catalog"), dbutils.widgets.get("schema"))
PROJECT, PROCESS = "CORP", "HR_DAILY"
day = dbutils.widgets.get("processing_date") or datetime.now(timezone.utc).date().isoformat()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Queue the steps
# MAGIC Every run gets a new execution id. `generate_execution_steps` queues one step (`NQUE`)
# MAGIC per active task not already DONE in its period; `get_pending_tasks` lists the runnable
# MAGIC ones in stage order, with their file names and watermarks.

# COMMAND ----------

exec_id = ETLMonitorFramework.generate_execution_id()
queued = monitor.generate_execution_steps(exec_id, PROJECT, PROCESS, day)
pending = monitor.get_pending_tasks(exec_id, PROJECT, PROCESS)
print(f"execution {exec_id}: {queued} steps queued for {day}")
display(pending)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Run the tasks
# MAGIC `monitor.task(...)` records `RUNNING`, then `DONE` (advancing the task's `DELTA_DATE`
# MAGIC watermark in the same commit) or `FAIL` with the exception, which is re-raised.
# MAGIC `t.active` is False when there is nothing to do (already DONE, skipped, deactivated).
# MAGIC Here the *Load Departments* task fails on the first attempt.

# COMMAND ----------


def run_tasks(execution_id: str, fail: bool) -> dict[str, str]:
    """Run the pending loads and dimension build of an execution; returns task name -> outcome."""
    outcomes = {}
    monitor.start_task(execution_id, PROJECT, PROCESS, task_id=0, sequence_id=0, workflow_id=0)
    for t in monitor.get_pending_tasks(execution_id, PROJECT, PROCESS).collect():
        if t["WorkFlowID"] == 0:
            continue
        try:
            with monitor.task(
                execution_id,
                PROJECT,
                PROCESS,
                task_id=t["TaskID"],
                sequence_id=t["SequenceID"],
                workflow_id=t["WorkFlowID"],
                log_message=f"{t['TaskName']} loaded",
            ) as run:
                if not run.active:
                    outcomes[t["TaskName"]] = f"not run: {run.inactive_reason}"
                    continue
                print(f"{t['TaskName']}: reading {t['FullFileName']} since {run.watermark}")
                if fail and t["TaskName"] == "Load Departments":
                    raise ConnectionError("source database refused the connection")
            outcomes[t["TaskName"]] = run.status
        except ConnectionError as error:
            outcomes[t["TaskName"]] = f"FAIL ({error})"
    if any(o.startswith("FAIL") for o in outcomes.values()):
        monitor.fail_task(
            execution_id, PROJECT, PROCESS, task_id=0, workflow_id=0, log_message="a load failed"
        )
    else:
        monitor.end_task(
            execution_id, PROJECT, PROCESS, task_id=0, workflow_id=0, log_message="all tasks done"
        )
    return outcomes


first_outcomes = run_tasks(exec_id, fail=True)
print(first_outcomes)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Status
# MAGIC Task detail (`v_taskDetail`) and the run rollup (`v_runSummary`), as DataFrames.

# COMMAND ----------

display(monitor.get_status(PROJECT, PROCESS, execution_id=exec_id))

# COMMAND ----------

display(monitor.get_status(PROJECT, PROCESS, execution_id=exec_id, summary_mode=True))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Retry
# MAGIC A retry is a new execution: only the tasks not DONE today are queued again.

# COMMAND ----------

retry_id = ETLMonitorFramework.generate_execution_id()
monitor.generate_execution_steps(retry_id, PROJECT, PROCESS, day)
retry_outcomes = run_tasks(retry_id, fail=False)
display(monitor.get_status(PROJECT, PROCESS, processing_date=day, summary_mode=True))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Day replay
# MAGIC To load a day again (for instance after a source correction), `status_reset` with a
# MAGIC `processing_date` re-queues (`RQUE`) every step of that day, DONE ones included; the
# MAGIC next execution then runs the whole day again. The history stays in the event log.

# COMMAND ----------

replayed = monitor.status_reset(PROJECT, PROCESS, processing_date=day)
print(f"day replay: {replayed} steps re-queued")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Watermarks
# MAGIC `v_watermarks` is what an ADF Lookup or a SQL Server linked server reads: `ActiveValue`
# MAGIC is an ISO 8601 string, an integer, or `1`/`0`.

# COMMAND ----------

display(
    spark.table(monitor.table_name("v_watermarks"))
    .where(f"ProjectCode = '{PROJECT}' AND ProcessLoad = '{PROCESS}'")
    .select("ParameterName", "ParameterType", "ActiveValue")
)
