"""The CLI against a remote engine (--remote sc://..., --profile) and its exit codes.

A Spark Connect server runs as a separate process: a Sail server started here for the
``sail`` engine, the suite's own JVM Spark Connect server with Delta for ``delta``. The CLI
runs as a subprocess, as a user runs it, with the workspace API on the emulator.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import types
import uuid
from pathlib import Path

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine import local
from etl_monitor.engine.capabilities import detect_engine
from etl_monitor.engine.remote import (
    close,
    display_url,
    remote_session,
    without_reattach,
)
from tests.emulator import DatabricksEmulator
from tests.helpers import create_metric_tables, register_hr, rows
from tests.unit.test_cli_remote import cli, cli_env

COLUMNS = {"id": "bigint", "ts": "timestamp", "region": "string", "amount": "double"}


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Spark Connect server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


@pytest.fixture(scope="module")
def sail_server(tmp_path_factory):
    """`sail spark server` in its own process, with the catalogs three-level names need."""
    workdir = tmp_path_factory.mktemp("sail-server")
    port = local.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_"))}
    env |= {
        "SAIL_CATALOG__LIST": '[{name="main",type="memory",initial_database=["default"]},'
        '{name="spark_catalog",type="memory",initial_database=["default"]}]',
        "SAIL_CATALOG__DEFAULT_CATALOG": "spark_catalog",
        "RUST_LOG": "off",
    }
    sail = Path(sys.executable).with_name("sail")
    with open(workdir / "server.log", "wb") as log:
        process = subprocess.Popen(
            [str(sail), "spark", "server", "--ip", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    try:
        _wait_for_port(port, process)
        yield port, workdir
    finally:
        process.terminate()  # Sail waits for open sessions on SIGTERM: give it a moment only
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def remote(engine_name, spark, warehouse, sail_server, tmp_path_factory):
    """(URL, a test session on the same server, its Engine) for the engine under test.

    Sail keeps a memory catalog per Spark Connect session, so every client joins one
    session through ``session_id``; that session's warehouse directory is set once here,
    as a server's operator would. The JVM server's catalog is shared by all its sessions.
    """
    if engine_name == "sail":
        port, workdir = sail_server
        url = f"sc://127.0.0.1:{port}/;session_id={uuid.uuid4()}"
        from pyspark.sql import SparkSession

        viewer = without_reattach(
            SparkSession.builder.remote(url)
            .config("spark.sql.warehouse.dir", str(workdir / "warehouse"))
            .create()
        )
    else:
        url = local.server_of(spark).url
        viewer = remote_session(url)
    yield url, viewer, detect_engine(viewer)
    close(viewer)


def ok_json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return json.loads(result.stdout)


def test_engine_detection_on_the_server(remote, engine_name):
    _, viewer, engine = remote
    assert engine.warehouse_root is None and engine.table_location("a", "b", "c") is None
    assert engine.default_catalog == viewer.catalog.currentCatalog() == "spark_catalog"
    if engine_name == "sail":
        assert engine.name == "sail" and engine.lacks("alter_add_columns")
    else:
        assert engine.name == "delta-spark" and not engine.persistent_catalog
        assert engine.alter_add_columns and engine.dml_parameters


def test_run_commands_on_the_remote_server(remote, tmp_path):
    url, viewer, engine = remote
    schema = f"r_{uuid.uuid4().hex[:8]}"
    where = ("--remote", url, "--schema", schema, "--format", "json")
    missing = cli("status", "CORP", "HR_DAILY", *where, cwd=tmp_path)
    assert missing.returncode == 3
    assert f"no etl_monitor schema spark_catalog.{schema} on {display_url(url)}" in missing.stdout
    report = ok_json(cli("setup", *where, cwd=tmp_path))
    assert (report["catalog"], report["tables_created"]) == ("spark_catalog", 9)
    assert not (tmp_path / "etl_monitor_warehouse").exists()  # nothing embedded was started
    assert viewer.catalog.tableExists(f"spark_catalog.{schema}.ETLProcessingEvents")
    monitor = ETLMonitorFramework(viewer, "spark_catalog", schema, engine=engine)
    register_hr(monitor, tasks=2)
    execution = str(uuid.uuid4())
    pending = ok_json(
        cli("pending", execution, "CORP", "HR_DAILY", "--date", "2026-04-10", *where, cwd=tmp_path)
    )
    assert [p["TaskName"] for p in pending] == ["Initiation", "Load 1", "Load 2", "Dimensions"]
    # the steps the CLI generated are rows on the server, seen by another session
    steps = rows(monitor, "ETLProcessingSteps", ExecutionID=execution)
    assert sorted(s["TaskID"] for s in steps) == [0, 1, 2, 9]
    detail = ok_json(
        cli("status", "CORP", "HR_DAILY", "--execution-id", execution, *where, cwd=tmp_path)
    )
    assert sorted(r["TaskName"] for r in detail) == ["Dimensions", "Initiation", "Load 1", "Load 2"]
    marks = ok_json(cli("watermarks", "CORP", "HR_DAILY", *where, cwd=tmp_path))
    assert sorted(m["ParameterName"] for m in marks) == ["SYSDT", "W1", "W2"]
    exported = cli("catalogue", "export", *where[:-2], cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-2000:]
    doc = tmp_path / "catalogue.yaml"
    doc.write_text(exported.stdout.replace("Load 2", "Load two"))
    planned = ok_json(cli("catalogue", "plan", str(doc), *where, cwd=tmp_path))
    assert [(c["key"], c["action"]) for c in planned["changes"] if c["action"] != "unchanged"] == [
        ("CORP/HR_DAILY/2/1", "update")
    ]


def test_monitors_read_and_write_the_remote_tables(remote, tmp_path):
    url, viewer, _ = remote
    schema, src = f"m_{uuid.uuid4().hex[:8]}", f"s_{uuid.uuid4().hex[:8]}"
    source = f"spark_catalog.{src}"
    with DatabricksEmulator(pending_reads=0) as emulator:
        emulator.add_schema(source)
        for leaf in ("a", "b"):
            emulator.add_table(f"{source}.{leaf}", COLUMNS)
        config = tmp_path / "dpo.yaml"
        config.write_text(
            "profile_defaults:\n  profile_type: SNAPSHOT\nmonitored_tables:\n"
            f"  {source}.a: {{}}\n  {source}.b: {{}}\n"
        )
        env = cli_env(emulator)
        where = ("--remote", url, "--schema", schema, "--format", "json")

        def monitors(*args: str) -> subprocess.CompletedProcess:
            return cli("monitors", *args, *where, cwd=tmp_path, env=env)

        assert ok_json(monitors("import", str(config)))["tables_imported"] == 2
        assert ok_json(monitors("plan"))["counts"] == {"create": 2}
        applied = ok_json(monitors("apply", "--confirm"))
        assert applied["monitors_created"] == 2
        # the provisioning log the CLI wrote is on the server
        state = {
            r["TableName"]: r
            for r in viewer.table(f"spark_catalog.{schema}.ETLmonitorState").collect()
        }
        assert sorted(state) == [f"{source}.a", f"{source}.b"]
        profile_table = state[f"{source}.a"]["ProfileMetricsTable"]
        assert profile_table == f"{source}.a_profile_metrics"
        # the metric tables the workspace would fill, for table a only, on the remote server
        create_metric_tables(viewer, source, "a", js_distance=0.4)
        views = ok_json(monitors("views"))
        assert views["included"]["all"] == [f"{source}.a"]
        assert list(views["left_out"]) == [f"{source}.b"]
        drift = viewer.table(f"spark_catalog.{schema}.v_monitor_drift_all").collect()
        assert [(r["source_table"], r["column_name"]) for r in drift] == [(f"{source}.a", "amount")]
        # a workspace failing while planning is a runtime error (3), not a config problem (1)
        emulator.fail(
            "GET", "/unity-catalog/tables", 500, "INTERNAL_ERROR", "disk on fire", times=None
        )
        failed = monitors("plan")
        assert failed.returncode == 3, failed.stdout + failed.stderr[-2000:]
        assert "the workspace API failed for 2 table(s)" in failed.stdout
        assert emulator.errors == []


def test_refused_connection_is_one_line_exit_3(tmp_path):
    started = time.perf_counter()
    result = cli("status", "P", "L", "--remote", "sc://127.0.0.1:1", cwd=tmp_path)
    assert result.returncode == 3
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("engine error: cannot reach Spark Connect server sc://127.0.0.1:1:")
    assert "Connection refused" in lines[0]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert time.perf_counter() - started < 30  # not the client's ten minutes of retries
    verbose = cli("-vv", "status", "P", "L", "--remote", "sc://127.0.0.1:1", cwd=tmp_path)
    assert verbose.returncode == 3 and "Traceback" in verbose.stderr


def test_token_in_url_not_printed(tmp_path):
    result = cli("setup", "--remote", "sc://127.0.0.1:1/;token=s3cret", cwd=tmp_path)
    assert result.returncode == 3 and "s3cret" not in result.stdout + result.stderr


def test_workspace_errors_exit_3(remote, tmp_path):
    url, _, _ = remote
    schema = f"w_{uuid.uuid4().hex[:8]}"
    coverage = ("monitors", "coverage", "--schema-to-check", "spark_catalog.x")
    where = ("--remote", url, "--schema", schema)
    with DatabricksEmulator() as emulator:
        emulator.fail(
            "GET", "/unity-catalog/tables", 500, "INTERNAL_ERROR", "disk on fire", times=None
        )
        env = cli_env(emulator, DATABRICKS_RETRY_TIMEOUT_SECONDS="2")
        failed = cli(*coverage, *where, cwd=tmp_path, env=env)
    assert failed.returncode == 3, failed.stdout + failed.stderr[-2000:]
    assert failed.stdout.startswith("workspace API error: InternalError: disk on fire")
    assert "Traceback" not in failed.stderr


def test_unreachable_workspace_exits_3(remote, monkeypatch, capsys, tmp_path):
    """An unreachable workspace host: one line naming the failure, exit 3 (in-process, since the
    SDK's retry budget can only be shortened in code: 300 s by default)."""
    import databricks.sdk

    from etl_monitor.cli import main as cli_main

    url, _, _ = remote
    for key in [k for k in os.environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{local.free_port()}")
    monkeypatch.setenv("DATABRICKS_TOKEN", "t")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    from databricks.sdk.config import Config

    real = databricks.sdk.WorkspaceClient
    monkeypatch.setattr(
        databricks.sdk, "WorkspaceClient", lambda: real(config=Config(retry_timeout_seconds=2))
    )
    schema = f"u_{uuid.uuid4().hex[:8]}"
    argv = ["etl-monitor", "monitors", "coverage", "--schema-to-check", "spark_catalog.x"]
    monkeypatch.setattr(sys, "argv", [*argv, "--remote", url, "--schema", schema])
    with pytest.raises(SystemExit) as exit_:
        cli_main.run()
    out = capsys.readouterr()
    assert exit_.value.code == 3, out
    assert len(out.out.strip().splitlines()) == 1, out.out
    assert out.out.startswith(("network error: TimeoutError", "workspace API error:")), out.out
    assert "Traceback" not in out.err


def test_invalid_input_usage_and_bad_url(tmp_path):
    bad_url = cli("setup", "--remote", "http://127.0.0.1:15002", cwd=tmp_path)
    assert bad_url.returncode == 1
    assert "invalid Spark Connect URL 'http://127.0.0.1:15002'" in bad_url.stdout
    assert "must start with 'sc://'" in bad_url.stdout
    bad_port = cli("setup", "--remote", "sc://127.0.0.1:99999", cwd=tmp_path)
    assert bad_port.returncode == 1 and "between 1 and 65535" in bad_port.stdout
    for mixed in (
        ("--remote", "sc://127.0.0.1:1", "--warehouse", "wh"),
        ("--remote", "sc://127.0.0.1:1", "--engine", "delta"),
        ("--profile", "ci", "--engine", "sail"),
    ):
        result = cli("setup", *mixed, cwd=tmp_path)
        assert result.returncode == 2, (mixed, result.stdout, result.stderr)
        assert "give one or the other" in result.stderr
    bad_schema = cli(
        "setup", "--schema", "bad schema", "--remote", "sc://127.0.0.1:1", cwd=tmp_path
    )
    assert bad_schema.returncode in (1, 3)  # refused before or after the server is asked


def test_environment_remote_gives_way_to_a_typed_warehouse(tmp_path):
    """ETL_MONITOR_REMOTE does not clash with a typed --warehouse: the embedded engine is used."""
    env = cli_env(ETL_MONITOR_REMOTE="sc://127.0.0.1:1")
    result = cli(
        "setup", "--warehouse", str(tmp_path / "wh"), "--format", "json", cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    from_env = cli("setup", cwd=tmp_path, env=env)
    assert from_env.returncode == 3 and "sc://127.0.0.1:1" in from_env.stdout


def test_profile_gives_the_session_and_the_workspace(remote, monkeypatch, tmp_path):
    """--profile NAME: Databricks Connect with NAME and the workspace client with NAME."""
    from click.testing import CliRunner

    from etl_monitor.cli import common
    from etl_monitor.cli.main import main

    url, viewer, _ = remote
    asked: list[str] = []

    class Builder:
        def profile(self, name):
            asked.append(name)
            return self

        def getOrCreate(self):
            return remote_session(url)

    fake = types.ModuleType("databricks.connect")
    fake.DatabricksSession = types.SimpleNamespace(builder=Builder())
    monkeypatch.setitem(sys.modules, "databricks.connect", fake)
    schema, source = f"p_{uuid.uuid4().hex[:8]}", f"spark_catalog.ps_{uuid.uuid4().hex[:6]}"
    with DatabricksEmulator() as emulator:
        emulator.add_schema(source)
        emulator.add_table(f"{source}.t", COLUMNS)
        cfg = tmp_path / "databrickscfg"
        cfg.write_text(f"[ci]\nhost = {emulator.url}\ntoken = {emulator.token}\n")
        for key in [k for k in os.environ if k.startswith("DATABRICKS_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        try:
            result = CliRunner().invoke(
                main,
                [
                    *("monitors", "coverage", "--schema-to-check", source),
                    *("--profile", "ci", "--schema", schema, "--format", "json"),
                ],
            )
            engine = common._REMOTE[(None, "ci")][1]
        finally:
            common.close_remote()
        assert result.exit_code == 0, result.output
    assert asked == ["ci"] and engine.name == "databricks"
    assert json.loads(result.output)["unmonitored"] == [f"{source}.t"]
    assert emulator.count("GET", "/unity-catalog/tables") >= 1  # the workspace of profile ci
    assert viewer.catalog.tableExists(f"spark_catalog.{schema}.ETLmonitorTables")
