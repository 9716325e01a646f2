# pyright: strict
"""Every public call of the framework, as a notebook or a job writes it; type-checked, never run.

`tests/unit/test_typed_api.py` runs pyright over this file (strict) with the package: a
call whose argument name, order or type the public API no longer accepts, or a result
used as a type it no longer has, fails the suite. The argument order is
databricks-etl-monitor 1.0's: positional where 1.0 took it positionally, by name where
the API makes it keyword-only. Nothing here runs: the functions only take a session.

The framework is always ``monitor`` and the monitoring submodule ``mon``: the test checks
that every public member of each is named on them here.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from etl_monitor import ETLMonitorFramework
from etl_monitor.monitoring import (
    ApplyReport,
    CoverageReport,
    ImpactReport,
    MonitoringFramework,
    MonitoringPolicy,
    TableOutcome,
)

PROJECT, PROCESS = "CORP", "HR_DAILY"
DAY = date(2026, 4, 9)


def framework(spark: Any) -> ETLMonitorFramework:
    """Construction, the attributes set in ``__init__``, and setup."""
    monitor = ETLMonitorFramework(spark, "main", "etl", user="etl-bot", stale_after_minutes=240)
    monitor = ETLMonitorFramework(spark, catalog="main", schema="etl")
    _spark: Any = monitor.spark
    _names: tuple[str, str, str] = (monitor.catalog, monitor.schema, monitor.etl_schema)
    _engine_name: str = monitor.engine.name
    _context: object = monitor.context
    _repr: str = repr(monitor)
    _table: str = monitor.table_name("ETLProcessingSteps")

    report = monitor.setup()
    _created: list[str] = report.tables_created
    monitor.setup(False)
    monitor.seed_sequence_data()
    monitor.guide()
    return monitor


def register(monitor: ETLMonitorFramework) -> None:
    """The catalogue: organisations, projects, processes, stages, tasks, parameters."""
    (
        monitor.register_organisation("ACME", "Acme Ltd", "The group", is_active=True)
        .register_project("CORP", "Corporate", "Corporate data", "ACME", owner="data-team")
        .register_process(
            PROJECT,
            PROCESS,
            "HR daily load",
            "Employees and payroll",
            "hr-team",
            "D",
            monitor_group="hr",
            runbook_url="https://wiki.example.com/hr-daily",
            lineage_url="https://lineage.example.com/hr-daily",
            freshness_minutes=1440,
        )
        .register_sequence(10, "ARCHIVE", "Archive the raw files", sequence_name="Archive")
    )
    monitor.register_task(PROJECT, PROCESS, 0, 0, 0, "Initiation")
    monitor.register_task(
        PROJECT,
        PROCESS,
        1,
        1,
        2,
        "Load employees",
        "DBX_NOTEBOOK",
        "/Workspace/etl/load_employees",
        "HRIS",
        "Employees from the HR system",
        "D",
        True,
        "employees_{yyyyMMdd}",
        ".csv",
        "/Volumes/main/raw/hr",
        "/Volumes/main/bronze/hr",
        is_active=True,
        sla_minutes=60,
    )
    monitor.deactivate_task(PROJECT, PROCESS, 1, 1)
    monitor.activate_task(PROJECT, PROCESS, 1, 1)
    monitor.reactivate_task(PROJECT, PROCESS, task_id=1, workflow_id=1)
    monitor.register_parameter(
        PROJECT, PROCESS, "HRIS", "DELTA_DATE", "Last HR extract", datetime(2026, 1, 1)
    )
    monitor.register_parameter(PROJECT, PROCESS, "HR_ROW_ID", "DELTA_ID", value_int=0)
    monitor.register_parameter(PROJECT, PROCESS, "HR_FULL_LOAD", "FLAG", None, None, None, False)


def run(monitor: ETLMonitorFramework) -> None:
    """One execution: the queue, the task lifecycle, skips and resets."""
    execution_id: str = ETLMonitorFramework.generate_execution_id()
    execution_id = monitor.generate_execution_id()
    _queued: int = monitor.generate_execution_steps(execution_id, PROJECT, PROCESS, DAY)
    _pending: Any = monitor.get_pending_tasks(execution_id, PROJECT, PROCESS, DAY, 2, 1, 1)
    _status: str = monitor.task_status(execution_id, PROJECT, PROCESS, DAY, 1, 2, 1)

    with monitor.task(execution_id, PROJECT, PROCESS, 1, 2, 1, DAY, attempts=0) as t:
        if t.active:
            _step: str | None = t.status

    started = monitor.start_task(
        execution_id, PROJECT, PROCESS, 2, 2, 1, DAY, 0, "DBX_JOB", "run-42", log_message="go"
    )
    _active: bool = started.active
    _done: str = monitor.end_task(
        execution_id,
        PROJECT,
        PROCESS,
        2,
        workflow_id=1,
        log_message="loaded 10 rows",
        log_type="INFO",
        source_run_id="run-42",
    )
    _failed: str = monitor.fail_task(
        execution_id,
        PROJECT,
        PROCESS,
        3,
        2,
        1,
        DAY,
        None,
        "file missing",
        "E404",
        datetime(2026, 4, 9, 6, 0, tzinfo=timezone.utc),
        log_type="ERROR",
    )
    monitor.skip_task(execution_id, PROJECT, PROCESS, 4, 1, reason="not needed today")
    monitor.unskip_task(execution_id, PROJECT, PROCESS, 4, 1, 2, DAY)
    _requeued: int = monitor.status_reset(PROJECT, PROCESS, DAY, execution_id, force=True)


def watermarks(monitor: ETLMonitorFramework, execution_id: str) -> None:
    """Watermarks, flags and processing modes."""
    _moved: bool = monitor.advance_watermark(PROJECT, PROCESS, "HRIS", datetime(2026, 4, 9))
    _moved = monitor.advance_watermark(PROJECT, PROCESS, "HR_ROW_ID", None, 1000, execution_id)
    _value: Any = monitor.get_active_watermark(PROJECT, PROCESS, "HRIS")
    monitor.set_flag(PROJECT, PROCESS, "HR_FULL_LOAD", True)
    _history: list[dict[str, Any]] = monitor.watermark_history(PROJECT, PROCESS, "HRIS")
    _restored: Any = monitor.restore_watermark(PROJECT, PROCESS, "HRIS", execution_id)
    _changed: int = monitor.set_processing_mode(PROJECT, PROCESS, False, True, DAY)
    _changed = monitor.set_processing_mode(PROJECT, PROCESS, historic_date=DAY)
    _changed = monitor.set_processing_mode(PROJECT, PROCESS)


def report(monitor: ETLMonitorFramework, execution_id: str) -> None:
    """Status, stale runs, receipts, maintenance and the job runs view."""
    _detail: Any = monitor.get_status(PROJECT, PROCESS, DAY)
    _summary: Any = monitor.get_status(
        PROJECT, PROCESS, execution_id=execution_id, summary_mode=True
    )
    _stale: list[dict[str, Any]] = monitor.stale_tasks(PROJECT, PROCESS, 120)
    _receipt: str = monitor.log_receipt(
        "ADF_PIPELINE",
        '{"runId": "42"}',
        execution_id=execution_id,
        project_code=PROJECT,
        process_load=PROCESS,
        status="Succeeded",
        processing_date=DAY,
    )
    maintenance = monitor.maintain(400, vacuum=False)
    _archived: int = maintenance.archived_events
    _view: str = monitor.create_job_runs_view("system.lakeflow")


def integrations(monitor: ETLMonitorFramework, workspace_client: Any) -> None:
    """Notebooks, jobs, the dashboard and the alerts in a Databricks workspace."""
    _folder: str = monitor.sample_usage(None, "etl_monitor_sample_usage")
    _folder = monitor.sample_usage(workspace_client=workspace_client)
    _jobs: list[Any] = monitor.job_definitions("/Workspace/Shared/etl_monitor", PROJECT, PROCESS)
    _published: Any = monitor.publish_jobs(workspace_client, None, PROJECT, name_prefix="etl ")
    _dashboard: str = monitor.publish_dashboard(
        workspace_client, "wh1234", "/Shared/etl_monitor", "ETL Monitor", False
    )
    _alerts: Any = monitor.publish_alerts(
        workspace_client,
        "wh1234",
        "/Shared/etl_monitor/alerts",
        "0 0/15 * * * ?",
        "UTC",
        dry_run=True,
    )


def monitoring(monitor: ETLMonitorFramework, workspace_client: Any) -> None:
    """The data profiling submodule `monitoring()` returns."""
    mon: MonitoringFramework = monitor.monitoring(workspace_client, parallelism=4)
    mon = MonitoringFramework(
        monitor.spark,
        "main",
        "etl",
        workspace_client,
        policy=MonitoringPolicy(require_owner=True),
        parallelism=4,
    )
    _client: Any = mon.workspace_client
    _api: Any = mon.api
    _context: object = mon.context
    _name: str = mon.table_name("ETLmonitorTables")
    _setup: list[str] = mon.setup().tables_created
    mon.register_group("hr", ["hr-team@example.com"], 0.1, "hr-team", "HR tables", True)
    mon.register_table("main.hr.employees", profile_type="SNAPSHOT", monitor_group="hr")
    _count: int = mon.register_tables([{"table_name": "main.hr.payroll", "monitor_group": "hr"}])
    _imported: list[str] = mon.import_yaml("monitors.yml")
    plan: ImpactReport = mon.plan(delete_inactive=False)
    _outcomes: list[TableOutcome] = plan.outcomes

    def progress(outcome: TableOutcome) -> None:
        print(outcome.table_name, outcome.action)

    applied: ApplyReport = mon.apply(refresh=True, wait=True, timeout=600, progress=progress)
    _created: int = applied.monitors_created
    _state: dict[str, dict[str, Any]] = mon.state()
    _views: dict[str, str] = mon.create_unified_views().drift_views
    coverage: CoverageReport = mon.coverage(["main.hr"], stale_days=7)
    _unmonitored: list[str] = coverage.unmonitored
