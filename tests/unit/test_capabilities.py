"""What a session runs on, and the path the library takes per capability: no engine started.

The facts are what `probe.observe` reads from a session; `engine_for` and `check_supported`
are pure, so every runtime the library supports (and some it refuses) is described here.
Stand-in sessions answer `observe`'s few questions as each kind of session does.
"""

from __future__ import annotations

import logging

import pytest

from etl_monitor import EngineError
from etl_monitor.engine import probe
from etl_monitor.engine.capabilities import (
    CAPABILITIES,
    DATABRICKS,
    DELTA_SPARK,
    FALLBACKS,
    check_supported,
    detect_engine,
    engine_for,
    sail,
)
from etl_monitor.engine.probe import SessionFacts


def facts(**overrides) -> SessionFacts:
    base = dict(client="classic", client_version="4.1.4", spark_version="4.1.4", family="spark")
    return SessionFacts(**{**base, **overrides})


SPARK35 = facts(
    client_version="3.5.5", spark_version="3.5.5", delta_version="3.2.1", merge_into=False
)
DBCONNECT_15 = facts(
    client="connect",
    client_version="15.4.26",
    spark_version="4.1.4",
    merge_into=False,
    query_parameters=False,
    databricks_client=True,
)


def test_each_supported_runtime_gets_its_paths():
    engine = engine_for(SPARK35)
    assert (engine.name, engine.merge_path, engine.liquid_clustering) == (
        "delta-spark",
        "sql_parameters",
        True,
    )
    assert engine.runtime == "classic PySpark 3.5.5 / Spark 3.5.5 / Delta 3.2.1"
    assert engine.default_catalog == "spark_catalog" and engine.warehouse_root is None

    engine = engine_for(DBCONNECT_15)
    assert (engine.merge_path, engine.query_parameters, engine.classic_client) == (
        "sql",
        False,
        False,
    )
    assert engine.runtime == "connect Databricks Connect 15.4.26 / Spark 4.1.4"

    newest = engine_for(facts(client="connect", query_parameters=False, ephemeral_catalog=True))
    assert (newest.merge_path, newest.persistent_catalog) == ("dataframe", False)

    own_sail = engine_for(facts(client="connect", family="sail", current_catalog="main"))
    assert (own_sail.name, own_sail.warehouse_root, own_sail.default_catalog) == (
        "sail",
        None,
        "main",
    )
    assert (
        not own_sail.liquid_clustering
        and own_sail.path("liquid_clustering") == FALLBACKS["liquid_clustering"]
    )

    cluster = engine_for(facts(family="databricks", current_catalog="hive_metastore"))
    assert (cluster.name, cluster.default_catalog, cluster.liquid_clustering) == (
        "databricks",
        "hive_metastore",
        True,
    )


def test_the_library_own_sessions_keep_their_warehouse():
    local = engine_for(facts(marker="delta-spark", warehouse="/w"))
    assert (local.name, local.warehouse_root, local.default_catalog) == (
        "delta-spark",
        "/w",
        "spark_catalog",
    )
    assert engine_for(facts(marker="delta-spark")).warehouse_root is None
    embedded = engine_for(facts(client="connect", family="sail", marker="sail", warehouse="/s"))
    assert (embedded.name, embedded.warehouse_root, embedded.default_catalog) == (
        "sail",
        "/s",
        "main",
    )


def test_every_capability_has_a_meaning_and_every_fallback_a_capability():
    assert set(FALLBACKS) <= set(CAPABILITIES)
    assert DELTA_SPARK.path("optimize") == CAPABILITIES["optimize"]
    assert sail("/w").lacks("optimize") == "sail lacks OPTIMIZE (file compaction by SQL)"
    assert DATABRICKS.liquid_clustering and DELTA_SPARK.liquid_clustering
    with pytest.raises(KeyError):
        DELTA_SPARK.path("time_travel")


@pytest.mark.parametrize(
    ("spark", "delta", "family", "dbr"),
    [
        ("3.4.1", "2.4.0", "spark", None),
        ("3.5.5", "3.1.0", "spark", None),
        ("3.3.2", None, "databricks", None),
        ("3.5.0", None, "databricks", "14.3.x-scala2.12"),  # 14.3 LTS: Spark 3.5, Delta 3.1
    ],
)
def test_below_the_floor_is_refused_naming_runtime_and_minimum(spark, delta, family, dbr):
    found = facts(
        client_version=spark,
        spark_version=spark,
        delta_version=delta,
        family=family,
        databricks_runtime=dbr,
    )
    with pytest.raises(EngineError) as refused:
        check_supported(found)
    message = str(refused.value)
    assert f"unsupported runtime {found.runtime}" in message
    assert "the minimum is Spark 3.5 with Delta 3.2 (Databricks Runtime 15.4 LTS)" in message


def test_the_floor_itself_and_sail_pass():
    check_supported(SPARK35)
    check_supported(facts(family="sail", spark_version="3.5.0"))
    check_supported(facts(spark_version="3.5.0", family="databricks", databricks_runtime="15.4"))
    check_supported(facts(spark_version="4.0.0", family="databricks", databricks_runtime="17.3"))


class _Conf:
    def __init__(self, values):
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def collect(self):
        return self.rows


class ClassicStandIn:
    """Answers `observe` as a classic session of a given Spark does; records its SQL."""

    def __init__(self, version="3.5.5", conf=None, binds=True):
        self.version, self.conf, self.binds, self.sql_seen = version, _Conf(conf or {}), binds, []

    def sql(self, text, args=None):
        self.sql_seen.append(text)
        if args and not self.binds:
            logging.getLogger("pyspark.sql.connect.client").error("UNBOUND_SQL_PARAMETER: probe")
            raise RuntimeError("[UNBOUND_SQL_PARAMETER] Found the unbound parameter: probe.")
        return _Rows([(f"{self.version} 0123abcd", "spark_catalog", 1)])


def test_observe_reads_the_session_once_and_detect_caches_it(monkeypatch):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    session = ClassicStandIn()
    engine = detect_engine(session)
    assert engine.name == "delta-spark" and engine.query_parameters
    assert detect_engine(session) is engine and len(session.sql_seen) == 1
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    assert detect_engine(ClassicStandIn()).name == "databricks"
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION")
    cluster = ClassicStandIn(
        conf={
            "spark.databricks.clusterUsageTags.clusterId": "0101-x",
            "spark.databricks.clusterUsageTags.sparkVersion": "15.4.x-scala2.12",
        }
    )
    engine = detect_engine(cluster)
    assert engine.name == "databricks" and "(Databricks Runtime 15.4.x-scala2.12)" in engine.runtime
    old = ClassicStandIn(
        version="3.5.0", conf={"spark.databricks.clusterUsageTags.sparkVersion": "14.3.x-scala2.12"}
    )
    with pytest.raises(EngineError, match=r"Databricks Runtime 14\.3\.x-scala2\.12\).*minimum"):
        detect_engine(old)


def test_a_server_that_drops_parameters_is_learnt_without_an_error_log(caplog):
    session = ClassicStandIn(version="4.1.4", binds=False)
    with caplog.at_level(logging.DEBUG):
        found = probe.observe(session)
    assert not found.query_parameters and len(session.sql_seen) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("does not bind named parameters" in r.getMessage() for r in caplog.records)


def test_below_the_floor_the_first_call_refuses_and_writes_nothing(monkeypatch):
    from etl_monitor import ETLMonitorFramework

    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    session = ClassicStandIn(version="3.4.1")
    with pytest.raises(EngineError, match=r"Spark 3\.4\.1.*the minimum is Spark 3\.5"):
        ETLMonitorFramework(session, "main", "etl")
    assert session.sql_seen == [probe.PARAMETER_PROBE]
