"""The main job (etl-monitor demo) and the run-time CLI commands, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

WAREHOUSE_ENV = "ETL_MONITOR_WAREHOUSE"


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_", "ETL_MONITOR_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "etl_monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo")
    started = time.perf_counter()
    result = cli("demo", cwd=path)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-3000:]
    return path, result.stdout, elapsed


def test_demo_runs_under_a_minute_and_shows_the_story(demo_dir):
    _, out, elapsed = demo_dir
    assert elapsed < 60
    assert "Load Returns: FAIL (source database refused the connection (attempt 1))" in out
    assert "mandatory task failed (Load Returns); later stages are blocked" in out
    assert "stage 2: Load Returns: DONE" in out and "stage 6: Sales mart: DONE" in out
    for title in ("v_runSummary", "v_taskDetail", "v_processStatus", "v_watermarks"):
        assert title in out
    assert "v_currentFailures: no rows" in out and "v_mandatoryBlockers: no rows" in out


def test_status_pending_watermarks_and_reset_as_json(demo_dir):
    path, _, _ = demo_dir
    summary = json.loads(
        cli(
            "status",
            "DEMO",
            "SALES_DAILY",
            "--summary",
            "--schema",
            "etl_demo",
            "--format",
            "json",
            cwd=path,
        ).stdout
    )
    assert sorted(r["RunStatus"] for r in summary) == ["DONE", "FAIL"]
    first = next(r["ExecutionID"] for r in summary if r["RunStatus"] == "FAIL")
    detail = json.loads(
        cli(
            "status",
            "DEMO",
            "SALES_DAILY",
            "--execution-id",
            first,
            "--schema",
            "etl_demo",
            "--format",
            "json",
            cwd=path,
        ).stdout
    )
    assert {r["TaskName"]: r["EffectiveStatus"] for r in detail}["Load Returns"] == "FAIL"
    marks = json.loads(
        cli(
            "watermarks",
            "DEMO",
            "SALES_DAILY",
            "--schema",
            "etl_demo",
            "--format",
            "json",
            cwd=path,
        ).stdout
    )
    assert {m["ParameterName"]: m["ActiveValue"] for m in marks}["SalesMartById"] == "102000"
    reset = json.loads(
        cli(
            "reset",
            "DEMO",
            "SALES_DAILY",
            "--execution-id",
            first,
            "--schema",
            "etl_demo",
            "--format",
            "json",
            cwd=path,
        ).stdout
    )
    assert reset["steps_reset"] == 2  # the failed load and the initiation step
    pending = json.loads(
        cli(
            "pending",
            first,
            "DEMO",
            "SALES_DAILY",
            "--schema",
            "etl_demo",
            "--format",
            "json",
            cwd=path,
        ).stdout
    )
    assert [p["TaskName"] for p in pending] == [
        "Initiation",
        "Load Returns",
        "Build dimensions",
        "Sales mart",
    ]
    table = cli("pending", first, "DEMO", "SALES_DAILY", "--schema", "etl_demo", cwd=path)
    assert "Load Returns" in table.stdout and "returns_" in table.stdout


def test_cli_errors_have_exit_codes(tmp_path):
    missing = cli("status", "DEMO", "SALES_DAILY", cwd=tmp_path)
    assert missing.returncode == 3 and "run 'etl-monitor setup'" in missing.stdout
    assert cli("status", "DEMO", cwd=tmp_path).returncode == 2
    assert cli("setup", cwd=tmp_path).returncode == 0
    bad = cli("reset", "DEMO", "SALES_DAILY", "--date", "31/12/2026", cwd=tmp_path)
    assert bad.returncode == 1 and "processing_date" in bad.stdout
