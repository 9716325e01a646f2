# Databricks notebook source
# MAGIC %md
# MAGIC # 04 - Data profiling monitors
# MAGIC
# MAGIC Lists the tables to monitor in Delta config tables next to the ETL tracking tables, then
# MAGIC provisions Databricks data profiling monitors for them through `databricks-sdk` and builds
# MAGIC unified drift and profile views across all of them.

# COMMAND ----------

# ruff: noqa: F821, E402 - spark, dbutils, display are notebook globals; imports sit in cells
dbutils.widgets.text("catalog", "main", "Catalog")
dbutils.widgets.text("schema", "etl", "Schema")
dbutils.widgets.text("source_schema", "main.sales", "Schema of the monitored tables")
dbutils.widgets.text("output_schema", "main.monitoring", "Schema for the metric tables")
source_schema = dbutils.widgets.get("source_schema")
output_schema = dbutils.widgets.get("output_schema")

# COMMAND ----------

# MAGIC %md
# MAGIC The `WorkspaceClient` picks up the notebook's credentials. A client defined before this
# MAGIC notebook runs (for example a test double) is used instead.

# COMMAND ----------

from databricks.sdk import WorkspaceClient

from etl_monitor import ETLMonitorFramework

workspace_client = globals().get("workspace_client") or WorkspaceClient()
monitor = ETLMonitorFramework(spark, dbutils.widgets.get("catalog"), dbutils.widgets.get("schema"))
mon = monitor.monitoring(workspace_client=workspace_client)
print(mon.setup())

# COMMAND ----------

# MAGIC %md
# MAGIC ## Configuration
# MAGIC A group carries the alert addresses and the drift threshold; each table its profile
# MAGIC type (`SNAPSHOT`, `TIMESERIES`, `INFERENCE`) and settings. Both calls are upserts.

# COMMAND ----------

mon.register_group("sales", ["sales-data@example.com"], drift_threshold=0.3, owner="Sales")
mon.register_table(
    f"{source_schema}.orders",
    profile_type="TIMESERIES",
    timestamp_column="ts",
    granularities=["1 day"],
    slicing_exprs=["region"],
    monitor_group="sales",
    output_schema_name=output_schema,
    runbook_url="https://wiki.example.com/orders",
)
mon.register_table(
    f"{source_schema}.customers", profile_type="SNAPSHOT", output_schema_name=output_schema
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Plan, then apply
# MAGIC `plan()` changes nothing: per table it says create / update / unchanged / skip / error,
# MAGIC with the reason (a missing column, a policy violation, the quota). `apply()` converges
# MAGIC and logs every outcome to `ETLmonitorLog`; a re-run with no config change makes no
# MAGIC mutating call.

# COMMAND ----------

plan = mon.plan()
display(plan.as_dict()["tables"])
assert plan.ok, plan.as_dict()

# COMMAND ----------

result = mon.apply()
print(
    f"{result.monitors_created} created, {result.monitors_updated} updated, "
    f"{result.monitors_skipped} skipped, {result.monitors_failed} failed"
)
display(result.as_dict()["tables"])

# COMMAND ----------

# MAGIC %md
# MAGIC ## Unified views
# MAGIC `v_monitor_drift_<group>` / `v_monitor_profile_<group>` (and `_all`) union the metric
# MAGIC tables of the ready monitors; `v_monitor_drift_alerts` keeps the rows above the drift
# MAGIC threshold. A table whose metric tables do not exist yet is left out and reported.

# COMMAND ----------

views = mon.create_unified_views()
print(views.as_dict())
display(spark.table(monitor.table_name("ETLmonitorState")))
