"""The consumer SQL over JDBC on the wire: HiveServer2, the protocol ADF and SQL Server use.

ADF and SQL Server reach Databricks through the Databricks (Simba) ODBC/JDBC drivers,
which speak HiveServer2 Thrift. Here the Spark Thrift Server (HiveServer2 with Delta)
serves the Delta engine's warehouse, and a real Hive JDBC client (tests/jdbc/JdbcProbe.java,
run with Java's source launcher on pyspark's jars) sends the ADF Lookup queries, with
bound parameters, and the Spark SQL inside every SQL Server OPENQUERY.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from etl_monitor import local
from etl_monitor.engine import view_files
from etl_monitor.errors import EngineError
from etl_monitor.integrations import sql_files as sqlfiles
from tests.helpers import ALL_VIEWS, register_hr

PROBE = Path(__file__).resolve().parents[1] / "jdbc" / "JdbcProbe.java"
#: Column type names the Hive JDBC driver may report for the scalar types consumers can map.
SCALAR_TYPES = {
    "string",
    "varchar",
    "int",
    "integer",
    "bigint",
    "boolean",
    "double",
    "decimal",
    "date",
    "timestamp",
}
_QUOTED = re.compile(r"('(?:[^'\\]|\\.)*')")
_NAMED_MARKER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def positional(sql: str, values: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """`sql` with each ``:name`` marker (outside string literals) as ``?``, and the values in order."""
    names: list[str] = []

    def marker(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return "?"

    parts = _QUOTED.split(sql)
    parts[::2] = [_NAMED_MARKER.sub(marker, part) for part in parts[::2]]
    return "".join(parts), [values[name] for name in names]


def run_probe(port: int, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send `requests` through the Hive JDBC driver; one result per request."""
    jars = Path(local.spark_home()) / "jars"
    proc = subprocess.run(
        ["java", "-cp", f"{jars}/*", str(PROBE), f"jdbc:hive2://127.0.0.1:{port}/default"],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != len(requests):
        raise AssertionError(
            f"JdbcProbe exited with {proc.returncode} after {len(lines)} of {len(requests)} "
            f"results:\n{proc.stderr[-4000:]}"
        )
    return [json.loads(line) for line in lines]


def _records(result: dict[str, Any]) -> list[dict[str, Any]]:
    names = [c["name"] for c in result["columns"]]
    return [dict(zip(names, row, strict=True)) for row in result["rows"]]


@pytest.mark.jvm
@pytest.mark.requires("jdbc_server")
def test_consumer_sql_runs_over_hive_jdbc(monitor, warehouse):
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, "CORP", "HR_DAILY", "2026-04-09")
    with monitor.task(e, "CORP", "HR_DAILY", task_id=1, workflow_id=1):
        pass

    # The Thrift Server's catalog starts empty: register this schema's tables and kept views
    # (the worker's warehouse holds hundreds of other tests' schemas by now).
    root = local.warehouse_root(warehouse)
    ddl = local.attach_statements(root, schemas=(f"{monitor.catalog}.{monitor.schema}",)) + [
        statement
        for _, schema, statement in view_files.recorded(root, {"spark_catalog"})
        if schema == monitor.schema
    ]
    files = sqlfiles.rendered(monitor.catalog, monitor.schema)
    key = {"project_code": "CORP", "process_load": "HR_DAILY"}
    lookups = {
        "lookup_watermark": {**key, "parameter_name": "W1"},
        "lookup_pending_tasks": {**key, "execution_id": e, "sequence_id": 2},
        "lookup_mandatory_blockers": {**key, "execution_id": e},
    }
    lookup_requests = []
    for name, values in lookups.items():
        sql, params = positional(sqlfiles.statements(files[f"adf/{name}.sql"])[0], values)
        assert ":" not in sql and len(params) == len(values), sql
        lookup_requests.append({"sql": sql, "params": params})
    # The SQL Server script wraps exactly ALL_VIEWS (ETLProcessingSteps among them).
    views = [view.name for view in ALL_VIEWS]
    view_requests = [
        {"sql": sqlfiles.openquery_inner(name, monitor.catalog, monitor.schema)} for name in views
    ]
    requests = [{"sql": s} for s in ddl] + lookup_requests + view_requests

    try:
        server = local.JvmServer("thrift", root)
    except EngineError as error:
        pytest.fail(f"the Thrift Server did not start: {error}", pytrace=False)
    try:
        try:
            results = run_probe(server.port, requests)
        except AssertionError as error:
            pytest.fail(f"{error}\nThrift Server log:\n{server.log_tail()}", pytrace=False)
        if server.process.poll() is not None:
            pytest.fail(f"the Thrift Server exited early:\n{server.log_tail()}", pytrace=False)
    finally:
        server.stop()

    ddl_results = results[: len(ddl)]
    failed = [(s, r["error"]) for s, r in zip(ddl, ddl_results, strict=True) if "error" in r]
    assert failed == [], f"registering tables and views over JDBC failed: {failed}"
    mark_result, pending_result, blockers_result = results[len(ddl) : len(ddl) + 3]
    view_results = dict(zip(views, results[len(ddl) + 3 :], strict=True))
    for name, result in zip(lookups, (mark_result, pending_result, blockers_result), strict=True):
        assert "error" not in result, f"{name} failed over JDBC: {result['error']}"

    # (a) the ADF Lookups, with bound parameters: the rows test_sql_files asserts on the engine.
    (mark,) = _records(mark_result)
    assert mark["ParameterType"] == "DELTA_DATE"
    assert mark["ActiveValue"].startswith("20") and "T" in mark["ActiveValue"], mark
    pending = _records(pending_result)
    assert [(r["TaskID"], r["FullFileName"], r["WatermarkName"]) for r in pending] == [
        ("2", "load2_20260409.csv", "W2"),
        ("3", "load3_20260409.csv", "W3"),
    ]
    assert _records(blockers_result) == [{"Blockers": "0"}]

    # (b) every OPENQUERY runs, and every column reaches the client as a scalar type.
    errors = {name: r["error"] for name, r in view_results.items() if "error" in r}
    assert errors == {}, f"OPENQUERY statements failed over JDBC: {errors}"
    types = {name: {c["name"]: c["type"] for c in r["columns"]} for name, r in view_results.items()}
    for name, columns in types.items():  # shown with -s
        print(f"JDBC column types of {name}: {columns}")
    non_scalar = {
        f"{view}.{column}": kind
        for view, columns in types.items()
        for column, kind in columns.items()
        if kind.lower() not in SCALAR_TYPES
    }
    assert non_scalar == {}, f"non-scalar JDBC column types: {non_scalar}"

    # The watermark the engine reports is the one a JDBC client reads, to the character.
    (engine_mark,) = monitor.executor.query(
        f"SELECT ActiveValue FROM {monitor.table_name('v_watermarks')} "
        "WHERE ProjectCode = :project_code AND ProcessLoad = :process_load "
        "AND ParameterName = :parameter_name",
        {**key, "parameter_name": "W1"},
    )
    over_jdbc = [
        r["ActiveValue"]
        for r in _records(view_results["v_watermarks"])
        if (r["ProjectCode"], r["ProcessLoad"], r["ParameterName"]) == ("CORP", "HR_DAILY", "W1")
    ]
    assert over_jdbc == [engine_mark.ActiveValue] == [mark["ActiveValue"]]
