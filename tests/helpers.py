"""Small helpers shared by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from etl_monitor import ETLMonitorFramework
from etl_monitor.core import objects
from etl_monitor.engine.timestamps import rows_from_spark
from etl_monitor.tracking.tables import ALL_TABLES

#: The views `setup()` creates: run tracking's and v_alerts, from the one registry.
ALL_VIEWS = objects.views(objects.TRACKING)


def snapshot(monitor: ETLMonitorFramework) -> dict[str, list[tuple]]:
    """Every row of every framework table, sorted, for before/after comparisons."""
    out = {}
    for table in ALL_TABLES:
        rows = monitor.spark.table(monitor.table_name(table.name)).collect()
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def commit_count(warehouse: str, monitor: ETLMonitorFramework, table: str) -> int:
    """Delta commits of one table, counted from its _delta_log."""
    log = Path(warehouse) / monitor.catalog / monitor.schema / table / "_delta_log"
    return len(list(log.glob("*.json")))


def last_commit(warehouse: str, monitor: ETLMonitorFramework, table: str) -> list[dict]:
    """The actions of a table's latest Delta commit."""
    log = Path(warehouse) / monitor.catalog / monitor.schema / table / "_delta_log"
    latest = max(log.glob("*.json"))
    return [json.loads(line) for line in latest.read_text().splitlines() if line.strip()]


def register_hr(monitor: ETLMonitorFramework, tasks: int = 3, frequency: str = "D") -> None:
    """CORP/HR_DAILY: an initiation task, `tasks` loads in stage 2 (task 1 mandatory) and a stage-3 task 9.

    Each load task N has a DELTA_DATE watermark WN named by its SourceSystemCode. Written
    as one catalogue document (one MERGE per table), the public bulk path.
    """
    import yaml

    from etl_monitor.tracking import catalogue

    loads = [
        {
            "task_id": n,
            "workflow_id": 1,
            "sequence_id": 2,
            "task_name": f"Load {n}",
            "source_system_code": f"W{n}",
            "task_mandatory": n == 1,
            "load_frequency": frequency,
            "file_name_mask": "load" + str(n) + "_{yyyyMMdd}",
            "file_extension": ".csv",
            "sla_minutes": 60,
        }
        for n in range(1, tasks + 1)
    ]
    process = {
        "project_code": "CORP",
        "process_load": "HR_DAILY",
        "name": "HR Daily Load",
        "owner": "HR Team",
        "tasks": [
            {
                "task_id": 0,
                "workflow_id": 0,
                "sequence_id": 0,
                "task_name": "Initiation",
                "task_mandatory": False,
            },
            *loads,
            {
                "task_id": 9,
                "workflow_id": 1,
                "sequence_id": 3,
                "task_name": "Dimensions",
                "load_frequency": frequency,
                "task_mandatory": False,
            },
        ],
        "parameters": [
            *(
                {"parameter_name": f"W{n}", "parameter_type": "DELTA_DATE"}
                for n in range(1, tasks + 1)
            ),
            {"parameter_name": "SYSDT", "parameter_type": "SYSTEM"},
        ],
    }
    doc = yaml.safe_dump({"version": 1, "processes": [process]}, sort_keys=False)
    catalogue.apply(monitor.context, catalogue.load(doc))


def rows(monitor: ETLMonitorFramework, view: str, **filters) -> list[dict]:
    """All rows of a view or table matching equality filters, as dicts."""
    df = monitor.spark.table(monitor.table_name(view))
    out = [r.asDict() for r in rows_from_spark(df.collect())]
    out.sort(key=lambda r: tuple(str(v) for v in r.values()))  # file order varies by layout
    return [r for r in out if all(r[k] == v for k, v in filters.items())]


def live_dates(since: datetime) -> set[str]:
    """The `ActiveValue`s a LIVE DATE (unset SYSTEM) watermark may show from `since` until now.

    The view reads today's UTC date when it is queried, so a test that spans midnight UTC
    accepts each day it touched.
    """
    day, today = since.astimezone(UTC).date(), datetime.now(UTC).date()
    days = [day + timedelta(days=n) for n in range((today - day).days + 1)]
    return {d.strftime("%Y-%m-%dT00:00:00.000") for d in days}


def pending(monitor: ETLMonitorFramework, *args, **kwargs) -> list[dict]:
    """get_pending_tasks() collected, as dicts with UTC timestamps."""
    return [
        r.asDict() for r in rows_from_spark(monitor.get_pending_tasks(*args, **kwargs).collect())
    ]


def statuses(monitor: ETLMonitorFramework, execution_id: str) -> dict[tuple[int, int], str]:
    return {
        (r["TaskID"], r["WorkFlowID"]): r["Status"]
        for r in rows(monitor, "ETLProcessingSteps", ExecutionID=execution_id)
    }


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    """`etl-monitor ARGS` in a fresh process, as a user runs it (no inherited engine settings)."""
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


PROFILE_METRICS_DDL = (
    "`window` STRUCT<`start`: TIMESTAMP, `end`: TIMESTAMP>, log_type STRING, logging_table_commit_version INT, "
    "monitor_version BIGINT, granularity STRING, slice_key STRING, slice_value STRING, column_name STRING, "
    "`count` BIGINT, data_type STRING, num_nulls BIGINT, `avg` DOUBLE, quantiles ARRAY<DOUBLE>, `min` DOUBLE, "
    "`max` DOUBLE, stddev DOUBLE, num_zeros BIGINT, num_nan BIGINT, min_length DOUBLE, max_length DOUBLE, "
    "avg_length DOUBLE, non_null_columns ARRAY<STRING>, frequent_items ARRAY<STRUCT<item: STRING, `count`: BIGINT>>, "
    "median DOUBLE, distinct_count BIGINT, percent_nan DOUBLE, percent_null DOUBLE, percent_zeros DOUBLE, "
    "percent_distinct DOUBLE"
)
DRIFT_METRICS_DDL = (
    "`window` STRUCT<`start`: TIMESTAMP, `end`: TIMESTAMP>, granularity STRING, monitor_version BIGINT, "
    "slice_key STRING, slice_value STRING, column_name STRING, data_type STRING, "
    "window_cmp STRUCT<`start`: TIMESTAMP, `end`: TIMESTAMP>, drift_type STRING, count_delta DOUBLE, "
    "avg_delta DOUBLE, percent_null_delta DOUBLE, percent_zeros_delta DOUBLE, percent_distinct_delta DOUBLE, "
    "non_null_columns_delta STRUCT<added: INT, missing: INT>, js_distance DOUBLE, "
    "ks_test STRUCT<statistic: DOUBLE, pvalue: DOUBLE>, wasserstein_distance DOUBLE, "
    "population_stability_index DOUBLE, chi_squared_test STRUCT<statistic: DOUBLE, pvalue: DOUBLE>, "
    "tv_distance DOUBLE, l_infinity_distance DOUBLE"
)


def create_metric_tables(
    spark, output_schema: str, leaf: str, js_distance: float, rows: int = 1, extra: str = ""
) -> None:
    """Profile and drift metric tables with the Databricks layout (plus `extra` custom columns), with rows."""
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {output_schema}")
    extra_ddl = f", {extra}" if extra else ""
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {output_schema}.{leaf}_profile_metrics ({PROFILE_METRICS_DDL}{extra_ddl}) USING DELTA"
    )
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {output_schema}.{leaf}_drift_metrics ({DRIFT_METRICS_DDL}) USING DELTA"
    )
    window = "named_struct('start', TIMESTAMP'2026-04-09 00:00:00', 'end', TIMESTAMP'2026-04-10 00:00:00')"
    for n in range(rows):
        extra_values = ", 42.0" if extra else ""
        spark.sql(
            f"INSERT INTO {output_schema}.{leaf}_profile_metrics VALUES ({window}, 'INPUT', 3, 1, '1 day', NULL, NULL, "
            f"'amount', {100 + n}, 'double', 2, 10.5, array(1.0, 2.0), 0.0, 99.0, 3.2, 1, 0, NULL, NULL, "
            f"10.0, array('amount'), CAST(NULL AS ARRAY<STRUCT<item: STRING, `count`: BIGINT>>), 11.0, 50, 0.0, 2.0, 1.0, "
            f"50.0{extra_values})"
        )
        spark.sql(
            f"INSERT INTO {output_schema}.{leaf}_drift_metrics VALUES ({window}, '1 day', 1, NULL, NULL, 'amount', "
            f"'double', named_struct('start', TIMESTAMP'2026-04-08 00:00:00', 'end', TIMESTAMP'2026-04-09 00:00:00'), "
            f"'CONSECUTIVE', 5.0, 0.5, 0.1, 0.0, 1.5, named_struct('added', 0, 'missing', 1), {js_distance}, "
            "named_struct('statistic', 0.3, 'pvalue', 0.01), 1.2, 0.05, named_struct('statistic', 2.5, 'pvalue', 0.2), "
            "0.1, 0.2)"
        )


CHILD_PRELUDE = """
import json, sys
from etl_monitor import ETLMonitorFramework
from etl_monitor.local import spark_session
ARGS = json.loads(sys.argv[1])
if ARGS["engine"].startswith("sc://"):  # a second client of the parent's JVM server
    from etl_monitor.local import connect_session
    spark = connect_session(ARGS["engine"], ARGS["warehouse"])
else:
    spark = spark_session(ARGS["warehouse"], engine=ARGS["engine"],
                          schemas=(f"{ARGS['catalog']}.{ARGS['schema']}",) if "schema" in ARGS else None)
def ready():
    # A start barrier: tell the parent we are set up, then wait for its go.
    print("READY", flush=True)
    sys.stdin.readline()
def result(value):
    print("RESULT:" + json.dumps(value), flush=True)
"""


class Child:
    """A Python child process running `CHILD_PRELUDE` + `script` on a local engine.

    `engine` is an `etl_monitor.local` engine the child starts for itself, or the
    ``sc://`` URL of the parent's JVM server, which the child joins as a client of its own.

    The script reads its arguments from ``ARGS`` (warehouse, engine and what the test
    passes), may call ``ready()`` to wait at a start barrier, and reports with ``result()``.
    """

    def __init__(self, script: str, warehouse: str, engine: str, **args) -> None:
        import tempfile

        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives with the child
        payload = json.dumps({"warehouse": warehouse, "engine": engine, **args})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_"))}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD_PRELUDE + script, payload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )

    def stderr_tail(self) -> str:
        """The child's last traceback: its frames and the start of its message (where the
        error is named), and the end of the output; a JVM stack alone names nothing."""
        self._stderr.seek(0)
        text = self._stderr.read()
        block = text[max(text.rfind("Traceback (most recent call last)"), 0) :]
        if len(block) <= 8000:
            return block
        return f"{block[:6000]}\n[...]\n{block[-2000:]}"

    def wait_ready(self) -> None:
        """Block until the child has called ready() (fails if it exits first)."""
        for line in self.proc.stdout:
            if line.strip() == "READY":
                return
        raise AssertionError(f"child exited before it was ready:\n{self.stderr_tail()}")

    def go(self) -> None:
        self.proc.stdin.write("GO\n")
        self.proc.stdin.flush()

    def result(self, timeout: float = 600):
        """The value the child passed to result(), once it has exited successfully."""
        out, _ = self.proc.communicate(timeout=timeout)
        line = next((x for x in out.splitlines() if x.startswith("RESULT:")), None)
        assert self.proc.returncode == 0 and line, (
            f"child failed (exit {self.proc.returncode}):\n{self.stderr_tail()}"
        )
        return json.loads(line[len("RESULT:") :])


def start_together(children: list[Child]) -> None:
    """Wait until every child is at its barrier, then release them all."""
    for child in children:
        child.wait_ready()
    for child in children:
        child.go()
