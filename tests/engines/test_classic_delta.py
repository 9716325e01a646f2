"""Delta through classic PySpark (py4j), as a notebook on a Databricks cluster runs it.

The rest of the suite reaches Delta through Spark Connect; a process that has used Spark
Connect cannot start classic JVM Spark, so this path runs in a child process, under the
same non-UTC driver time zone, on the same warehouse.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.helpers import Child, rows

SCRIPT = """
import os, time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
P, L = "CORP", "CLASSIC"
name = lambda t: f"{ARGS['catalog']}.{ARGS['schema']}.{t}"
out = {"tz": os.environ.get("TZ"), "client": type(spark).__module__}
monitor = ETLMonitorFramework(spark, ARGS["catalog"], ARGS["schema"])
out["views_before_setup"] = spark.catalog.tableExists(name("v_taskDetail"))
from etl_monitor.tracking import catalogue  # the bulk path: one MERGE per table
tasks = [{"task_id": n, "workflow_id": 1, "sequence_id": 2, "source_system_code": f"W{n}"}
         for n in range(1, 9)]
params = [{"parameter_name": f"W{n}", "parameter_type": "DELTA_DATE"} for n in range(1, 9)]
process = {"project_code": P, "process_load": L, "name": "classic py4j", "tasks": tasks,
           "parameters": [*params, {"parameter_name": "SYSDT", "parameter_type": "SYSTEM"}]}
import yaml
catalogue.apply(monitor.context, catalogue.load(yaml.safe_dump({"version": 1, "processes": [process]})))
e = monitor.generate_execution_id()
monitor.generate_execution_steps(e, P, L, "2026-04-09")
monitor.start_task(e, P, L, task_id=1, workflow_id=1)
monitor.end_task(e, P, L, task_id=1, workflow_id=1)
events = monitor.executor.query(
    f"SELECT StatusCode, StartTime FROM {monitor.table_name('ETLProcessingEvents')} "
    "WHERE ExecutionID = :e AND TaskID = 1 AND StatusCode IN ('RUNNING', 'DONE')", {"e": e})
out["starts"] = {r["StatusCode"]: r["StartTime"].isoformat() for r in events}
out["watermark"] = monitor.get_active_watermark(P, L, "W1").isoformat()
def work(task_id):
    with monitor.task(e, P, L, task_id=task_id, workflow_id=1) as t:
        time.sleep(0.05)
    return t.status
with ThreadPoolExecutor(4) as pool:
    out["parallel"] = list(pool.map(work, range(2, 9)))
out["retries"] = monitor.executor.stats["retries"]
monitor.set_processing_mode(P, L, is_historic_mode=True, historic_date=date(2026, 1, 1))
e2 = monitor.generate_execution_id()
monitor.generate_execution_steps(e2, P, L)
out["historic_dates"] = sorted({str(r["ProcessingDate"]) for r in monitor.executor.query(
    f"SELECT ProcessingDate FROM {monitor.table_name('ETLProcessingSteps')} WHERE ExecutionID = :e",
    {"e": e2})})
out["execution"] = e
result(out)
"""


@pytest.mark.requires("classic_client")
@pytest.mark.jvm
def test_classic_pyspark_records_runs_in_utc(monitor, warehouse, driver_time_zone):
    before = datetime.now(timezone.utc)
    out = Child(SCRIPT, warehouse, "delta", catalog=monitor.catalog, schema=monitor.schema).result()
    after = datetime.now(timezone.utc)
    assert out["tz"] == driver_time_zone and ".connect." not in out["client"]
    assert out["views_before_setup"] is True  # kept beside the tables, re-created on start
    started = datetime.fromisoformat(out["starts"]["RUNNING"])
    assert started.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= started <= after
    assert out["starts"]["DONE"] == out["starts"]["RUNNING"] == out["watermark"]
    assert out["parallel"] == ["DONE"] * 7
    assert out["historic_dates"] == ["2026-01-01"]
    # and this (Spark Connect) session reads what the classic process wrote, the same instant
    (mark,) = rows(monitor, "v_watermarks", ProjectCode="CORP", ParameterName="W1")
    assert mark["ValueDateTime"] == started
    assert mark["ActiveValue"] == started.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{started.microsecond // 1000:03d}"
    )
    done = rows(monitor, "ETLProcessingSteps", ExecutionID=out["execution"], Status="DONE")
    assert len(done) == 8
