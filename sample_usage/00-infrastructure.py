# Databricks notebook source
# MAGIC %md
# MAGIC # 00 - Infrastructure
# MAGIC
# MAGIC Creates the Unity Catalog catalog and schema that will hold the ETL monitoring tables.
# MAGIC
# MAGIC * The catalog is created only when `SHOW CATALOGS` does not list it (creating a catalog
# MAGIC   needs the `CREATE CATALOG` privilege on the metastore, which most users lack).
# MAGIC * The schema is created with `CREATE SCHEMA IF NOT EXISTS`, so this notebook is safe to re-run.

# COMMAND ----------

# ruff: noqa: F821, E402 - spark, dbutils, display are notebook globals; imports sit in cells
dbutils.widgets.text("catalog", "main", "Catalog")
dbutils.widgets.text("schema", "etl", "Schema")

# COMMAND ----------

# MAGIC %md
# MAGIC Identifiers cannot travel as query parameters, so they are validated with
# MAGIC `check_identifier` and back-quoted before they are placed in the SQL text.

# COMMAND ----------

from etl_monitor.engine.executor import check_identifier

catalog = check_identifier(dbutils.widgets.get("catalog"), "catalog", allow_dash=True)
schema = check_identifier(dbutils.widgets.get("schema"), "schema", allow_dash=True)

# COMMAND ----------

existing = {str(row[0]).lower() for row in spark.sql("SHOW CATALOGS").collect()}
if catalog.lower() in existing:
    print(f"catalog `{catalog}` exists")
else:
    spark.sql(f"CREATE CATALOG IF NOT EXISTS `{catalog}`")
    print(f"catalog `{catalog}` created")

# COMMAND ----------

spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{catalog}`.`{schema}`")
print(f"schema `{catalog}`.`{schema}` is ready")
