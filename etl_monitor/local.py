"""The embedded engine: Sail in-process, or classic JVM Spark with Delta for machines with Maven.

`spark_session()` starts a Sail Spark Connect server inside this process and returns a
SparkSession where three-part names (``main.etl.t``) work and every table lives under one
warehouse directory. Sail keeps its catalog in memory, so on start every Delta table found
under the warehouse is registered again: a second process pointed at the same directory
sees the same tables and rows.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from .engines import ENGINE_CONF_KEY, WAREHOUSE_CONF_KEY
from .errors import EngineError
from .sql import SqlExecutor, check_identifier, qualified, sql_string_literal

log = logging.getLogger("etl_monitor.local")

DEFAULT_WAREHOUSE = "etl_monitor_warehouse"
WAREHOUSE_ENV = "ETL_MONITOR_WAREHOUSE"

_sessions: dict[str, tuple[Any, Any]] = {}
_lock = threading.Lock()


def warehouse_root(warehouse: str | os.PathLike[str] | None = None) -> str:
    """Absolute warehouse directory: the argument, $ETL_MONITOR_WAREHOUSE, or ./etl_monitor_warehouse."""
    root = (
        Path(warehouse or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).expanduser().resolve()
    )
    if any(ch in str(root) for ch in "'\\\n`"):
        raise EngineError(
            f"warehouse path {str(root)!r} must not contain quotes, backslashes or newlines"
        )
    return str(root)


def _existing_tables(root: str) -> list[tuple[str, str, str, str]]:
    """(catalog, schema, table, location) for every Delta table under root/<catalog>/<schema>/<table>."""
    found = []
    for log_dir in sorted(Path(root).glob("*/*/*/_delta_log")):
        table_dir = log_dir.parent
        catalog, schema, table = table_dir.parent.parent.name, table_dir.parent.name, table_dir.name
        try:
            for part, what in ((catalog, "catalog"), (schema, "schema"), (table, "table")):
                check_identifier(part, what, allow_dash=what != "table")
        except Exception:
            log.warning("ignoring %s: not a catalog/schema/table path", table_dir)
            continue
        found.append((catalog, schema, table, str(table_dir)))
    return found


def _catalog_list(names: list[str]) -> str:
    entries = [f'{{name="{n}",type="memory",initial_database=["default"]}}' for n in names]
    return "[" + ",".join(entries) + "]"


def spark_session(
    warehouse: str | os.PathLike[str] | None = None,
    *,
    catalogs: tuple[str, ...] = ("main",),
    engine: str = "sail",
) -> Any:
    """A SparkSession on the embedded engine, with all data under `warehouse`.

    engine: ``sail`` (default, no JVM) or ``delta`` (JVM Spark with delta-spark; needs
    Maven access to fetch the Delta jars on first use).
    """
    if engine == "delta":
        return delta_builder(warehouse).getOrCreate()
    if engine != "sail":
        raise EngineError(f"unknown engine {engine!r}; allowed: 'sail', 'delta'")
    root = warehouse_root(warehouse)
    with _lock:
        if root in _sessions:
            return _sessions[root][1]
        try:
            from pysail.spark import SparkConnectServer
            from pyspark.sql import SparkSession
        except ImportError as error:  # pragma: no cover - depends on the install
            raise EngineError(
                "the embedded engine needs the 'local' extra: pip install 'lakehouse-etl-monitor[local]'"
            ) from error
        tables = _existing_tables(root)
        names = list(dict.fromkeys([*catalogs, *(t[0] for t in tables)]))
        for name in names:
            check_identifier(name, "catalog", allow_dash=True)
        # Sail reads its configuration from the environment when the server starts.
        os.environ["SAIL_CATALOG__LIST"] = _catalog_list([*names, "spark_catalog"])
        os.environ["SAIL_CATALOG__DEFAULT_CATALOG"] = "spark_catalog"
        # Sail logs its own internal commit retries as errors; failures reach us as exceptions.
        os.environ.setdefault("RUST_LOG", "off")
        Path(root).mkdir(parents=True, exist_ok=True)
        server = SparkConnectServer(ip="127.0.0.1", port=0)
        server.start(background=True)
        host, port = server.listening_address
        spark = (
            SparkSession.builder.remote(f"sc://{host}:{port}")
            .config("spark.sql.warehouse.dir", root)
            .config("spark.sql.session.timeZone", "UTC")
            .config(ENGINE_CONF_KEY, "sail")
            .config(WAREHOUSE_CONF_KEY, root)
            .create()  # not getOrCreate(): that would hand back a session of another warehouse
        )
        _attach(spark, tables)
        _sessions[root] = (server, spark)
        log.info(
            "embedded engine on %s:%s, warehouse %s, %d tables attached",
            host,
            port,
            root,
            len(tables),
        )
        return spark


def _attach(spark: Any, tables: list[tuple[str, str, str, str]]) -> None:
    """Register existing Delta directories in the session's (in-memory) catalog."""
    executor = SqlExecutor(spark)
    for schema_key in dict.fromkeys((c, s) for c, s, _, _ in tables):
        executor.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(*schema_key)}", kind="ddl")
    for catalog, schema, table, location in tables:
        executor.execute(
            f"CREATE TABLE IF NOT EXISTS {qualified(catalog, schema, table)} "
            f"USING DELTA LOCATION {sql_string_literal(location)}",
            kind="ddl",
        )


def stop(warehouse: str | os.PathLike[str] | None = None) -> None:
    """Stop the embedded engine started for `warehouse` (all of them when None)."""
    with _lock:
        roots = [warehouse_root(warehouse)] if warehouse else list(_sessions)
        for root in roots:
            server, spark = _sessions.pop(root, (None, None))
            if spark is not None:
                try:
                    spark.stop()
                finally:
                    server.stop()


def delta_builder(
    warehouse: str | os.PathLike[str] | None = None, app_name: str = "etl_monitor"
) -> Any:
    """A SparkSession.Builder for classic JVM Spark with Delta Lake (delta-spark).

    Uses `configure_spark_with_delta_pip`, which asks Maven for the Delta jars on first start.
    Tables then live in ``spark_catalog``: use ``ETLMonitorFramework(spark, catalog="spark_catalog")``.
    """
    try:
        from delta import configure_spark_with_delta_pip
        from pyspark.sql import SparkSession
    except ImportError as error:  # pragma: no cover - depends on the install
        raise EngineError(
            "the JVM Delta engine needs the 'delta' extra: pip install 'lakehouse-etl-monitor[delta]'"
        ) from error
    root = warehouse_root(warehouse)
    builder = (
        SparkSession.builder.master("local[*]")
        .appName(app_name)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.sql.warehouse.dir", root)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config(ENGINE_CONF_KEY, "delta-spark")
    )
    return configure_spark_with_delta_pip(builder)
