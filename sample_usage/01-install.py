# Databricks notebook source
# MAGIC %md
# MAGIC # 01 - Install and set up
# MAGIC
# MAGIC Installs the library on the cluster and creates the tracking tables and views.
# MAGIC `setup()` is idempotent: run it on every deployment, a second call changes no row.

# COMMAND ----------

# MAGIC %pip install lakehouse-etl-monitor

# COMMAND ----------

# ruff: noqa: F821, E402 - spark, dbutils, display are notebook globals; imports sit in cells
dbutils.widgets.text("catalog", "main", "Catalog")
dbutils.widgets.text("schema", "etl", "Schema")
catalog = dbutils.widgets.get("catalog")
schema = dbutils.widgets.get("schema")

# COMMAND ----------

# MAGIC %md
# MAGIC `setup()` creates the config tables (`ETLconfig*`), the append-only event log
# MAGIC (`ETLProcessingEvents`), the `ETLProcessingSteps` view and the reporting views, and seeds
# MAGIC the seven workflow stages. The report says what was created, attached or upgraded.

# COMMAND ----------

from etl_monitor import ETLMonitorFramework

monitor = ETLMonitorFramework(spark, catalog, schema)
report = monitor.setup()
print(report)

# COMMAND ----------

display(spark.sql(f"SHOW TABLES IN `{catalog}`.`{schema}`"))
