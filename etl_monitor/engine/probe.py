"""What a session is, learnt from the session itself: client, Spark and Delta versions, server.

`observe` asks a session once what it runs on: which client (classic py4j or Spark Connect,
PySpark or Databricks Connect) and which version, the server's Spark version, which server
family (Databricks, JVM Spark, Sail), the Delta version where the client can see it, and
whether the server binds named parameters. `etl_monitor.engine.capabilities.engine_for`
turns those facts into an `Engine`; nothing here decides what the library does.

Cost: one batched conf read, ``spark.version`` and one ``SELECT version()`` query with a
named parameter, which tells at once whether the server binds them (and, on Spark Connect,
Sail from JVM Spark). Asked once per session: see `capabilities.detect_engine`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from etl_monitor.engine.runtime import read_conf

log: logging.Logger = logging.getLogger("etl_monitor.engine.probe")

ENGINE_CONF_KEY = "etl_monitor.engine"
WAREHOUSE_CONF_KEY = "etl_monitor.warehouse"
#: Conf keys only a Databricks cluster answers.
DATABRICKS_CONF_KEYS = ("spark.databricks.clusterUsageTags.clusterId",)
#: A Databricks cluster's runtime, e.g. ``15.4.x-scala2.12`` (``DATABRICKS_RUNTIME_VERSION``
#: holds ``15.4`` in a notebook's or job's own process).
DATABRICKS_RUNTIME_CONF_KEY = "spark.databricks.clusterUsageTags.sparkVersion"
#: The keys `observe` reads, in one request.
CONF_KEYS = (
    ENGINE_CONF_KEY,
    WAREHOUSE_CONF_KEY,
    "spark.sql.catalogImplementation",
    "spark.sql.warehouse.dir",
    *DATABRICKS_CONF_KEYS,
    DATABRICKS_RUNTIME_CONF_KEY,
)
#: Workspace host names: an ``sc://`` URL to one of these is Databricks.
DATABRICKS_HOST_SUFFIXES = (
    ".cloud.databricks.com",
    ".gcp.databricks.com",
    ".azuredatabricks.net",
    ".databricks.azure.cn",
)
#: Spark's (and Databricks') ``version()`` answers "<release> <git revision>" (Spark 4.1.4:
#: "4.1.4 45b9b176e6e27f530a86ac5421b03865b7ea6287"); Sail answers its own release alone
#: ("0.7.2") while ``spark.version`` says "4.1.4". No conf key tells them apart: Sail
#: returns None for every key it was not given, the JVM's keys included.
VERSION_PROBE = "SELECT version() AS version, current_catalog() AS catalog"
#: The same probe with a named parameter: a server that drops parameters (open-source Delta's
#: parser on Spark 4.1 over Spark Connect, delta-io/delta#7640) answers UNBOUND_SQL_PARAMETER.
PARAMETER_PROBE = "SELECT version() AS version, current_catalog() AS catalog, :probe AS probe"
UNBOUND_PARAMETER_MARKER = "UNBOUND_SQL_PARAMETER"
_SPARK_VERSION = re.compile(r"^\d+\.\d+\.\d+\S*\s+[0-9a-f]{7,40}$")
#: The Spark Connect client's loggers: they log a server error at ERROR before raising it,
#: also for an error the library expects and handles (the parameter probe's fallback).
CLIENT_LOGGERS = (
    "pyspark.sql.connect.client",
    "pyspark.sql.connect.client.core",
    "pyspark.sql.connect.logging",
    "py4j.clientserver",
    "SQLQueryContextLogger",
    "DataFrameQueryContextLogger",
)


@dataclass(frozen=True)
class SessionFacts:
    """What one session runs on, as observed (see `observe`).

    client: ``classic`` (py4j) or ``connect``.
    client_version: the PySpark (or Databricks Connect) client's version.
    spark_version: the server's Spark version (``spark.version``).
    family: ``databricks``, ``spark`` (JVM Spark) or ``sail``.
    delta_version: Delta Lake's version where the client can see it (classic JVM), else None.
    query_parameters: the server binds named parameters in queries.
    merge_into: the client has ``DataFrame.mergeInto`` (PySpark 4.0+).
    marker: the ``etl_monitor.engine`` conf of sessions the library started itself.
    warehouse: the warehouse root of such sessions.
    current_catalog: the session's current catalog.
    ephemeral_catalog: the catalog lives only as long as the server (``in-memory``).
    databricks_client: the client is Databricks Connect.
    databricks_runtime: the Databricks Runtime where the session tells it (``15.4``).
    """

    client: str
    client_version: str
    spark_version: str
    family: str
    delta_version: str | None = None
    query_parameters: bool = True
    merge_into: bool = True
    marker: str | None = None
    warehouse: str | None = None
    current_catalog: str = "spark_catalog"
    ephemeral_catalog: bool = False
    databricks_client: bool = False
    databricks_runtime: str | None = None

    @property
    def runtime(self) -> str:
        """One line naming the runtime, e.g. ``classic PySpark 3.5.5 / Spark 3.5.5 / Delta 3.2.1``."""
        client = "Databricks Connect" if self.databricks_client else "PySpark"
        server = {"databricks": "Databricks", "spark": "Spark", "sail": "Sail"}[self.family]
        text = f"{self.client} {client} {self.client_version} / {server} {self.spark_version}"
        if self.databricks_runtime:
            text += f" (Databricks Runtime {self.databricks_runtime})"
        return text + (f" / Delta {self.delta_version}" if self.delta_version else "")


def is_databricks_host(host: str) -> bool:
    """Whether a host name is a Databricks workspace's."""
    return host.lower().rstrip(".").endswith(DATABRICKS_HOST_SUFFIXES)


def server_family(version_text: str | None) -> str:
    """``spark`` for a ``version()`` answer in Spark's "<release> <git revision>" form, else ``sail``."""
    return "spark" if version_text and _SPARK_VERSION.match(version_text.strip()) else "sail"


def version_tuple(text: str | None) -> tuple[int, ...]:
    """(major, minor) of a version string such as ``3.5.5`` or ``15.4.x-scala2.12``; () if none."""
    found = re.match(r"\s*(\d+)\.(\d+)", text or "")
    return tuple(int(part) for part in found.groups()) if found else ()


class _ClientNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING and record.levelno >= logging.DEBUG


@contextmanager
def quiet_client() -> Iterator[None]:
    """Keep the Spark Connect client from logging an error the library expects and handles.

    Records of the client's loggers at WARNING and above are dropped while the block runs
    (they are the same error that the caller catches); the library logs the fallback itself
    at DEBUG.
    """
    noise = _ClientNoise()
    loggers = [logging.getLogger(name) for name in CLIENT_LOGGERS]
    for logger in loggers:
        logger.addFilter(noise)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(noise)


def is_connect(spark: Any) -> bool:
    """Whether a session is a Spark Connect client (PySpark's or Databricks Connect's)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _client_version() -> tuple[str, bool]:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python >= 3.8 has it
        return "unknown", False
    try:
        return version("databricks-connect"), True
    except PackageNotFoundError:
        pass
    import pyspark

    return str(pyspark.__version__), False


def _delta_version(spark: Any) -> str | None:
    """Delta's version on a classic JVM session (the jar's ``io.delta.VERSION``), else None."""
    jvm = getattr(spark, "_jvm", None)
    if jvm is None:
        return None
    try:
        return str(jvm.io.delta.package.VERSION())
    except Exception:  # no Delta jar, or a JVM that refuses py4j reflection
        log.debug("Delta's version is not visible on this session", exc_info=True)
        return None


def _merge_into(spark: Any) -> bool:
    """Whether the client's DataFrame class has ``mergeInto`` (not a refusing ``__getattr__``)."""
    if is_connect(spark):
        from pyspark.sql.connect.dataframe import DataFrame  # type: ignore[import-not-found]
    else:
        from pyspark.sql import DataFrame
    return callable(getattr(DataFrame, "mergeInto", None))


def _connect_host(spark: Any) -> str:
    client = getattr(spark, "client", None)
    host = getattr(getattr(client, "_builder", None), "host", None)
    return str(host or "")


def probe_server(spark: Any) -> tuple[str | None, str, bool]:
    """The server's ``version()``, its current catalog, and whether it binds named parameters.

    One query, two when the server refuses the parameter; that expected failure is kept out
    of the client's log.
    """
    with quiet_client():
        try:
            row = spark.sql(PARAMETER_PROBE, args={"probe": 1}).collect()[0]
            return _text(row[0]), str(row[1]), True
        except Exception as error:  # UNBOUND_SQL_PARAMETER, or an engine without parameters
            log.debug(
                "the server does not bind named parameters (%s): they travel as a one-row view",
                str(error).splitlines()[0][:200] if str(error) else type(error).__name__,
            )
    row = spark.sql(VERSION_PROBE).collect()[0]
    return _text(row[0]), str(row[1]), False


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def observe(spark: Any, *, databricks: bool = False) -> SessionFacts:
    """Learn what a session runs on (see the module's notes for the cost).

    Args:
        spark: any SparkSession: classic or Spark Connect, PySpark or Databricks Connect.
        databricks: the caller knows it is Databricks (a Databricks Connect profile).

    Returns:
        The `SessionFacts`.
    """
    connect = is_connect(spark)
    client_version, databricks_client = _client_version() if connect else (_pyspark(), False)
    try:
        conf = read_conf(spark, list(CONF_KEYS))
    except Exception:  # a server that refuses a key answers none: ask one by one
        conf = {}
        for key in CONF_KEYS:
            try:
                conf[key] = spark.conf.get(key, None)
            except Exception:
                conf[key] = None
    marker = conf.get(ENGINE_CONF_KEY) or None
    databricks = bool(
        databricks
        or any(conf.get(key) for key in DATABRICKS_CONF_KEYS)
        or (not connect and os.environ.get("DATABRICKS_RUNTIME_VERSION"))
        or (connect and is_databricks_host(_connect_host(spark)))
    )
    version_text, current_catalog, parameters = probe_server(spark)
    if databricks:
        family = "databricks"
    elif marker == "sail":
        family = "sail"
    elif marker == "delta-spark" or not connect:
        family = "spark"
    else:
        family = server_family(version_text)
    return SessionFacts(
        client="connect" if connect else "classic",
        client_version=client_version,
        spark_version=str(spark.version),
        family=family,
        delta_version=None if connect else _delta_version(spark),
        query_parameters=parameters,
        merge_into=_merge_into(spark),
        marker=marker,
        warehouse=conf.get(WAREHOUSE_CONF_KEY) or conf.get("spark.sql.warehouse.dir") or None,
        current_catalog=current_catalog,
        ephemeral_catalog=conf.get("spark.sql.catalogImplementation") == "in-memory",
        databricks_client=databricks_client,
        databricks_runtime=conf.get(DATABRICKS_RUNTIME_CONF_KEY)
        or (None if connect else os.environ.get("DATABRICKS_RUNTIME_VERSION"))
        or None,
    )


def _pyspark() -> str:
    import pyspark

    return str(pyspark.__version__)
