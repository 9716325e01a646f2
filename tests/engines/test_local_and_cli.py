"""The embedded engine's session, the JVM Delta builder, engine detection and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from etl_monitor import __version__
from etl_monitor.engine.capabilities import detect_engine
from etl_monitor.local import delta_builder, spark_session
from etl_monitor.tracking.tables import ALL_TABLES
from tests.helpers import ALL_VIEWS, run_cli


def test_local_session_engine_catalogs_and_locations(spark, warehouse, engine_name):
    engine = detect_engine(spark)
    assert engine.warehouse_root == warehouse
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    catalogs = {r[0] for r in spark.sql("SHOW CATALOGS").collect()}
    if engine_name == "sail":
        assert engine.name == "sail" and catalogs >= {"main", "spark_catalog"}
    else:
        assert engine.name == "delta-spark" and "spark_catalog" in catalogs
    catalog = engine.default_catalog
    assert engine.table_location(catalog, "etl", "T") == f"{warehouse}/{catalog}/etl/T"


def test_same_warehouse_gives_same_session(spark, warehouse, engine_name):
    from conftest import SESSION_ENGINE

    assert spark_session(warehouse, engine=SESSION_ENGINE[engine_name]) is spark


def test_delta_builder_configures_delta_lake(tmp_path):
    from importlib.metadata import version as installed

    options = delta_builder(tmp_path)._options
    version = installed("delta_spark")
    jars = options["spark.jars"].split(",")
    assert any(Path(j).name.startswith("io.delta_delta-spark_") for j in jars)
    assert all(Path(j).is_file() and version in Path(j).name for j in jars)
    assert options["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert (
        options["spark.sql.catalog.spark_catalog"]
        == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    assert options["spark.sql.warehouse.dir"] == str(tmp_path.resolve())
    assert options["spark.sql.legacy.parameterSubstitution.constantsOnly"] == "true"
    assert options["etl_monitor.engine"] == "delta-spark"


def test_cli_version_and_setup(tmp_path):
    assert (
        run_cli("--version", cwd=tmp_path).stdout.strip() == f"etl-monitor, version {__version__}"
    )
    first = run_cli("setup", "--format", "json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) | {"seconds": 0} == {
        "catalog": "main",
        "schema": "etl",
        "tables_created": len(ALL_TABLES),
        "tables_attached": 0,
        "columns_added": 0,
        "stages_seeded": 7,
        "views": len(ALL_VIEWS),
        "statements": 3 + len(ALL_TABLES) + 1 + len(ALL_VIEWS),
        "seconds": 0,
    }
    assert (
        tmp_path / "etl_monitor_warehouse" / "main" / "etl" / "ETLconfigTasks" / "_delta_log"
    ).is_dir()
    again = run_cli("setup", "--format", "json", cwd=tmp_path)
    assert (
        json.loads(again.stdout)["tables_created"] == 0
        and json.loads(again.stdout)["stages_seeded"] == 0
    )
    table = run_cli("setup", cwd=tmp_path)
    assert "tables_created" in table.stdout and table.returncode == 0


def test_cli_usage_error_exit_code(tmp_path):
    result = run_cli("setup", "--bogus", cwd=tmp_path)
    assert result.returncode == 2 and "No such option" in result.stderr
    bad = run_cli("setup", "--schema", "bad schema", cwd=tmp_path)
    assert bad.returncode == 1 and "invalid schema" in bad.stdout
