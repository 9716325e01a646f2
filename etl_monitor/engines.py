"""What differs between Databricks, open-source Delta Lake and the embedded Sail engine, as data.

Every engine quirk the library knows about lives here; the rest of the code asks an
`Engine` what to do instead of checking which engine it runs on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

ENGINE_CONF_KEY = "etl_monitor.engine"
WAREHOUSE_CONF_KEY = "etl_monitor.warehouse"


@dataclass(frozen=True)
class Engine:
    """Capabilities of one Spark engine.

    name: ``databricks``, ``delta-spark`` or ``sail``.
    warehouse_root: when set, every table gets an explicit LOCATION under this root, so a
        new session (whose catalog is empty) can re-attach the tables from their files.
    """

    name: str
    liquid_clustering: bool
    alter_add_columns: bool
    change_data_feed: bool
    current_user_function: bool
    warehouse_root: str | None = None

    def table_location(self, catalog: str, schema: str, table: str) -> str | None:
        """Directory a table is created in, or None to let the catalog choose."""
        if self.warehouse_root is None:
            return None
        return f"{self.warehouse_root.rstrip('/')}/{catalog}/{schema}/{table}"


DATABRICKS = Engine(
    "databricks",
    liquid_clustering=True,
    alter_add_columns=True,
    change_data_feed=True,
    current_user_function=True,
)
DELTA_SPARK = Engine(
    "delta-spark",
    liquid_clustering=False,
    alter_add_columns=True,
    change_data_feed=True,
    current_user_function=True,
)


def sail(warehouse_root: str) -> Engine:
    """The embedded engine: no ALTER TABLE, no CDF, empty current_user(), catalog in memory."""
    return Engine(
        "sail",
        liquid_clustering=False,
        alter_add_columns=False,
        change_data_feed=False,
        current_user_function=False,
        warehouse_root=warehouse_root,
    )


def _conf(spark: Any, key: str) -> str | None:
    try:
        value = spark.conf.get(key, None)
    except Exception:  # some engines raise for unknown keys instead of returning the default
        return None
    return value or None


def detect_engine(spark: Any) -> Engine:
    """Work out which engine a SparkSession runs on.

    Sessions made by `etl_monitor.local` carry a marker in their conf; Databricks is
    recognised by its runtime environment; anything else is treated as open-source Delta.
    """
    marker = _conf(spark, ENGINE_CONF_KEY)
    if marker == "sail":
        root = _conf(spark, WAREHOUSE_CONF_KEY) or _conf(spark, "spark.sql.warehouse.dir")
        return sail(root or os.path.abspath("etl_monitor_warehouse"))
    if marker == "delta-spark":
        return DELTA_SPARK
    if os.environ.get("DATABRICKS_RUNTIME_VERSION") or _conf(
        spark, "spark.databricks.clusterUsageTags.clusterId"
    ):
        return DATABRICKS
    return DELTA_SPARK
