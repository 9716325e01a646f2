"""The main job (etl-monitor demo) and the run-time CLI commands, as a user runs them."""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import run_cli


def cli_json(*args: str, cwd):
    """Run a command on the demo schema with --format json and parse its output."""
    result = run_cli(*args, "--schema", "etl_demo", "--format", "json", cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo")
    started = time.perf_counter()
    result = run_cli("demo", cwd=path)
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
    summary = cli_json("status", "DEMO", "SALES_DAILY", "--summary", cwd=path)
    assert sorted(r["RunStatus"] for r in summary) == ["DONE", "FAIL"]
    first = next(r["ExecutionID"] for r in summary if r["RunStatus"] == "FAIL")
    detail = cli_json("status", "DEMO", "SALES_DAILY", "--execution-id", first, cwd=path)
    assert {r["TaskName"]: r["EffectiveStatus"] for r in detail}["Load Returns"] == "FAIL"
    marks = cli_json("watermarks", "DEMO", "SALES_DAILY", cwd=path)
    assert {m["ParameterName"]: m["ActiveValue"] for m in marks}["SalesMartById"] == "102000"
    reset = cli_json("reset", "DEMO", "SALES_DAILY", "--execution-id", first, cwd=path)
    assert reset["steps_reset"] == 2  # the failed load and the initiation step
    pending = cli_json("pending", first, "DEMO", "SALES_DAILY", cwd=path)
    assert [p["TaskName"] for p in pending] == [
        "Initiation",
        "Load Returns",
        "Build dimensions",
        "Sales mart",
    ]
    table = run_cli("pending", first, "DEMO", "SALES_DAILY", "--schema", "etl_demo", cwd=path)
    assert "Load Returns" in table.stdout and "returns_" in table.stdout


def test_cli_errors_have_exit_codes(tmp_path):
    missing = run_cli("status", "DEMO", "SALES_DAILY", cwd=tmp_path)
    assert missing.returncode == 3 and "run 'etl-monitor setup'" in missing.stdout
    assert run_cli("status", "DEMO", cwd=tmp_path).returncode == 2
    assert run_cli("setup", cwd=tmp_path).returncode == 0
    bad = run_cli("reset", "DEMO", "SALES_DAILY", "--date", "31/12/2026", cwd=tmp_path)
    assert bad.returncode == 1 and "processing_date" in bad.stdout
