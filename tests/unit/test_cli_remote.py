"""The CLI against a remote engine (--remote sc://..., --profile) and its exit codes.

What needs no engine: no session starts here; tests/engines/test_cli_remote.py runs the rest on every
engine.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from etl_monitor.engine.capabilities import server_family
from etl_monitor.engine.remote import (
    check_url,
    databricks_session,
    display_url,
)
from etl_monitor.errors import EngineError, InvalidArgumentError
from tests.emulator import DatabricksEmulator


def cli_env(emulator: DatabricksEmulator | None = None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPARK_", "SAIL_", "ETL_MONITOR_", "DATABRICKS_"))
    }
    env["NO_PROXY"] = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    if emulator is not None:
        env |= {"DATABRICKS_HOST": emulator.url, "DATABRICKS_TOKEN": emulator.token}
    return env | extra


def cli(*args: str, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "etl_monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or cli_env(),
        timeout=300,
    )


def test_server_family_from_version_text():
    assert server_family("4.1.4 45b9b176e6e27f530a86ac5421b03865b7ea6287") == "spark"
    assert server_family("3.1.0 a6d6ea3efedbad14d99c24143834cd4e2e52fb40") == "spark"
    assert server_family("0.7.2") == "sail"
    assert server_family(None) == "sail"


def test_internal_error_exit_3_with_traceback(monkeypatch, tmp_path):
    from etl_monitor.cli import main as cli_main

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(cli_main, "_framework", broken)
    monkeypatch.setattr(sys, "argv", ["etl-monitor", "setup"])
    with pytest.raises(SystemExit) as exit_:
        cli_main.run()
    assert exit_.value.code == 3


def test_error_kinds():
    import grpc
    from databricks.sdk.errors import InternalError
    from pyspark.errors import AnalysisException

    from etl_monitor.cli.main import error_kind

    assert error_kind(AnalysisException("x")) == "engine error"
    assert error_kind(InternalError("x")) == "workspace API error"
    assert error_kind(ConnectionRefusedError("x")) == "network error"
    assert error_kind(TimeoutError("x")) == "network error"
    assert error_kind(grpc.RpcError()) == "engine error"
    assert error_kind(KeyError("x")) is None and error_kind(ValueError("x")) is None


def test_url_validation():
    assert check_url("sc://h:15002/;token=x;x-databricks-cluster-id=1").startswith("sc://")
    assert display_url("sc://h:15002/;token=x") == "sc://h:15002"
    for bad in ("h:15002", "sc://", "sc://h:0", "sc://h:15002/path", "grpc://h:1", ""):
        with pytest.raises(InvalidArgumentError, match="invalid Spark Connect URL"):
            check_url(bad)


def test_profile_without_databricks_connect(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "databricks.connect", None)  # not installed
    with pytest.raises(
        EngineError, match=r"pip install 'lakehouse-etl-monitor\[databricks-connect\]'"
    ):
        databricks_session("ci")
    result = cli("status", "P", "L", "--profile", "ci", cwd=tmp_path)
    assert result.returncode == 3
    assert "--profile needs databricks-connect" in result.stdout
