"""The user's own session: no marker, no engine given; the library learns what it runs on.

On Sail and JVM Delta, a plain ``SparkSession.builder.remote(url)`` session on this worker's
server; in a Databricks Connect venv (engine ``dbconnect``, tests/runtimes.py) the suite's
own session, made by ``DatabricksSession.builder.remote(url)``; on classic PySpark 3.5 a
child process that builds its session with ``SparkSession.builder`` and the Delta settings,
as a notebook on a Databricks 15.4 LTS cluster has it.

A whole run goes through each: set-up, registration, queueing, pending tasks, a task with a
watermark, the views, and not one log record at WARNING or above on the way.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.capabilities import detect_engine
from tests.helpers import register_hr

pytestmark = pytest.mark.core
P, L = "CORP", "HR_DAILY"


@pytest.fixture(scope="module")
def own_session(engine_name, spark, tmp_path_factory):
    """A session the library did not make: the suite's own on dbconnect, else a plain remote one.

    On Sail the session sets an absolute warehouse directory, as the README asks (a Sail
    server's default one is relative to its working directory).
    """
    if engine_name == "dbconnect":
        yield spark
        return
    if engine_name == "classic":
        pytest.skip("a classic process has one session: see test_a_classic_notebook_session")
    from pyspark.sql import SparkSession

    from etl_monitor import local

    server = local.server_of(spark)
    url = getattr(server, "url", None) or "sc://{}:{}".format(*server.listening_address)
    builder = SparkSession.builder.remote(url)
    if engine_name == "sail":
        builder = builder.config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("own")))
    session = builder.create()
    yield session
    session.stop()


def run_end_to_end(session, catalog: str, schema: str) -> dict:
    """One daily run through the public API on `session`; what a test checks of it."""
    monitor = ETLMonitorFramework(session, catalog, schema)
    monitor.setup()
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    pending = monitor.get_pending_tasks(e, P, L).collect()
    with monitor.task(e, P, L, task_id=0, workflow_id=0, sequence_id=0):
        pass
    with monitor.task(e, P, L, task_id=1, workflow_id=1, sequence_id=2) as t:
        t.advance_watermark(new_datetime_value=datetime(2026, 4, 9, 5, tzinfo=timezone.utc))
    status = {r["TaskID"]: r["Status"] for r in monitor.get_status(P, L, execution_id=e).collect()}
    watermark = monitor.get_active_watermark(P, L, "W1")
    tables = sorted(
        r["tableName"] for r in session.sql(f"SHOW TABLES IN `{catalog}`.`{schema}`").collect()
    )
    return {
        "engine": monitor.engine,
        "pending": [r["TaskID"] for r in pending],
        "status": status,
        "watermark": str(watermark),
        "tables": tables,
        "table": monitor.table_name("ETLProcessingEvents"),
    }


def test_a_whole_run_on_the_users_own_session(own_session, engine_name, catalog, caplog):
    schema = f"own_{uuid.uuid4().hex[:10]}"
    with caplog.at_level(logging.DEBUG):
        out = run_end_to_end(own_session, catalog, schema)
    loud = [
        f"{r.name} {r.levelname}: {r.getMessage()[:200]}"
        for r in caplog.records
        if r.levelno >= logging.WARNING
    ]
    assert loud == []
    engine = out["engine"]
    assert engine is detect_engine(own_session) and engine.runtime
    assert (engine.name == "sail") == (engine_name == "sail")
    assert engine.warehouse_root is None  # the user's catalog manages the tables
    assert 0 in out["pending"]
    assert (out["status"][0], out["status"][1]) == ("DONE", "DONE")
    assert out["watermark"].startswith("2026-04-09")
    assert {"etlprocessingsteps", "etlprocessingevents"} <= {t.lower() for t in out["tables"]}
    if engine_name == "dbconnect":
        assert "Databricks Connect" in engine.runtime
        from importlib.metadata import version

        # 15.4's client has no DataFrame.mergeInto (16.1's has); this server binds no
        # parameters in commands, so 15.4 merges by the join alone.
        client = int(version("databricks-connect").split(".")[0])
        assert engine.merge_path == ("dataframe" if client >= 16 else "sql")
    if not engine.lacks("table_history"):  # Delta: the tables are Delta, not the default format
        detail = own_session.sql(f"DESCRIBE DETAIL {out['table']}").collect()[0]
        assert detail["format"] == "delta"


CLASSIC_NOTEBOOK = """
import json, sys
from pyspark.sql import SparkSession
from etl_monitor.engine.delta_jars import DELTA_EXTENSIONS, delta_jars
builder = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
           .config("spark.jars", ",".join(delta_jars()))
           .config("spark.sql.warehouse.dir", sys.argv[1]))
for key, value in DELTA_EXTENSIONS.items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
from tests.engines.test_user_sessions import run_end_to_end
out = run_end_to_end(spark, "spark_catalog", "etl")
detail = spark.sql(f"DESCRIBE DETAIL {out['table']}").collect()[0]
engine = out.pop("engine")
out.update(format=detail["format"], runtime=engine.runtime, merge_path=engine.merge_path,
           clustering=engine.liquid_clustering, root=engine.warehouse_root)
print("RESULT:" + json.dumps(out, default=str), flush=True)
"""


def test_a_classic_notebook_session(engine_name, tmp_path):
    """Classic PySpark with Delta, the session built as a cluster's notebook has it (no marker)."""
    if engine_name != "classic":
        pytest.skip("the classic leg's own process is classic; here the process uses Spark Connect")
    from tests.jvm import clean_env

    done = subprocess.run(
        [sys.executable, "-c", CLASSIC_NOTEBOOK, str(tmp_path / "warehouse")],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT:")), None)
    assert done.returncode == 0 and line, done.stderr[-4000:]
    out = json.loads(line[len("RESULT:") :])
    import pyspark

    assert out["runtime"].startswith(f"classic PySpark {pyspark.__version__} / Spark")
    assert out["merge_path"] == ("dataframe" if pyspark.__version__ >= "4" else "sql_parameters")
    assert (out["format"], out["root"], out["clustering"]) == ("delta", None, True)
    assert 0 in out["pending"]
    assert (out["status"]["0"], out["status"]["1"]) == ("DONE", "DONE")
    assert out["watermark"].startswith("2026-04-09")


#: Set by tests/engines/test_runtimes.py for a Databricks Connect venv: a databricks-sdk
#: profile whose host is a TLS front on the local Spark Connect server (tests/tls_front.py).
PROFILE_ENV = "ETL_MONITOR_TEST_PROFILE"


def test_the_cli_through_a_databricks_connect_profile(engine_name, catalog, tmp_path):
    """``etl-monitor --profile NAME``: Databricks Connect from the profile, as a laptop has it."""
    import os

    profile = os.environ.get(PROFILE_ENV)
    if engine_name != "dbconnect" or not profile:
        pytest.skip("runs in a Databricks Connect venv, against a profile (tests/runtimes.py)")
    import yaml

    schema = f"cli_{uuid.uuid4().hex[:10]}"
    where = ["--profile", profile, "--catalog", catalog, "--schema", schema]
    process = {
        "project_code": P,
        "process_load": L,
        "name": "HR through a profile",
        "tasks": [{"task_id": 1, "workflow_id": 1, "sequence_id": 2, "task_name": "Load"}],
    }
    document = tmp_path / "catalogue.yaml"
    document.write_text(yaml.safe_dump({"version": 1, "processes": [process]}))

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "etl_monitor", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        assert " ERROR " not in done.stderr and "Traceback" not in done.stderr, done.stderr[-4000:]
        return done.stdout

    cli("setup", *where)
    cli("catalogue", "apply", str(document), "--confirm", *where)
    execution = str(uuid.uuid4())
    pending = json.loads(
        cli("pending", execution, P, L, "--date", "2026-04-09", "--format", "json", *where)
    )
    assert [row["TaskID"] for row in pending] == [1]
