"""What differs between Databricks, open-source Delta Lake and the embedded Sail engine, as data.

Every engine quirk the library knows about lives here; the rest of the code asks an
`Engine` what to do instead of checking which engine it runs on. Tests that cannot hold on
one engine skip with `Engine.lacks(capability)`, whose reason is `CAPABILITIES[capability]`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

ENGINE_CONF_KEY = "etl_monitor.engine"
WAREHOUSE_CONF_KEY = "etl_monitor.warehouse"

#: Each capability an engine may lack, and what that means for a reader of a skip reason.
CAPABILITIES: dict[str, str] = {
    "liquid_clustering": "CREATE TABLE ... CLUSTER BY (liquid clustering)",
    "alter_add_columns": "ALTER TABLE ... ADD COLUMNS (schema evolution by DDL)",
    "change_data_feed": "the delta.enableChangeDataFeed table property",
    "current_user_function": "a non-empty current_user()",
    "table_history": "DESCRIBE HISTORY (commits read from the table's history)",
    "optimize": "OPTIMIZE (file compaction by SQL)",
    "dml_parameters": "named parameters in DML statements (spark.sql(..., args=...))",
    "persistent_catalog": "a catalog that outlives the session (views survive a restart)",
    "three_level_names": "catalogs other than spark_catalog (three-level names)",
    "classic_client": "a classic (py4j) PySpark client; it is reached through Spark Connect only",
    "shared_catalog": "one catalog for every session of a server (another client's tables are visible)",
    "jdbc_server": "a JDBC/ODBC endpoint over its tables (the Spark Thrift Server)",
    "noop_merge_skips_commit": "no commit for a MERGE that changes no row (delta-spark writes an empty one)",
}


@dataclass(frozen=True)
class Engine:
    """Capabilities of one Spark engine.

    name: ``databricks``, ``delta-spark`` or ``sail``.
    default_catalog: the catalog a local framework lives in when none is given.
    warehouse_root: when set, every table gets an explicit LOCATION under this root and
        every view is also kept there, so a new session (whose catalog is empty) can
        re-attach the tables and views from their files.
    """

    name: str
    liquid_clustering: bool
    alter_add_columns: bool
    change_data_feed: bool
    current_user_function: bool
    table_history: bool
    optimize: bool
    dml_parameters: bool
    persistent_catalog: bool
    three_level_names: bool
    classic_client: bool = True
    shared_catalog: bool = True
    jdbc_server: bool = True
    noop_merge_skips_commit: bool = True
    default_catalog: str = "main"
    warehouse_root: str | None = None

    def table_location(self, catalog: str, schema: str, table: str) -> str | None:
        """Directory a table is created in, or None to let the catalog choose."""
        if self.warehouse_root is None:
            return None
        return f"{self.warehouse_root.rstrip('/')}/{catalog}/{schema}/{table}"

    def lacks(self, capability: str) -> str | None:
        """None when the engine has `capability`, else the reason a test skips.

        Raises:
            KeyError: `capability` is not one of `CAPABILITIES`.
        """
        what = CAPABILITIES[capability]
        return None if getattr(self, capability) else f"{self.name} lacks {what}"


DATABRICKS = Engine(
    "databricks",
    liquid_clustering=True,
    alter_add_columns=True,
    change_data_feed=True,
    current_user_function=True,
    table_history=True,
    optimize=True,
    dml_parameters=True,
    persistent_catalog=True,
    three_level_names=True,
    noop_merge_skips_commit=False,  # not measured here: taken to be delta-spark's
)
DELTA_SPARK = Engine(
    "delta-spark",
    liquid_clustering=True,  # Delta 3.1+; the pinned delta-spark has it
    alter_add_columns=True,
    change_data_feed=True,
    current_user_function=True,
    table_history=True,
    optimize=True,
    dml_parameters=True,
    persistent_catalog=True,
    three_level_names=False,
    noop_merge_skips_commit=False,  # measured: delta-spark 4.4 commits a MERGE that changes no row
    default_catalog="spark_catalog",
)


def local_delta(warehouse_root: str) -> Engine:
    """Open-source Delta started by `etl_monitor.engine.local`: an in-memory catalog over one warehouse."""
    from dataclasses import replace

    return replace(DELTA_SPARK, persistent_catalog=False, warehouse_root=warehouse_root)


def sail(warehouse_root: str) -> Engine:
    """The embedded engine: no ALTER TABLE, no CDF, empty current_user(), catalog in memory."""
    return Engine(
        "sail",
        liquid_clustering=False,
        alter_add_columns=False,
        change_data_feed=False,
        current_user_function=False,
        table_history=False,
        optimize=False,
        dml_parameters=False,
        persistent_catalog=False,
        three_level_names=True,
        classic_client=False,
        shared_catalog=False,
        jdbc_server=False,
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

    Sessions made by `etl_monitor.engine.local` carry a marker in their conf; Databricks is
    recognised by its runtime environment; anything else is treated as open-source Delta.
    """
    marker = _conf(spark, ENGINE_CONF_KEY)
    root = _conf(spark, WAREHOUSE_CONF_KEY)
    if marker == "sail":
        root = root or _conf(spark, "spark.sql.warehouse.dir")
        return sail(root or os.path.abspath("etl_monitor_warehouse"))
    if marker == "delta-spark":
        return local_delta(root) if root else DELTA_SPARK
    if os.environ.get("DATABRICKS_RUNTIME_VERSION") or _conf(
        spark, "spark.databricks.clusterUsageTags.clusterId"
    ):
        return DATABRICKS
    return DELTA_SPARK


# -- remote engines (Spark Connect) ---------------------------------------------------------
#: Conf keys only a Databricks cluster answers (a Databricks Connect session is known anyway).
DATABRICKS_CONF_KEYS = ("spark.databricks.clusterUsageTags.clusterId",)
#: Workspace host names: an ``sc://`` URL to one of these is Databricks.
DATABRICKS_HOST_SUFFIXES = (
    ".cloud.databricks.com",
    ".gcp.databricks.com",
    ".azuredatabricks.net",
    ".databricks.azure.cn",
)
#: The probe that tells Sail from JVM Spark on a Spark Connect session without a marker:
#: Spark's (and Databricks') ``version()`` answers "<release> <git revision>" (measured on
#: Spark 4.1.4: "4.1.4 45b9b176e6e27f530a86ac5421b03865b7ea6287"); Sail 0.7.2 answers its
#: own release alone ("0.7.2") while ``spark.version`` says "4.1.4". No conf key tells them
#: apart: Sail returns None for every key it was not given, the JVM's keys included.
VERSION_PROBE = "SELECT version() AS version"
_SPARK_VERSION = re.compile(r"^\d+\.\d+\.\d+\S*\s+[0-9a-f]{7,40}$")
#: Conf values that mean a JVM server's catalog lives only as long as the server.
_EPHEMERAL_CATALOGS = ("in-memory",)


def is_databricks_host(host: str) -> bool:
    """Whether a host name is a Databricks workspace's."""
    return host.lower().rstrip(".").endswith(DATABRICKS_HOST_SUFFIXES)


def server_family(version_text: str | None) -> str:
    """``spark`` for a ``version()`` answer in Spark's "<release> <git revision>" form, else ``sail``."""
    return "spark" if version_text and _SPARK_VERSION.match(version_text.strip()) else "sail"


def remote_engine(spark: Any, *, databricks: bool = False) -> Engine:
    """The capabilities of the server behind a Spark Connect session (Sail, JVM Spark, Databricks).

    Tables on a remote engine are managed by its catalog: ``warehouse_root`` is None (no
    LOCATION, no view files), and ``default_catalog`` is the session's current catalog.

    Args:
        spark: a Spark Connect SparkSession.
        databricks: the session is known to be Databricks (Databricks Connect).

    Returns:
        The Engine: DATABRICKS, DELTA_SPARK (catalog persistence read from the server) or Sail.
    """
    from dataclasses import replace

    from etl_monitor.engine.executor import SqlExecutor

    current = str(spark.catalog.currentCatalog())
    if databricks or any(_conf(spark, key) for key in DATABRICKS_CONF_KEYS):
        return replace(DATABRICKS, default_catalog=current)
    rows = SqlExecutor(spark).query(VERSION_PROBE)
    version = str(rows[0][0]) if rows and rows[0][0] is not None else None
    if server_family(version) == "spark":
        ephemeral = _conf(spark, "spark.sql.catalogImplementation") in _EPHEMERAL_CATALOGS
        return replace(DELTA_SPARK, persistent_catalog=not ephemeral, default_catalog=current)
    return replace(sail(""), warehouse_root=None, default_catalog=current)
