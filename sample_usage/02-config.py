# Databricks notebook source
# MAGIC %md
# MAGIC # 02 - Register a process
# MAGIC
# MAGIC Registers the organisation, project, process, tasks and parameters of a sample
# MAGIC `CORP` / `HR_DAILY` process. Every `register_*` call is an upsert: re-running the notebook
# MAGIC updates the rows in place.

# COMMAND ----------

# ruff: noqa: F821, E402 - spark, dbutils, display are notebook globals; imports sit in cells
dbutils.widgets.text("catalog", "main", "Catalog")
dbutils.widgets.text("schema", "etl", "Schema")

from etl_monitor import ETLMonitorFramework

monitor = ETLMonitorFramework(spark, dbutils.widgets.get("catalog"), dbutils.widgets.get("schema"))
PROJECT, PROCESS = "CORP", "HR_DAILY"

# COMMAND ----------

# MAGIC %md
# MAGIC ## Organisation, project, process
# MAGIC `load_frequency="D"`: a task DONE today is not queued again by later executions today.

# COMMAND ----------

(
    monitor.register_organisation("CORP", "Corporate Services")
    .register_project(PROJECT, "Corporate data", organisation_code="CORP", owner="Data Engineering")
    .register_process(PROJECT, PROCESS, name="HR Daily Load", owner="HR Team", load_frequency="D")
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Tasks
# MAGIC * Task `0/0/0` is the initiation task: it marks the start and end of the whole execution.
# MAGIC * Loads run in stage 2 (`sequence_id=2`), the dimension build in stage 3.
# MAGIC * A failed **mandatory** task blocks every later stage (see `v_mandatoryBlockers`).
# MAGIC * `file_name_mask`: a base name gets the date by frequency (`employees` gives
# MAGIC   `employees_20260409.csv` for a daily task); tokens such as `{yyyyMMdd}` work too;
# MAGIC   `sla_minutes` drives `SLABreached` in `v_taskDetail`.
# MAGIC * `source_system_code` names the task's watermark parameter.

# COMMAND ----------

monitor.register_task(
    PROJECT, PROCESS, task_id=0, workflow_id=0, sequence_id=0, task_name="Initiation"
)
LOADS = {1: ("Employees", True), 2: ("Departments", False), 3: ("Absences", False)}
for task_id, (name, mandatory) in LOADS.items():
    monitor.register_task(
        PROJECT,
        PROCESS,
        task_id=task_id,
        workflow_id=1,
        sequence_id=2,
        task_name=f"Load {name}",
        source_type="DBX_NOTEBOOK",
        source_system_code=f"Load{name}",
        task_mandatory=mandatory,
        file_name_mask=name.lower(),
        file_extension=".csv",
        sla_minutes=30,
    )
monitor.register_task(
    PROJECT, PROCESS, task_id=9, workflow_id=1, sequence_id=3, task_name="Build HR dimensions"
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Parameters
# MAGIC | Type | Meaning |
# MAGIC |---|---|
# MAGIC | `SYSTEM` | the historic processing date (NULL in live mode) |
# MAGIC | `DELTA_DATE` | timestamp watermark of an incremental load; advanced when its task is DONE |
# MAGIC | `DELTA_ID` | integer watermark (last loaded id) |
# MAGIC | `FLAG` | an on/off switch your pipeline can read |

# COMMAND ----------

monitor.register_parameter(PROJECT, PROCESS, "SYSDT", "SYSTEM")
for name, _ in LOADS.values():
    monitor.register_parameter(
        PROJECT, PROCESS, f"Load{name}", "DELTA_DATE", description=f"Last {name} load start"
    )
monitor.register_parameter(
    PROJECT, PROCESS, "LastAbsenceId", "DELTA_ID", value_int=0, description="Last absence id"
)
monitor.register_parameter(
    PROJECT, PROCESS, "SendReport", "FLAG", value_bit=True, description="Mail the HR report"
)

# COMMAND ----------

display(spark.table(monitor.table_name("ETLconfigTasks")).where(f"ProjectCode = '{PROJECT}'"))
display(spark.table(monitor.table_name("v_watermarks")).where(f"ProjectCode = '{PROJECT}'"))
