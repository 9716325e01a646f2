"""The published peer package (databricks-etl-monitor 1.0.0) run against the test Delta engine.

The peer's import name is also ``etl_monitor``, so it lives in its own venv under
``<repo>/.cache/peer-venv`` with the pure-Python Spark Connect client, and runs in a child
process that reaches the test engine's Spark Connect server. Tests use it to create a schema
with the peer's own code and later migrate it.

One peer statement cannot run on open-source Delta: the second UPDATE of
``end_task(status="DONE")`` (the DELTA_DATE watermark advance, ``UPDATE ETLconfigParameters
AS p SET p.ValueDateTime = (SELECT ...) WHERE ... p.ParameterName = (SELECT ...)``) fails with
``[DELTA_UNSUPPORTED_SUBQUERY] Subqueries are not supported in the UPDATE``, after its first
UPDATE has marked the task DONE. Inside ``monitor.task(...)`` that error leads to
``fail_task`` with the error's text, whose quotes break fail_task's own UPDATE
(PARSE_SYNTAX_ERROR): the step stays DONE, its watermark does not move, and ``task()``
raises. The snippets therefore end successful tasks with `complete_task`
(the same peer calls as ``monitor.task`` on a clean exit), which, on that error only,
advances the DELTA_DATE watermark to the task's StartTime with the peer's own
``advance_watermark`` and records it in ``workarounds``. Failing tasks run inside the peer's
``monitor.task(...)`` unchanged.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PEER_VENV = REPO / ".cache" / "peer-venv"
#: What the peer venv holds: the peer package and the Spark Connect client (whose own
#: requirements bring pandas, pyarrow, grpcio, grpcio-status, googleapis-common-protos,
#: zstandard).
PEER_REQUIREMENTS = ("databricks-etl-monitor==1.0.0", "pyspark-client==4.1.3")
_MARKER = ".installed"

#: The peer's tables (`ddl_tables.TABLE_ORDER`) and views (`_create_reporting_views`).
PEER_TABLES = (
    "ETLOrganisation",
    "ETLconfigProject",
    "ETLconfigSequence",
    "ETLconfigProcess",
    "ETLconfigTasks",
    "ETLconfigParameters",
    "ETLProcessingSteps",
    "ETLsysLogs",
)
PEER_VIEWS = (
    "v_processStatus",
    "v_runSummary",
    "v_taskDetail",
    "v_mandatoryBlockers",
    "v_currentFailures",
    "v_watermarks",
)
#: The last day `insert_peer_history` writes: before every date `build_peer_schema` uses.
HISTORY_END = date(2025, 12, 31)


class PeerPackageError(RuntimeError):
    """The peer venv could not be made, or a peer snippet failed."""


def peer_python() -> Path:
    """The python of the peer venv, made on first use (safe when processes race).

    Returns:
        The path of ``<repo>/.cache/peer-venv/bin/python``.

    Raises:
        PeerPackageError: creating the venv or installing `PEER_REQUIREMENTS` failed; the
            message names the command and holds its output.
    """
    python = PEER_VENV / "bin" / "python"
    wanted = "\n".join(PEER_REQUIREMENTS) + "\n"
    marker = PEER_VENV / _MARKER
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    import fcntl
    import shutil

    PEER_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(PEER_VENV.parent / "peer-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be installing: wait for it
        if python.exists() and marker.exists() and marker.read_text() == wanted:
            return python
        shutil.rmtree(PEER_VENV, ignore_errors=True)  # a partial or outdated install
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")
        }
        for command in (
            [sys.executable, "-m", "venv", str(PEER_VENV)],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                *PEER_REQUIREMENTS,
            ],
        ):
            try:
                done = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    env=env,
                    cwd=tempfile.gettempdir(),
                    timeout=900,
                )
            except subprocess.TimeoutExpired as error:
                raise PeerPackageError(
                    f"peer venv: `{' '.join(command)}` timed out after 900s:\n"
                    f"{_tail(error.stdout, 4000)}\n{_tail(error.stderr, 4000)}"
                ) from error
            if done.returncode != 0:
                raise PeerPackageError(
                    f"peer venv: `{' '.join(command)}` exited with {done.returncode}:\n"
                    f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
                )
        marker.write_text(wanted)
    return python


def connect_url(spark: Any) -> str:
    """The ``sc://host:port`` of a Spark Connect session.

    Args:
        spark: a pyspark Spark Connect SparkSession (the ``delta`` or ``sail`` test engine).

    Returns:
        The URL another process connects to.

    Raises:
        PeerPackageError: `spark` is not a Spark Connect session this can locate.
    """
    builder = getattr(getattr(spark, "client", None), "_builder", None)
    endpoint = getattr(builder, "endpoint", None)
    if isinstance(endpoint, str) and ":" in endpoint:
        return f"sc://{endpoint}"
    from etl_monitor.engine.local import JvmServer, server_of

    server = server_of(spark)  # a session our local engine started: its server's URL
    if isinstance(server, JvmServer) and server.kind == "connect":
        return server.url
    raise PeerPackageError(f"not a Spark Connect session: {type(spark).__name__}")


#: The child's entry point: builds `spark` and `monitor`, runs the snippet, writes `result`.
_RUNNER = r'''
import json
import sys
from importlib.metadata import version

args = json.loads(open(sys.argv[1], encoding="utf-8").read())

import etl_monitor
from etl_monitor import ETLMonitorFramework
from pyspark.sql import SparkSession

if not etl_monitor.__file__.startswith(sys.prefix) or version("databricks-etl-monitor") != "1.0.0":
    sys.exit(f"not the peer package: {etl_monitor.__file__}")

spark = SparkSession.builder.remote(args["url"]).getOrCreate()
monitor = ETLMonitorFramework(spark, args["catalog"], args["schema"])
workarounds = []


def _fqn(name):
    return monitor._fqn(name)


def complete_task(execution_id, project_code, process_load, *, task_id, workflow_id,
                  sequence_id, processing_date, source_type="DBX_NOTEBOOK",
                  log_message=None, log_type=None, log_code=None):
    """What monitor.task(...) does on a clean exit: status guard, start_task, end_task(DONE).

    end_task's DELTA_DATE watermark UPDATE (subqueries) cannot run on open-source Delta: on
    that error only, the watermark is advanced to the task's StartTime with the peer's own
    advance_watermark, as the failing statement would have. Returns the guard's status.
    """
    status = monitor.task_status(execution_id, project_code, process_load, processing_date,
                                 workflow_id=workflow_id, sequence_id=sequence_id,
                                 task_id=task_id)
    if status == "NULL":
        return status
    attempts = monitor.start_task(execution_id, project_code, process_load, task_id,
                                  sequence_id, workflow_id, processing_date, None, source_type)
    try:
        monitor.end_task(execution_id, project_code, process_load, task_id, sequence_id,
                         workflow_id, processing_date, attempts, status="DONE",
                         log_message=log_message, log_type=log_type, log_code=log_code)
    except Exception as error:
        if "DELTA_UNSUPPORTED_SUBQUERY" not in str(error):
            raise
        row = spark.sql(f"""
            SELECT Status, SourceSystemCode, CAST(StartTime AS STRING) AS StartTime
            FROM {_fqn("ETLProcessingSteps")}
            WHERE ExecutionID = '{execution_id}' AND ProcessingDate = '{processing_date}'
              AND ProjectCode = '{project_code}' AND ProcessLoad = '{process_load}'
              AND WorkFlowID = {workflow_id} AND SequenceID = {sequence_id}
              AND TaskID = {task_id} AND Attempts = {attempts}
        """).first()
        if row is None or row["Status"] != "DONE":
            raise
        advanced = None
        if row["SourceSystemCode"]:
            kind = spark.sql(f"""
                SELECT ParameterType FROM {_fqn("ETLconfigParameters")}
                WHERE ProjectCode = '{project_code}' AND ProcessLoad = '{process_load}'
                  AND ParameterName = '{row["SourceSystemCode"]}'
            """).first()
            if kind is not None and kind["ParameterType"] == "DELTA_DATE":
                monitor.advance_watermark(project_code, process_load, row["SourceSystemCode"],
                                          new_datetime_value=row["StartTime"])
                advanced = {"parameter": row["SourceSystemCode"], "value": row["StartTime"]}
        workarounds.append({
            "method": "end_task(status='DONE')",
            "error": str(error).splitlines()[0][:300],
            "execution_id": execution_id, "process_load": process_load, "task_id": task_id,
            "advanced": advanced,
        })
    return status


namespace = {
    "spark": spark, "monitor": monitor, "ETLMonitorFramework": ETLMonitorFramework,
    "complete_task": complete_task, "workarounds": workarounds, "result": None,
}
try:
    exec(compile(args["body"], "<peer snippet>", "exec"), namespace)
    with open(args["result_path"], "w", encoding="utf-8") as out:
        json.dump(namespace.get("result"), out, default=str)
finally:
    spark.stop()
'''


def run_peer(spark_or_url: Any, catalog: str, schema: str, body: str, timeout: float = 900) -> Any:
    """Run a Python snippet with the peer package in its own venv and process.

    The snippet has ``spark`` (a Spark Connect session on the same server), ``monitor`` (the
    peer's ``ETLMonitorFramework(spark, catalog, schema)``), ``complete_task`` (the peer's
    ``monitor.task`` clean exit, see the module docstring) and ``workarounds`` (what
    ``complete_task`` had to do) predefined, and may assign a JSON-serialisable ``result``.

    Args:
        spark_or_url: a Spark Connect session, or its ``sc://host:port`` URL.
        catalog: the catalog the peer's schema lives in.
        schema: the peer's schema.
        body: the snippet's source.
        timeout: seconds before the child is killed.

    Returns:
        The snippet's ``result`` after a JSON round trip (None when it set none).

    Raises:
        PeerPackageError: the child failed or timed out; the message holds its stderr.
    """
    url = spark_or_url if isinstance(spark_or_url, str) else connect_url(spark_or_url)
    python = peer_python()
    with tempfile.TemporaryDirectory(prefix="peer-run-") as work:
        runner, args_path = Path(work) / "runner.py", Path(work) / "args.json"
        result_path = Path(work) / "result.json"
        runner.write_text(_RUNNER, encoding="utf-8")
        args = {
            "url": url,
            "catalog": catalog,
            "schema": schema,
            "body": body,
            "result_path": str(result_path),
        }
        args_path.write_text(json.dumps(args), encoding="utf-8")
        path = os.pathsep.join(
            p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO))
        )
        env = {k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TZ") if k in os.environ}
        env.update(PATH=path, TMPDIR=work, PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
        try:
            done = subprocess.run(
                [str(python), "-I", str(runner), str(args_path)],
                capture_output=True,
                text=True,
                env=env,
                cwd=work,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as error:
            raise PeerPackageError(
                f"peer snippet timed out after {timeout:.0f}s; stderr:\n{_tail(error.stderr)}"
            ) from error
        if done.returncode != 0:
            raise PeerPackageError(
                f"peer snippet exited with {done.returncode}; stderr:\n{_tail(done.stderr)}"
            )
        return json.loads(result_path.read_text(encoding="utf-8"))


def _tail(text: str | bytes | None, limit: int = 12000) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return (text or "")[-limit:]


# -- the peer schema ----------------------------------------------------------------------

ORG, PROJECT = "CORP", "HR"
DAILY, MONTHLY, YEARLY = "HR_DAILY", "HR_MONTHLY", "HR_YEARLY"
DAY, MONTH_LATER, YEAR_DAY, YEAR_LATER = "2026-03-02", "2026-03-16", "2026-01-31", "2026-06-30"
FAILURE = "SFTP timeout - payroll_uk_20260302.csv not delivered"
PAYROLL_ID = 184467
#: (process, TaskID, WorkFlowID, SequenceID) -> FullFileName, InFilePath, OutFilePath
FILES = {
    (DAILY, 2, 1, 2): (
        "payroll_uk_20260302.csv",
        "abfss://raw@hrstore.dfs.core.windows.net/payroll/uk/",
        "abfss://curated@hrstore.dfs.core.windows.net/payroll/uk/",
    ),
    (MONTHLY, 1, 1, 2): (
        "gl_ledger_202603.csv",
        "abfss://raw@finstore.dfs.core.windows.net/ledger/",
        "abfss://curated@finstore.dfs.core.windows.net/ledger/",
    ),
    (YEARLY, 1, 1, 3): (
        "budget_plan_2026.xlsx",
        "abfss://raw@finstore.dfs.core.windows.net/budget/",
        None,
    ),
}

_BUILD = '''
p = plan
P, D, M, Y, day = p["project"], p["daily"], p["monthly"], p["yearly"], p["day"]
e1, e2 = p["executions"]["daily_failed"], p["executions"]["daily_retry"]
m1, m2 = p["executions"]["monthly"], p["executions"]["monthly_later"]
y1, y2 = p["executions"]["yearly"], p["executions"]["yearly_later"]
files = {tuple(k.split("|")): v for k, v in p["files"].items()}


def file_args(process, task):
    name, into, out = files[(process, str(task))]
    return {"file_name_mask": name.rsplit("_", 1)[0], "file_extension": "." + name.rsplit(".", 1)[1],
            "in_file_path": into, "out_file_path": out or ""}


monitor.setup()
(monitor
    .register_organisation(p["organisation"], "Corporate Group", "Group-level data platform")
    .register_project(P, "HR Data Platform", "People and payroll data", p["organisation"])
    .register_process(P, D, "HR Daily Load", "Daily HR loads", "HR Data Team", "D")
    .register_process(P, M, "HR Monthly Ledger", "Month-end ledger", "Finance Data Team", "M")
    .register_process(P, Y, "HR Yearly Budget", "Annual budget plan", "Finance Data Team", "Y")
    .register_task(P, D, task_id=0, workflow_id=0, sequence_id=0, task_name="Initiate HR daily",
                   source_type="DBX_NOTEBOOK")
    .register_task(P, D, task_id=1, workflow_id=1, sequence_id=1, task_name="Load reference data",
                   source_type="DBX_NOTEBOOK", source_identifier="/Workspace/etl/hr/load_reference",
                   source_system_code="LAST_LOAD_DT", task_description="Grades and departments")
    .register_task(P, D, task_id=2, workflow_id=1, sequence_id=2, task_name="Load payroll file",
                   source_type="ADF_PIPELINE", source_identifier="pl_hr_payroll_uk",
                   source_system_code="PAYROLL_ID", task_description="UK payroll extract",
                   **file_args(D, 2))
    .register_task(P, D, task_id=3, workflow_id=1, sequence_id=2, task_name="Load badge swipes",
                   source_type="DBX_JOB", source_identifier="812734", task_mandatory=False)
    .register_task(P, D, task_id=4, workflow_id=2, sequence_id=6, task_name="Build HR mart",
                   source_type="DBX_NOTEBOOK", source_identifier="/Workspace/etl/hr/build_mart")
    .register_task(P, M, task_id=0, workflow_id=0, sequence_id=0, task_name="Initiate ledger",
                   load_frequency="M")
    .register_task(P, M, task_id=1, workflow_id=1, sequence_id=2, task_name="Load GL ledger",
                   source_type="ADF_PIPELINE", source_identifier="pl_gl_ledger",
                   load_frequency="M", **file_args(M, 1))
    .register_task(P, Y, task_id=0, workflow_id=0, sequence_id=0, task_name="Initiate budget",
                   load_frequency="Y")
    .register_task(P, Y, task_id=1, workflow_id=1, sequence_id=3, task_name="Load budget plan",
                   source_type="DBX_NOTEBOOK", load_frequency="Y", task_mandatory=False,
                   **file_args(Y, 1))
    .register_parameter(P, D, "LAST_LOAD_DT", "DELTA_DATE", "Reference data watermark",
                        value_datetime=p["delta_date"])
    .register_parameter(P, D, "PAYROLL_ID", "DELTA_ID", "Last payroll record id", value_int=0)
    .register_parameter(P, D, "SEND_ALERTS", "FLAG", "Mail on failure", value_bit=True)
    .register_parameter(P, D, "SYSDT", "SYSTEM", "System date")
    .register_parameter(P, M, "SYSDT", "SYSTEM", "System date")
    .register_parameter(P, Y, "BUDGET_DT", "DELTA_DATE", "Budget watermark (bulk)"))

# Yearly: one run, all DONE; a later date in the same year queues nothing.
monitor.generate_execution_steps(y1, P, Y, p["year_day"])
complete_task(y1, P, Y, task_id=0, workflow_id=0, sequence_id=0, processing_date=p["year_day"])
complete_task(y1, P, Y, task_id=1, workflow_id=1, sequence_id=3, processing_date=p["year_day"],
              log_message="Budget plan loaded: 1,204 lines")
monitor.generate_execution_steps(y2, P, Y, p["year_later"])

# Daily, execution 1: the mandatory payroll load fails inside the peer's monitor.task().
monitor.generate_execution_steps(e1, P, D, day)
complete_task(e1, P, D, task_id=0, workflow_id=0, sequence_id=0, processing_date=day,
              log_message="Run initiated")
complete_task(e1, P, D, task_id=1, workflow_id=1, sequence_id=1, processing_date=day,
              log_message="Reference data loaded: 312 rows")
try:
    with monitor.task(e1, P, D, task_id=2, workflow_id=1, sequence_id=2, processing_date=day,
                      source_type="ADF_PIPELINE"):
        raise ConnectionError(p["failure"])
except ConnectionError:
    pass
else:
    raise AssertionError("the failing task did not raise")
complete_task(e1, P, D, task_id=3, workflow_id=1, sequence_id=2, processing_date=day,
              source_type="DBX_JOB", log_message="Badge swipes loaded: 9,120 rows")

# Daily, execution 2 (same date): the peer queues the initiation, payroll and mart tasks.
monitor.generate_execution_steps(e2, P, D, day)
complete_task(e2, P, D, task_id=0, workflow_id=0, sequence_id=0, processing_date=day,
              log_message="Retry run initiated")
complete_task(e2, P, D, task_id=2, workflow_id=1, sequence_id=2, processing_date=day,
              source_type="ADF_PIPELINE", log_message="Payroll loaded: 4,821 rows")
monitor.advance_watermark(P, D, "PAYROLL_ID", new_int_value=p["payroll_id"])
complete_task(e2, P, D, task_id=4, workflow_id=2, sequence_id=6, processing_date=day,
              log_message="HR mart refreshed")
monitor.set_processing_mode(P, D, is_historic_mode=True, processing_date=day)

# Monthly: one run, all DONE; a later date in the same month queues nothing.
monitor.generate_execution_steps(m1, P, M, day)
complete_task(m1, P, M, task_id=0, workflow_id=0, sequence_id=0, processing_date=day)
complete_task(m1, P, M, task_id=1, workflow_id=1, sequence_id=2, processing_date=day,
              source_type="ADF_PIPELINE", log_message="Ledger loaded: 58,002 rows")
monitor.generate_execution_steps(m2, P, M, p["month_later"])

# Run receipts: the peer has no API for ETLsysLogs.
spark.sql(f"""
    INSERT INTO {monitor._fqn("ETLsysLogs")}
    (ProcessingDate, ProjectCode, ProcessLoad, SourceType, RunID, ExecutionID, CorrelationID,
     PipelineName, ActivityName, OperationName, Level, LogTimeUTC, Message)
    VALUES
    (DATE'{day}', '{P}', '{D}', 'ADF', 'run-0001', '{e1}', 'corr-0001', 'pl_hr_daily',
     'Load payroll file', 'ActivityRun', 3, TIMESTAMP'{day} 06:15:00', '{p["syslogs"][0]}'),
    (DATE'{day}', '{P}', '{D}', 'ADF', 'run-0002', '{e2}', 'corr-0002', 'pl_hr_daily',
     'PipelineRun', 'PipelineRun', 1, TIMESTAMP'{day} 08:40:00', '{p["syslogs"][1]}')
""")

result = {"workarounds": workarounds}
'''


def build_peer_schema(spark: Any, catalog: str, schema: str) -> dict[str, Any]:
    """Create and fill a schema with the peer package's own code (see `_BUILD`).

    Daily, monthly ('M') and yearly ('Y') processes; a daily run whose mandatory payroll
    task fails inside ``monitor.task`` and its retry (new execution, same date); monthly and
    yearly runs all DONE and a later date in the same period that queues nothing; every
    parameter type; a DELTA_ID advance; historic mode; two ETLsysLogs rows by SQL.

    Args:
        spark: our Spark Connect session on the test engine (or its URL).
        catalog: the catalog (``spark_catalog`` on the Delta engine).
        schema: the schema to create; it should not exist yet.

    Returns:
        What was created: ``executions``, ``dates``, ``row_counts`` per table, ``steps``
        (every ETLProcessingSteps row's key and status), ``parameters``, ``syslogs``,
        ``workarounds`` (peer statements that could not run, and what was done instead)
        and ``seconds`` the build took.

    Raises:
        PeerPackageError: the peer code failed.
    """
    executions = {
        name: str(uuid.uuid4())
        for name in (
            "daily_failed",
            "daily_retry",
            "monthly",
            "monthly_later",
            "yearly",
            "yearly_later",
        )
    }
    syslogs = [
        '{"status": "Failed", "activity": "Load payroll file", "error": "SFTP timeout"}',
        '{"status": "Succeeded", "pipeline": "pl_hr_daily", "rows": 4821}',
    ]
    plan = {
        "organisation": ORG,
        "project": PROJECT,
        "daily": DAILY,
        "monthly": MONTHLY,
        "yearly": YEARLY,
        "day": DAY,
        "month_later": MONTH_LATER,
        "year_day": YEAR_DAY,
        "year_later": YEAR_LATER,
        "executions": executions,
        "failure": FAILURE,
        "payroll_id": PAYROLL_ID,
        "delta_date": "2026-03-01 00:00:00",
        "syslogs": syslogs,
        "files": {
            f"{process}|{task}": list(paths) for (process, task, _, _), paths in FILES.items()
        },
    }
    started = time.monotonic()
    out = run_peer(spark, catalog, schema, f"plan = {plan!r}\n{_BUILD}")
    seconds = time.monotonic() - started

    e1, e2 = executions["daily_failed"], executions["daily_retry"]
    m1, y1 = executions["monthly"], executions["yearly"]

    def step(execution, process, day, task, workflow, sequence, attempts, status):
        full, into, out_path = FILES.get((process, task, workflow, sequence), (None, None, None))
        return {
            "ExecutionID": execution,
            "ProcessLoad": process,
            "ProcessingDate": day,
            "TaskID": task,
            "WorkFlowID": workflow,
            "SequenceID": sequence,
            "Attempts": attempts,
            "Status": status,
            "FullFileName": full,
            "InFilePath": into,
            "OutFilePath": out_path,
        }

    steps = [
        # Execution 1: the initiation task was DONE, then reset to NQUE by the failure; the
        # stage-6 mart never started.
        step(e1, DAILY, DAY, 0, 0, 0, 0, "NQUE"),
        step(e1, DAILY, DAY, 1, 1, 1, 0, "DONE"),
        step(e1, DAILY, DAY, 2, 1, 2, 0, "FAIL"),
        step(e1, DAILY, DAY, 3, 1, 2, 0, "DONE"),
        step(e1, DAILY, DAY, 4, 2, 6, 0, "NQUE"),
        # Execution 2: only what was not DONE on that date, at Attempts=1.
        step(e2, DAILY, DAY, 0, 0, 0, 1, "DONE"),
        step(e2, DAILY, DAY, 2, 1, 2, 1, "DONE"),
        step(e2, DAILY, DAY, 4, 2, 6, 1, "DONE"),
        step(m1, MONTHLY, DAY, 0, 0, 0, 0, "DONE"),
        step(m1, MONTHLY, DAY, 1, 1, 2, 0, "DONE"),
        step(y1, YEARLY, YEAR_DAY, 0, 0, 0, 0, "DONE"),
        step(y1, YEARLY, YEAR_DAY, 1, 1, 3, 0, "DONE"),
    ]
    delta_date = next(
        (w["advanced"]["value"] for w in out["workarounds"] if w.get("advanced")),
        plan["delta_date"],
    )
    parameters = [
        {"ProcessLoad": DAILY, "ParameterName": "LAST_LOAD_DT", "ParameterType": "DELTA_DATE",
         "ValueDateTime": delta_date, "ValueINT": None, "ValueBIT": None},
        {"ProcessLoad": DAILY, "ParameterName": "PAYROLL_ID", "ParameterType": "DELTA_ID",
         "ValueDateTime": None, "ValueINT": PAYROLL_ID, "ValueBIT": None},
        {"ProcessLoad": DAILY, "ParameterName": "SEND_ALERTS", "ParameterType": "FLAG",
         "ValueDateTime": None, "ValueINT": None, "ValueBIT": True},
        {"ProcessLoad": DAILY, "ParameterName": "SYSDT", "ParameterType": "SYSTEM",
         "ValueDateTime": f"{DAY} 00:00:00", "ValueINT": None, "ValueBIT": None},
        {"ProcessLoad": MONTHLY, "ParameterName": "SYSDT", "ParameterType": "SYSTEM",
         "ValueDateTime": None, "ValueINT": None, "ValueBIT": None},
        {"ProcessLoad": YEARLY, "ParameterName": "BUDGET_DT", "ParameterType": "DELTA_DATE",
         "ValueDateTime": None, "ValueINT": None, "ValueBIT": None},
    ]  # fmt: skip
    return {
        "catalog": catalog,
        "schema": schema,
        "organisation": ORG,
        "project": PROJECT,
        "processes": {DAILY: "D", MONTHLY: "M", YEARLY: "Y"},
        "dates": {
            "daily": DAY,
            "monthly": DAY,
            "monthly_later": MONTH_LATER,
            "yearly": YEAR_DAY,
            "yearly_later": YEAR_LATER,
            "historic": DAY,
        },
        "executions": executions,
        "failure": FAILURE,
        "row_counts": {
            "ETLOrganisation": 1,
            "ETLconfigProject": 1,
            "ETLconfigSequence": 7,
            "ETLconfigProcess": 3,
            "ETLconfigTasks": 9,
            "ETLconfigParameters": len(parameters),
            "ETLProcessingSteps": len(steps),
            "ETLsysLogs": len(syslogs),
        },
        "steps": steps,
        "parameters": parameters,
        "syslogs": syslogs,
        "workarounds": out["workarounds"],
        "seconds": round(seconds, 1),
    }


# -- history for the migration benchmark ----------------------------------------------------

_SUFFIX = {"D": "%Y%m%d", "M": "%Y%m", "Y": "%Y"}


def _period(frequency: str | None, day: date) -> tuple:
    """The span in which one DONE keeps the peer from queuing a task again."""
    return {"M": (day.year, day.month), "Y": (day.year,)}.get(frequency or "", (day,))


class _History:
    """Runs simulated the way the peer writes them (generate, start, end, reset on FAIL)."""

    def __init__(self, catalogue: dict, seed: int) -> None:
        self.catalogue, self.rng = catalogue, random.Random(seed)
        self.done: set[tuple] = set()  # (process, task key, period) with a DONE row
        self.attempts: dict[tuple, int] = {}  # (process, date) -> highest Attempts

    def queue(self, project: str, process: str, day: date) -> list[dict]:
        return [
            t
            for t in self.catalogue[(project, process)]
            if (process, t["key"], _period(t["LoadFrequency"], day)) not in self.done
        ]

    def execution(
        self, project: str, process: str, day: date, tasks: list[dict], at: datetime, *,
        clean: bool = False,
    ) -> tuple[list[dict], bool]:  # fmt: skip
        rng = self.rng
        attempts = self.attempts.get((process, day), -1) + 1
        self.attempts[(process, day)] = attempts
        execution = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        rows, blocked, failed, clock = [], None, False, at + timedelta(seconds=rng.randint(5, 40))
        for t in tasks:
            frequency = t["LoadFrequency"]
            full = None
            if t["FileNameMask"] and frequency in _SUFFIX:
                full = f"{t['FileNameMask']}_{day.strftime(_SUFFIX[frequency])}"
                full += t["FileExtension"] or ""
            row = {
                "ProcessingDate": day, "ProjectCode": project, "ProcessLoad": process,
                "ExecutionID": execution, "WorkFlowID": t["WorkFlowID"], "TaskID": t["TaskID"],
                "SequenceID": t["SequenceID"], "Attempts": attempts, "Status": "NQUE",
                "TaskName": t["TaskName"], "SequenceCode": t["SequenceCode"],
                "TaskMandatory": t["TaskMandatory"], "SourceSystemCode": t["SourceSystemCode"],
                "FullFileName": full, "InFilePath": t["InFilePath"] or None,
                "OutFilePath": t["OutFilePath"] or None, "ForceSkip": False, "StartTime": at,
                "EndTime": None, "DurationSeconds": None, "LogMessage": None, "LogType": None,
                "LogCode": None, "SourceType": None, "SourceRunID": None, "ClusterID": None,
                "LastUpdatedOn": at, "LastUpdatedBy": "svc-etl@corp.example.com",
            }  # fmt: skip
            initiation = t["WorkFlowID"] == 0 and t["SequenceID"] == 0
            stage = (t["WorkFlowID"], t["SequenceID"])
            if blocked is not None and stage > blocked:
                rows.append(row)  # a mandatory task of an earlier stage failed: never started
                continue
            if not (clean or initiation or t["TaskMandatory"]) and rng.random() < 0.02:
                row["ForceSkip"] = True  # skipped for this run only: stays NQUE
                rows.append(row)
                continue
            fail = not (clean or initiation) and rng.random() < (
                0.06 if t["TaskMandatory"] else 0.08
            )
            duration = rng.randint(3, 30) if initiation else rng.randint(20, 1500)
            source = t["SourceType"] or "DBX_NOTEBOOK"
            row.update(
                Status="FAIL" if fail else "DONE",
                StartTime=clock,
                EndTime=clock + timedelta(seconds=duration),
                DurationSeconds=duration,
                SourceType=source,
                SourceRunID=str(uuid.UUID(int=rng.getrandbits(128), version=4))
                if source == "ADF_PIPELINE"
                else f"{rng.randint(10**14, 10**15 - 1)}",
                ClusterID=None if source == "ADF_PIPELINE" else "0412-081513-hr7kq2lm",
                LastUpdatedOn=clock + timedelta(seconds=duration),
            )
            if fail:
                row.update(
                    LogMessage=rng.choice(
                        (
                            "Source system unavailable: connection timeout after 300s",
                            f"File {full or 'extract'} not delivered",
                            "Row count check failed: 0 rows staged",
                        )
                    ),
                    LogType="ERROR",
                )
                failed = True
                if t["TaskMandatory"]:
                    blocked = stage if blocked is None else min(blocked, stage)
            elif initiation:
                row["LogMessage"] = "Run initiated" if attempts == 0 else "Retry run initiated"
            elif rng.random() < 0.5:
                row["LogMessage"] = f"Loaded {rng.randint(10, 90000):,} rows"
            clock += timedelta(seconds=duration + rng.randint(1, 20))
            rows.append(row)
        for row in rows:
            if failed and row["WorkFlowID"] == 0 and row["SequenceID"] == 0:
                row.update(Status="NQUE", EndTime=clock, LastUpdatedOn=clock)  # peer's reset
            if row["Status"] == "DONE":
                key = (row["WorkFlowID"], row["TaskID"], row["SequenceID"])
                frequency = next(t for t in tasks if t["key"] == key)["LoadFrequency"]
                self.done.add((process, key, _period(frequency, day)))
        return rows, failed


def insert_peer_history(spark: Any, catalog: str, schema: str, step_rows: int) -> dict[str, Any]:
    """Bulk-insert `step_rows` realistic rows into the peer's ETLProcessingSteps.

    Runs of every active process of a schema `build_peer_schema` built, day by day up to
    `HISTORY_END`: daily runs with failures (a mandatory failure blocks later stages and
    resets the initiation task to NQUE) retried on the same date at Attempts+1; monthly and
    yearly processes queued on the first days of their period until DONE. The newest
    execution keeps only its first tasks (as if the others were inactive that day) so the
    count is exact. One DataFrame append, one Delta commit.

    Args:
        spark: a Spark Connect session on the engine holding the peer schema.
        catalog: the peer schema's catalog.
        schema: the peer schema.
        step_rows: how many rows to insert.

    Returns:
        ``rows``, ``executions``, ``first_date``, ``last_date`` and ``seconds``.

    Raises:
        ValueError: no active daily process, or `step_rows` < 1.
    """
    if step_rows < 1:
        raise ValueError("step_rows must be at least 1")
    started = time.monotonic()

    def fqn(name: str) -> str:
        return f"`{catalog}`.`{schema}`.`{name}`"

    catalogue: dict[tuple, list[dict]] = {}
    frequencies: dict[tuple, str] = {}
    for r in spark.sql(f"""
        SELECT t.*, s.SequenceCode, p.LoadFrequency AS ProcessFrequency
        FROM {fqn("ETLconfigTasks")} t
        JOIN {fqn("ETLconfigProcess")} p
          ON p.ProjectCode = t.ProjectCode AND p.ProcessLoad = t.ProcessLoad
        LEFT JOIN {fqn("ETLconfigSequence")} s ON s.SequenceID = t.SequenceID
        WHERE t.IsActive AND p.IsActive
        ORDER BY t.ProjectCode, t.ProcessLoad, t.WorkFlowID, t.SequenceID, t.TaskID
    """).collect():
        task = r.asDict()
        task["key"] = (task["WorkFlowID"], task["TaskID"], task["SequenceID"])
        catalogue.setdefault((task["ProjectCode"], task["ProcessLoad"]), []).append(task)
        frequencies[(task["ProjectCode"], task["ProcessLoad"])] = task["ProcessFrequency"]
    smallest = min(
        (len(tasks) for key, tasks in catalogue.items() if frequencies[key] != "M"
         and frequencies[key] != "Y"),
        default=0,
    )  # fmt: skip
    if not smallest:
        raise ValueError(f"{catalog}.{schema} has no active daily process with tasks")

    history = _History(catalogue, seed=step_rows)
    rng, rows, executions = history.rng, [], 0
    day = HISTORY_END - timedelta(days=step_rows // smallest + 1)
    while len(rows) < step_rows:
        for (project, process), frequency in sorted(frequencies.items()):
            if {"M": day.day, "Y": day.timetuple().tm_yday}.get(frequency, 1) > 3:
                continue  # monthly and yearly processes are queued on their period's first days
            at = datetime(day.year, day.month, day.day, 5, tzinfo=timezone.utc)
            at += timedelta(minutes=rng.randint(0, 90))
            for retry in range(3 if frequency not in ("M", "Y") else 1):
                tasks = history.queue(project, process, day)
                if not tasks or len(rows) >= step_rows:
                    break
                room = step_rows - len(rows)
                clean = len(tasks) > room
                new, failed = history.execution(
                    project, process, day, tasks[:room], at + timedelta(hours=2 * retry),
                    clean=clean,
                )  # fmt: skip
                rows += new
                executions += 1
                if not failed or rng.random() < 0.15:  # some failed dates are left as they are
                    break
        day += timedelta(days=1)

    table = fqn("ETLProcessingSteps")
    layout = spark.table(table).schema
    data = [tuple(r[name] for name in layout.fieldNames()) for r in rows]
    spark.createDataFrame(data, schema=layout).writeTo(table).append()
    return {
        "rows": len(rows),
        "executions": executions,
        "first_date": str(min(r["ProcessingDate"] for r in rows)),
        "last_date": str(max(r["ProcessingDate"] for r in rows)),
        "seconds": round(time.monotonic() - started, 1),
    }


def clone_peer_schema(spark: Any, catalog: str, source: str, target: str) -> None:
    """Copy the peer's eight tables into a new schema (Delta shallow clones: same columns,
    constraints and rows, no data copied), so a test can convert the copy.

    Args:
        spark: our session on the Delta engine.
        catalog: the catalog of both schemas.
        source: the peer's schema.
        target: the schema to create.
    """
    spark.sql(f"CREATE SCHEMA `{catalog}`.`{target}`")
    for table in PEER_TABLES:
        spark.sql(
            f"CREATE TABLE `{catalog}`.`{target}`.`{table}` "
            f"SHALLOW CLONE `{catalog}`.`{source}`.`{table}`"
        )


def peer_notebooks() -> Path:
    """The folder of the peer package's sample notebooks, as its wheel installed them."""
    python = peer_python()
    found = sorted(python.parent.parent.glob("lib/python*/site-packages/etl_monitor/sample_usage"))
    if not found:
        raise PeerPackageError(f"no sample_usage folder in {python.parent.parent}")
    return found[0]
