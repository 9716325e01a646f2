"""The embedded engine's session, the JVM Delta builder, engine detection and the CLI.

What needs no engine: no session starts here; tests/engines/test_local_and_cli.py runs the rest on every
engine.
"""

from __future__ import annotations

import pytest

from etl_monitor import EngineError
from etl_monitor.engine.capabilities import DATABRICKS, DELTA_SPARK, detect_engine, sail
from etl_monitor.local import spark_session, warehouse_root


def test_warehouse_path_with_quote_refused(tmp_path):
    with pytest.raises(EngineError, match="must not contain quotes"):
        warehouse_root(tmp_path / "it's")


def test_unknown_engine_refused(tmp_path):
    with pytest.raises(EngineError, match="allowed: 'sail', 'delta'"):
        spark_session(tmp_path, engine="duckdb")


def test_local_jars_without_maven(tmp_path, monkeypatch):
    """ETL_MONITOR_DELTA_JARS names a folder or files; a folder without jars is refused."""
    from etl_monitor.engine import delta_jars

    cached = delta_jars.delta_jars()
    monkeypatch.setenv(delta_jars.JARS_ENV, ",".join(cached))
    assert delta_jars.delta_jars() == cached
    monkeypatch.setenv(delta_jars.JARS_ENV, str(tmp_path))
    with pytest.raises(EngineError, match="names no jar files"):
        delta_jars.delta_jars()


class _Conf:
    def __init__(self, values):
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)


class _Session:
    def __init__(self, values):
        self.conf = _Conf(values)


def test_engine_detection(monkeypatch):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert detect_engine(_Session({})) == DELTA_SPARK
    assert detect_engine(_Session({"etl_monitor.engine": "delta-spark"})) == DELTA_SPARK
    assert (
        detect_engine(_Session({"spark.databricks.clusterUsageTags.clusterId": "0101-x"}))
        == DATABRICKS
    )
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    assert detect_engine(_Session({})) == DATABRICKS
    assert DATABRICKS.liquid_clustering and DELTA_SPARK.liquid_clustering
    assert not sail("/w").liquid_clustering
    local = detect_engine(
        _Session({"etl_monitor.engine": "delta-spark", "etl_monitor.warehouse": "/w"})
    )
    assert (local.name, local.warehouse_root, local.default_catalog) == (
        "delta-spark",
        "/w",
        "spark_catalog",
    )
    assert sail("/w").lacks("optimize") == "sail lacks OPTIMIZE (file compaction by SQL)"
    assert DELTA_SPARK.lacks("optimize") is None


def test_spark_conf_variable_overrides_the_jvm_settings(monkeypatch):
    from etl_monitor.engine import local
    from etl_monitor.errors import EngineError

    monkeypatch.setenv(local.SPARK_CONF_ENV, " spark.sql.shuffle.partitions=1\n a.b=x=y ")
    settings = local.jvm_settings()
    assert settings["spark.sql.shuffle.partitions"] == "1" and settings["a.b"] == "x=y"
    assert settings["spark.ui.enabled"] == local.JVM_SETTINGS["spark.ui.enabled"]
    monkeypatch.setenv(local.SPARK_CONF_ENV, "spark.ui.enabled")
    with pytest.raises(EngineError, match=r"'spark\.ui\.enabled' is not key=value"):
        local.jvm_settings()
