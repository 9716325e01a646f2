"""Local engines: embedded Sail, or JVM Spark with Delta Lake (classic py4j or Spark Connect).

`spark_session()` returns a SparkSession where every table lives under one warehouse
directory. The local catalogs are kept in memory, so on start every Delta table found under
the warehouse is registered again and every view a framework created there is re-created:
a second process pointed at the same directory sees the same tables, views and rows.

| engine | what runs | catalog |
|---|---|---|
| ``sail`` (default) | a Sail Spark Connect server inside this process, no JVM | ``main`` |
| ``delta`` | classic JVM Spark 4 with delta-spark in this process (py4j, as on a cluster) | ``spark_catalog`` |
| ``delta-connect`` | a JVM Spark Connect server with delta-spark in a child process (as Databricks Connect) | ``spark_catalog`` |

The Delta jars are fetched from Maven on first use and cached (`etl_monitor.engine.delta_jars`).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from etl_monitor.engine import view_files
from etl_monitor.engine.capabilities import ENGINE_CONF_KEY, WAREHOUSE_CONF_KEY
from etl_monitor.engine.delta_jars import DELTA_EXTENSIONS, delta_jars
from etl_monitor.engine.executor import SqlExecutor, check_identifier, qualified, sql_string_literal
from etl_monitor.engine.remote import without_reattach
from etl_monitor.errors import EngineError

log: logging.Logger = logging.getLogger("etl_monitor.engine.local")

DEFAULT_WAREHOUSE = "etl_monitor_warehouse"
WAREHOUSE_ENV = "ETL_MONITOR_WAREHOUSE"
ENGINES = ("sail", "delta", "delta-connect")
#: The catalog a framework lives in on each local engine.
DEFAULT_CATALOG = {"sail": "main", "delta": "spark_catalog", "delta-connect": "spark_catalog"}
#: Small-data settings for local JVM Spark: few partitions, no UI, no progress bars.
JVM_SETTINGS: dict[str, str] = {
    "spark.driver.memory": "2g",
    "spark.log.level": "WARN",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.databricks.delta.snapshotPartitions": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.databricks.delta.merge.materializeSource": "none",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "1",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.sql.session.timeZone": "UTC",
    # A long-lived local server must not fill its heap. Delta keeps every table's log and
    # snapshot it has read (about 1 MB each) for an hour, up to 10,000 of them; a server
    # that had read a few hundred tables spent its time collecting garbage until queries
    # stalled for minutes. 100 logs hold several schemas' worth; a table read again after
    # its eviction reloads its log. The SQL status store (unused with the UI off) keeps
    # 1,000 executions' plans by default.
    "spark.databricks.delta.delta.log.cacheSize": "100",
    "spark.sql.ui.retainedExecutions": "50",
    # delta-io/delta#7640: DeltaSqlParser drops named parameters on Spark 4.1 unless
    # parameters are substituted as constants (the only place the library puts them).
    "spark.sql.legacy.parameterSubstitution.constantsOnly": "true",
    ENGINE_CONF_KEY: "delta-spark",
    **DELTA_EXTENSIONS,
}

#: Extra settings for the local JVM engines, ``key=value`` pairs separated by whitespace
#: (e.g. ``spark.sql.codegen.wholeStage=false``); they override `JVM_SETTINGS`.
SPARK_CONF_ENV = "ETL_MONITOR_SPARK_CONF"

#: How long a local server keeps an idle client session: a week, so that in practice a
#: session ends with the process that holds it, not with a pause in a notebook.
IDLE_SESSION_SECS = 7 * 24 * 3600

_sessions: dict[tuple[str, str], tuple[Any, Any]] = {}
_lock = threading.RLock()


def jvm_settings() -> dict[str, str]:
    """`JVM_SETTINGS` with the overrides of ``$ETL_MONITOR_SPARK_CONF``.

    Raises:
        EngineError: an entry of the variable is not ``key=value``.
    """
    overrides = {}
    for entry in os.environ.get(SPARK_CONF_ENV, "").split():
        key, sep, value = entry.partition("=")
        if not sep or not key:
            raise EngineError(
                f"{SPARK_CONF_ENV} entry {entry!r} is not key=value; "
                "give whitespace-separated key=value pairs"
            )
        overrides[key] = value
    return {**JVM_SETTINGS, **overrides}


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


def _existing_tables(
    root: str, schemas: tuple[str, ...] | None = None
) -> list[tuple[str, str, str, str]]:
    """(catalog, schema, table, location) for every Delta table under root/<catalog>/<schema>/<table>.

    With `schemas`, only the tables of those ``catalog.schema`` names.
    """
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
        if schemas is None or f"{catalog}.{schema}" in schemas:
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
    schemas: tuple[str, ...] | None = None,
) -> Any:
    """A SparkSession on a local engine, with all data under `warehouse`.

    Args:
        warehouse: the warehouse directory (default $ETL_MONITOR_WAREHOUSE or ./etl_monitor_warehouse).
        catalogs: catalogs to create on Sail (Delta has only ``spark_catalog``).
        engine: ``sail`` (default, no JVM), ``delta`` (classic JVM Spark with delta-spark in
            this process) or ``delta-connect`` (a JVM Spark Connect server with delta-spark).
        schemas: ``catalog.schema`` names whose tables and views to register (default: every
            table under the warehouse; a warehouse of many schemas starts faster with a few).

    Returns:
        A SparkSession; the same one for a repeated call with the same warehouse and engine.

    Raises:
        EngineError: unknown engine, missing extra, Delta jars not fetchable, or a JVM that
            would not start.

    Example:
        >>> spark = spark_session("/tmp/wh", engine="delta")  # doctest: +SKIP
        >>> ETLMonitorFramework(spark, "spark_catalog", "etl").setup()  # doctest: +SKIP
    """
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}; allowed: {', '.join(map(repr, ENGINES))}")
    root = warehouse_root(warehouse)
    with _lock:
        tables = _existing_tables(root, schemas)
        if (engine, root) in _sessions:
            spark = _sessions[(engine, root)][1]
            if schemas is not None:  # a cached session: register what it may not have yet
                attach(spark, root, tables, jvm=engine != "sail", schemas=schemas)
            return spark
        Path(root).mkdir(parents=True, exist_ok=True)
        if engine == "sail":
            server, spark = _start_sail(root, catalogs, tables)
        elif engine == "delta":
            server, spark = None, _start_classic_delta(root)
        else:
            server = JvmServer("connect", root)
            spark = server.session()
        attached = attach(spark, root, tables, jvm=engine != "sail", schemas=schemas)
        _sessions[(engine, root)] = (server, spark)
        log.info("%s engine, warehouse %s, %d tables attached", engine, root, attached)
        return spark


def server_of(spark: Any) -> Any | None:
    """The local server behind a session `spark_session` started, or None.

    Args:
        spark: a session returned by `spark_session`.

    Returns:
        The `JvmServer` of a ``delta-connect`` session (its ``url`` lets another process
        connect to the same server, its ``pid`` names the JVM), the Sail server of a
        ``sail`` session, None for a classic session or one started elsewhere.
    """
    with _lock:
        return next((server for server, s in _sessions.values() if s is spark), None)


def connect_session(url: str, warehouse: str | os.PathLike[str]) -> Any:
    """A new client session on a local JVM Delta server (`JvmServer`) already running.

    Another process (a second notebook, a job's task, a test's child) reaches the tables
    of the process that started the server, with the same engine and warehouse.

    Args:
        url: the server's ``sc://127.0.0.1:PORT`` (`JvmServer.url`).
        warehouse: the warehouse directory the server was started for.

    Returns:
        A Spark Connect SparkSession that the framework recognises as local JVM Delta.
    """
    from pyspark.sql import SparkSession

    return without_reattach(
        SparkSession.builder.remote(url)
        .config(ENGINE_CONF_KEY, "delta-spark")
        .config(WAREHOUSE_CONF_KEY, warehouse_root(warehouse))
        .create()
    )


def _start_sail(root: str, catalogs: tuple[str, ...], tables: list) -> tuple[Any, Any]:
    try:
        from pysail.spark import SparkConnectServer
        from pyspark.sql import SparkSession
    except ImportError as error:  # pragma: no cover - depends on the install
        raise EngineError(
            "the embedded engine needs the 'local' extra: pip install 'lakehouse-etl-monitor[local]'"
        ) from error
    names = list(dict.fromkeys([*catalogs, *(t[0] for t in tables)]))
    for name in names:
        check_identifier(name, "catalog", allow_dash=True)
    # Sail reads its configuration from the environment when the server starts.
    os.environ["SAIL_CATALOG__LIST"] = _catalog_list([*names, "spark_catalog"])
    os.environ["SAIL_CATALOG__DEFAULT_CATALOG"] = "spark_catalog"
    # Sail logs its own internal commit retries as errors; failures reach us as exceptions.
    os.environ.setdefault("RUST_LOG", "off")
    # The server lives as long as this process: a notebook left idle must keep its session
    # (Sail ends a session after 15 idle minutes by default).
    os.environ.setdefault("SAIL_SPARK__SESSION_TIMEOUT_SECS", str(IDLE_SESSION_SECS))
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
    return server, without_reattach(spark)


def _start_classic_delta(root: str) -> Any:
    if os.environ.get("SPARK_CONNECT_MODE_ENABLED") or os.environ.get("SPARK_REMOTE"):
        raise EngineError(
            "this process already uses Spark Connect, so it cannot start classic JVM Spark; "
            "use engine='delta-connect' here, or engine='delta' in a new process"
        )
    spark = delta_builder(root).getOrCreate()
    actual = spark.conf.get(WAREHOUSE_CONF_KEY, None)
    if actual != root:
        raise EngineError(
            f"this process already runs JVM Spark with warehouse {actual!r}; one JVM serves one "
            f"warehouse, so {root!r} needs a new process"
        )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def delta_builder(
    warehouse: str | os.PathLike[str] | None = None, app_name: str = "etl_monitor"
) -> Any:
    """A SparkSession.Builder for classic JVM Spark with Delta Lake (delta-spark).

    Args:
        warehouse: the warehouse directory.
        app_name: the Spark application name.

    Returns:
        A builder with the cached Delta jars and settings; tables live in ``spark_catalog``.

    Raises:
        EngineError: the ``delta`` extra is missing or the jars cannot be had.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:  # pragma: no cover - depends on the install
        raise EngineError(
            "the JVM Delta engine needs the 'delta' extra: pip install 'lakehouse-etl-monitor[delta]'"
        ) from error
    root = warehouse_root(warehouse)
    builder = (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.jars", ",".join(delta_jars()))
        .config("spark.sql.warehouse.dir", root)
        .config(WAREHOUSE_CONF_KEY, root)
    )
    for key, value in jvm_settings().items():
        builder = builder.config(key, value)
    return builder


def attach(
    spark: Any,
    root: str,
    tables: list[tuple[str, str, str, str]],
    *,
    jvm: bool,
    schemas: tuple[str, ...] | None = None,
) -> int:
    """Register existing Delta directories and re-create kept views; returns the table count.

    On JVM Spark only ``spark_catalog`` exists; tables of other catalogs are left alone.
    """
    for statement in attach_statements(root, tables, jvm=jvm):
        _run_attach(spark, statement)
    pending = [
        v[2]
        for v in view_files.recorded(root, _catalogs(tables, jvm))
        if schemas is None or f"{v[0]}.{v[1]}" in schemas
    ]
    while pending:  # a view may read another: retry until no view can be added
        failed = []
        for statement in pending:
            try:
                _run_attach(spark, statement)
            except Exception as error:
                failed.append(statement)
                last = error
        if len(failed) == len(pending):
            log.warning("%d kept views could not be re-created: %s", len(failed), last)
            break
        pending = failed
    return sum(1 for t in tables if t[0] in _catalogs(tables, jvm))


def _catalogs(tables: list[tuple[str, str, str, str]], jvm: bool) -> set[str]:
    return {"spark_catalog"} if jvm else {t[0] for t in tables} | {"main", "spark_catalog"}


def attach_statements(
    root: str,
    tables: list[tuple[str, str, str, str]] | None = None,
    *,
    jvm: bool = True,
    schemas: tuple[str, ...] | None = None,
) -> list[str]:
    """The DDL that registers the Delta tables under `root` in an empty catalog.

    Args:
        root: the warehouse directory.
        tables: (catalog, schema, table, location) to register (default: those under
            `root`, of `schemas` when given).
        jvm: for JVM Spark, whose only catalog is ``spark_catalog``.
        schemas: with `tables` None, only the tables of these ``catalog.schema`` names.

    Returns:
        ``CREATE SCHEMA IF NOT EXISTS`` and ``CREATE TABLE ... LOCATION`` statements.
    """
    tables = _existing_tables(root, schemas) if tables is None else tables
    wanted = [t for t in tables if t[0] in _catalogs(tables, jvm)]
    out = [
        f"CREATE SCHEMA IF NOT EXISTS {qualified(*key)}"
        for key in dict.fromkeys((c, s) for c, s, _, _ in wanted)
    ]
    out += [
        f"CREATE TABLE IF NOT EXISTS {qualified(c, s, t)} USING DELTA LOCATION {sql_string_literal(loc)}"
        for c, s, t, loc in wanted
    ]
    return out


def _run_attach(spark: Any, statement: str) -> None:
    SqlExecutor(spark).execute(statement, kind="ddl")


def stop(warehouse: str | os.PathLike[str] | None = None) -> None:
    """Stop the local engines started for `warehouse` (all of them when None)."""
    with _lock:
        root = warehouse_root(warehouse) if warehouse else None
        for key in [k for k in _sessions if root is None or k[1] == root]:
            server, spark = _sessions.pop(key)
            try:
                spark.stop()
            finally:
                if server is not None:
                    server.stop()


# -- JVM servers from the pyspark wheel ------------------------------------------------------
SERVER_CLASSES = {
    "connect": "org.apache.spark.sql.connect.service.SparkConnectServer",
    "thrift": "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spark_home() -> str:
    """The pyspark package folder, which holds Spark's jars and bin/spark-submit."""
    import pyspark

    return str(Path(pyspark.__file__).parent)


class JvmServer:
    """A JVM Spark server with Delta in a child process: Spark Connect or the Thrift Server (JDBC).

    Args:
        kind: ``connect`` (Spark Connect, gRPC) or ``thrift`` (HiveServer2, JDBC/ODBC).
        warehouse: the warehouse directory the server's tables live under.
        port: the port to listen on (a free one when None).
        timeout: seconds to wait for the port to open.

    Raises:
        EngineError: the server exited or did not listen within `timeout`.
    """

    def __init__(
        self, kind: str, warehouse: str, port: int | None = None, timeout: float = 180.0
    ) -> None:
        if kind not in SERVER_CLASSES:
            raise EngineError(f"unknown server kind {kind!r}; allowed: {sorted(SERVER_CLASSES)}")
        self.kind, self.root, self.port = kind, warehouse_root(warehouse), port or free_port()
        self._workdir = tempfile.mkdtemp(prefix=f"etlm-{kind}-")
        self.log_path = Path(self._workdir) / "server.log"
        port_conf = (
            ["--conf", f"spark.connect.grpc.binding.port={self.port}"]
            if kind == "connect"
            else [
                "--hiveconf",
                f"hive.server2.thrift.port={self.port}",
                "--hiveconf",
                "hive.server2.thrift.bind.host=127.0.0.1",
            ]
        )
        settings = {
            **jvm_settings(),
            "spark.sql.warehouse.dir": self.root,
            WAREHOUSE_CONF_KEY: self.root,
            "spark.jars.ivy": str(Path(self._workdir) / "ivy"),
        }
        if (
            kind == "connect"
        ):  # sessions live as long as the server (Spark's default: 60 idle minutes)
            settings["spark.connect.session.manager.defaultSessionTimeout"] = (
                f"{IDLE_SESSION_SECS}s"
            )
        if kind == "thrift":  # HiveServer2 needs the Hive catalog, kept in its own folder
            settings["spark.sql.catalogImplementation"] = "hive"
            settings["spark.sql.warehouse.dir"] = str(Path(self._workdir) / "warehouse")
            # JDBC sessions load the catalog plugin from the driver's class path, not --jars.
            settings["spark.driver.extraClassPath"] = os.pathsep.join(delta_jars())
            settings["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
                f"jdbc:derby:;databaseName={self._workdir}/metastore_db;create=true"
            )
        command = [
            str(Path(spark_home()) / "bin" / "spark-submit"),
            "--class",
            SERVER_CLASSES[kind],
            "--master",
            "local[2]",
            "--jars",
            ",".join(delta_jars()),
        ]
        for key, value in settings.items():
            command += ["--conf", f"{key}={value}"]
        command += [*port_conf, "spark-internal"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_"))}
        env["SPARK_HOME"] = spark_home()
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=self._workdir
        )
        atexit.register(self.stop)
        self._wait(timeout)

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineError(
                    f"the {self.kind} server exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise EngineError(f"the {self.kind} server did not listen within {timeout:.0f}s")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server printed."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def url(self) -> str:
        """``sc://127.0.0.1:PORT``: where clients reach a ``connect`` server."""
        return f"sc://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (for heap and thread diagnostics)."""
        return int(self.process.pid)

    def session(self) -> Any:
        """A Spark Connect session on this server (``connect`` servers only)."""
        return connect_session(self.url, self.root)

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.close()
        shutil.rmtree(self._workdir, ignore_errors=True)
