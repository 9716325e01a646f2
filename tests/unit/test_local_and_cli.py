"""The embedded engine's session, the JVM Delta builder and the CLI.

What needs no engine: no session starts here; tests/engines/test_local_and_cli.py runs the rest on every
engine.
"""

from __future__ import annotations

import pytest

from etl_monitor import EngineError
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
