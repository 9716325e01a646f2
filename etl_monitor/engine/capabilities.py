"""What differs between Databricks, open-source Delta Lake and the embedded Sail engine, as data.

Every engine quirk the library knows about lives here; the rest of the code asks an
`Engine` what to do instead of checking which engine it runs on. An Engine is worked out
from the session itself, once per session (`detect_engine`: `probe.observe` gives the
facts, `engine_for` the capabilities), whatever session the user hands the library:
classic or Spark Connect, PySpark or Databricks Connect, Spark 3.5 to 4.1, Sail.
`CAPABILITIES` says what each capability is and `FALLBACKS` what is done without it: the one
table of paths. Tests that cannot hold on one engine skip with `Engine.lacks(capability)`.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass, replace
from typing import Any

from etl_monitor.engine.probe import (
    ENGINE_CONF_KEY,
    WAREHOUSE_CONF_KEY,
    SessionFacts,
    observe,
    server_family,
    version_tuple,
)
from etl_monitor.errors import EngineError

__all__ = [
    "CAPABILITIES",
    "DATABRICKS",
    "DELTA_SPARK",
    "ENGINE_CONF_KEY",
    "FALLBACKS",
    "MINIMUM",
    "WAREHOUSE_CONF_KEY",
    "Engine",
    "check_supported",
    "detect_engine",
    "engine_for",
    "local_delta",
    "sail",
    "server_family",
]

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
    "query_parameters": "named parameters in queries (spark.sql(..., args=...)) bound by the server",
    "dataframe_merge": "DataFrame.mergeInto in its client (PySpark 4.0+)",
    "idempotent_append": "Delta's idempotent writes (the txnAppId / txnVersion write options)",
    "auto_compaction": "Delta's auto compaction after a write (delta.autoOptimize.autoCompact)",
}

#: The path taken where an engine lacks a capability: the one table of fallbacks. Each path
#: keeps the rules: no user value in SQL text, every statement through the one executor.
FALLBACKS: dict[str, str] = {
    "liquid_clustering": "PARTITIONED BY the same columns",
    "alter_add_columns": "an empty append with mergeSchema",
    "change_data_feed": "the table property is left out",
    "current_user_function": "the user from the environment (ETL_MONITOR_USER, USER)",
    "table_history": "commits counted from the _delta_log folder",
    "optimize": "compaction through the deltalake package",
    "dml_parameters": "DataFrame writes, and a MERGE whose values are typed literals of the plan",
    "query_parameters": "the values as a one-row temporary view, each marker a scalar subquery",
    "dataframe_merge": "a SQL MERGE from a temporary view of the rows (partition filter as "
    "named parameters where the server binds them, else by the join alone)",
    "idempotent_append": "a transition is claimed by an insert-only MERGE (serialised per "
    "table in one process, conflicts retried)",
    "auto_compaction": "the event log's files compacted through the deltalake package by the "
    "writer that sees the log's hundredth-commit checkpoint (tables this process can reach)",
}

#: The oldest runtime supported: Databricks Runtime 15.4 LTS's Spark and Delta.
MINIMUM = {"spark": (3, 5), "delta": (3, 2), "databricks": (15, 4)}


@dataclass(frozen=True)
class Engine:
    """Capabilities of one Spark engine.

    name: ``databricks``, ``delta-spark`` or ``sail``.
    runtime: the runtime as observed (`SessionFacts.runtime`), "" when not observed.
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
    query_parameters: bool = True
    dataframe_merge: bool = True
    idempotent_append: bool = True
    auto_compaction: bool = True
    default_catalog: str = "main"
    warehouse_root: str | None = None
    runtime: str = ""

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

    def path(self, capability: str) -> str:
        """What the library does for `capability` on this engine: the capability, or its fallback.

        Raises:
            KeyError: `capability` is not one of `CAPABILITIES`.
        """
        what = CAPABILITIES[capability]
        if getattr(self, capability):
            return what
        return FALLBACKS.get(capability, f"without {what}")

    @property
    def merge_path(self) -> str:
        """How an insert-only MERGE is issued: ``dataframe``, ``sql_parameters`` or ``sql``."""
        if self.dataframe_merge:
            return "dataframe"
        return "sql_parameters" if self.dml_parameters and self.query_parameters else "sql"


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
        idempotent_append=False,  # measured: Sail ignores txnAppId and writes every append
        auto_compaction=False,  # measured: 50 one-row appends leave Sail 50 files
        warehouse_root=warehouse_root,
    )


def check_supported(facts: SessionFacts) -> None:
    """Refuse a runtime below `MINIMUM` (Spark 3.5 with Delta 3.2: Databricks 15.4 LTS).

    Raises:
        EngineError: the server's Spark, or the Delta seen by the client, is older; the
            message names the runtime found and the minimum.
    """
    spark = version_tuple(facts.spark_version)
    delta = version_tuple(facts.delta_version)
    runtime = version_tuple(facts.databricks_runtime)
    if facts.family == "sail":
        return  # Sail's version() is its own; spark.version is the Spark it speaks
    if (
        (spark and spark < MINIMUM["spark"])
        or (delta and delta < MINIMUM["delta"])
        or (runtime and runtime < MINIMUM["databricks"])
    ):
        floor = {name: ".".join(map(str, v)) for name, v in MINIMUM.items()}
        raise EngineError(
            f"unsupported runtime {facts.runtime}: the minimum is Spark {floor['spark']} with "
            f"Delta {floor['delta']} (Databricks Runtime {floor['databricks']} LTS)"
        )


def engine_for(facts: SessionFacts) -> Engine:
    """The Engine of an observed session: its family's capabilities, then what the session showed.

    Sessions the library started (`etl_monitor.engine.local`) carry a marker and a warehouse
    root; a user's own session has tables managed by its catalog (no warehouse root) and its
    current catalog as the default one.
    """
    if facts.marker == "sail":
        engine = sail(facts.warehouse or os.path.abspath("etl_monitor_warehouse"))
    elif facts.marker == "delta-spark":
        engine = local_delta(facts.warehouse) if facts.warehouse else DELTA_SPARK
        # A classic JVM in this process is no server: no other client sees its catalog.
        engine = replace(engine, shared_catalog=facts.client == "connect")
    elif facts.family == "databricks":
        engine = replace(DATABRICKS, default_catalog=facts.current_catalog)
    elif facts.family == "sail":
        engine = replace(sail(""), warehouse_root=None, default_catalog=facts.current_catalog)
    else:
        delta = version_tuple(facts.delta_version)
        engine = replace(
            DELTA_SPARK,
            persistent_catalog=not facts.ephemeral_catalog,
            liquid_clustering=not delta or delta >= (3, 1),
            classic_client=facts.client == "classic",
            default_catalog=facts.current_catalog,
        )
    return replace(
        engine,
        query_parameters=engine.query_parameters and facts.query_parameters,
        dataframe_merge=facts.merge_into,
        runtime=facts.runtime,
    )


_engines: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()
_engines_by_id: dict[int, tuple[Any, Engine]] = {}
_engines_lock = threading.Lock()


def detect_engine(spark: Any, *, databricks: bool = False) -> Engine:
    """What the engine behind a session can do, observed once per session (see `probe.observe`).

    Args:
        spark: any SparkSession the user hands the library, or one it started itself.
        databricks: the caller knows the session is Databricks (a Databricks Connect profile).

    Returns:
        The Engine; the same object for every later call with the same session.

    Raises:
        EngineError: the runtime is below the supported minimum (`check_supported`).
    """
    with _engines_lock:
        try:
            known = _engines.get(spark)
        except TypeError:  # a session without weak references: kept by id, with itself
            held = _engines_by_id.get(id(spark))
            known = held[1] if held and held[0] is spark else None
    if known is not None:
        return known
    facts = observe(spark, databricks=databricks)
    check_supported(facts)
    engine = engine_for(facts)
    with _engines_lock:
        try:
            _engines[spark] = engine
        except TypeError:
            _engines_by_id[id(spark)] = (spark, engine)
    return engine
