"""`ETLMonitorFramework`: the one entry point users see. It binds arguments and delegates.

Each public call's signature is its argument model (`core.arguments`, `tracking.watermarks`,
`tracking.reporting`): ``@takes(Model)`` shows the model's fields as the method's parameters,
validates a call into one model instance and hands it to the module function. The
positional order and the argument names are those of databricks-etl-monitor 1.0, so its
notebooks run unchanged; earlier names of this library's arguments are still accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool

from etl_monitor import alerts
from etl_monitor.core.arguments import (
    Code,
    EndArgs,
    FailArgs,
    GenerateArgs,
    OrganisationArgs,
    ParameterArgs,
    PendingArgs,
    ProcessArgs,
    ProjectArgs,
    ResetArgs,
    SequenceArgs,
    SessionArgs,
    SkipArgs,
    StartArgs,
    StatusArgs,
    TaskArgs,
    TaskCallArgs,
    TaskKeyArgs,
    TaskStatusArgs,
    UnskipArgs,
    check_line,
    check_value,
    validate,
)
from etl_monitor.core.context import Context
from etl_monitor.core.setup import SetupReport
from etl_monitor.core.signatures import takes
from etl_monitor.engine.capabilities import Engine, detect_engine
from etl_monitor.engine.executor import RetryPolicy, SqlExecutor, check_identifier
from etl_monitor.integrations import guide as usage_guide
from etl_monitor.jobs import runs as job_runs
from etl_monitor.monitoring import MonitoringFramework
from etl_monitor.tracking import lifecycle, maintenance, registry, reporting, watermarks
from etl_monitor.tracking import queue as steps
from etl_monitor.tracking.lifecycle import TaskContext, TaskRun
from etl_monitor.tracking.maintenance import MaintainArgs, MaintenanceReport
from etl_monitor.tracking.reporting import ReceiptArgs, StaleArgs
from etl_monitor.tracking.setup import run_setup, seed_sequences
from etl_monitor.tracking.watermarks import (
    AdvanceArgs,
    FlagArgs,
    ModeArgs,
    ParameterKey,
    RestoreArgs,
)


class ETLMonitorFramework:
    """ETL run tracking in one Unity Catalog schema.

    Args:
        spark: the SparkSession (a Databricks notebook's ``spark``, Databricks Connect, or
            ``etl_monitor.local.spark_session()``).
        catalog: the Unity Catalog catalog; ``""`` means the session's current catalog.
        schema: the schema that holds the tables and views.
        engine: the engine's capabilities (detected when None).
        user: who the audit columns name (default: ``current_user()``).
        retry: how transient commit conflicts are retried.
        stale_after_minutes: when a RUNNING step counts as stale.

    Example:
        >>> monitor = ETLMonitorFramework(spark, catalog="main", schema="etl")  # doctest: +SKIP
        >>> monitor.setup()            # idempotent: tables, views, the seven stages  # doctest: +SKIP
    """

    def __init__(
        self,
        spark: Any,
        catalog: str = "main",
        schema: str = "etl",
        *,
        engine: Engine | None = None,
        user: str | None = None,
        retry: RetryPolicy | None = None,
        stale_after_minutes: int = 720,
    ):
        if catalog == "":  # databricks-etl-monitor's "no catalog": the session's own
            catalog = str(spark.catalog.currentCatalog())
        check_identifier(catalog, "catalog", allow_dash=True)
        check_identifier(schema, "schema", allow_dash=True)
        validate(
            SessionArgs,
            "ETLMonitorFramework",
            user=user,
            stale_after_minutes=stale_after_minutes,
        )
        self.spark = spark
        self.catalog = catalog
        self.schema = schema
        self.etl_schema = schema  # databricks-etl-monitor's attribute name
        self.engine = engine or detect_engine(spark)
        self.executor = SqlExecutor(spark, retry, self.engine)
        self._ctx = Context(
            spark,
            catalog,
            schema,
            self.engine,
            self.executor,
            user_override=user,
            stale_after_minutes=stale_after_minutes,
        )

    @property
    def context(self) -> Context:
        """What the features below the facade take: the names, the executor, the engine, the user."""
        return self._ctx

    def __repr__(self) -> str:
        return f"ETLMonitorFramework(catalog={self.catalog!r}, schema={self.schema!r}, engine={self.engine.name!r})"

    def table_name(self, name: str) -> str:
        """Back-quoted three-part name of one of the framework's tables or views."""
        return self._ctx.name(check_identifier(name, "table"))

    def monitoring(self, workspace_client: Any = None, **options: Any) -> MonitoringFramework:
        """The data profiling submodule on the same catalog and schema (see etl_monitor.monitoring)."""
        shared = {
            "engine": self.engine,
            "user": self._ctx.user_override,
            "retry": self.executor.retry,
            **options,
        }
        return MonitoringFramework(
            self.spark, self.catalog, self.schema, workspace_client, **shared
        )

    def sample_usage(
        self, spark: Any = None, target: str | None = None, *, workspace_client: Any = None
    ) -> str:
        """Copy the sample notebooks where you work; returns the folder.

        Args:
            spark: the SparkSession, as databricks-etl-monitor took it: the notebooks go to
                ``/Workspace/Users/<you>/etl_monitor/sample_usage`` through the workspace
                file system when there is one (a Databricks notebook), else to `target`.
                A folder path or a ``WorkspaceClient`` is accepted here too.
            target: the folder (default ``./etl_monitor_sample_usage``, or the workspace
                folder above).
            workspace_client: import through databricks-sdk instead (from a laptop or CI).

        Returns:
            The folder the notebooks are in.
        """
        from etl_monitor.integrations.samples import (
            copy_to_folder,
            copy_to_workspace,
            workspace_folder,
        )

        for argument, value in (("spark", spark), ("target", target)):
            if isinstance(value, str) or (argument == "target" and value is not None):
                check_line(value, "sample_usage", argument)
        if workspace_client is None and hasattr(spark, "workspace"):
            workspace_client = spark  # a WorkspaceClient passed positionally
        if workspace_client is not None:
            return copy_to_workspace(workspace_client, target)
        if isinstance(spark, str):
            return copy_to_folder(spark)
        if spark is not None and target is None:
            target = workspace_folder(self._ctx.user)
        return copy_to_folder(target or "etl_monitor_sample_usage")

    def job_definitions(
        self,
        notebook_folder: str,
        project_code: str | None = None,
        process_load: str | None = None,
        **options: Any,
    ) -> list[Any]:
        """One Databricks job per active process (Jobs API 2.2 settings), from the catalogue.

        Args:
            notebook_folder: the workspace folder of the shipped notebooks (where
                ``sample_usage()`` put them).
            project_code: only this project's processes.
            process_load: only this process.
            **options: the rest of `etl_monitor.jobs.JobOptions` (name_prefix,
                existing_cluster_id, job_cluster, leave_out_unsupported, queue); the job
                parameters default to this framework's catalog and schema.

        Returns:
            `RenderedJob` items: ``.settings`` (JSON), ``.bundle_yaml()``, ``.left_out``.

        Raises:
            InvalidArgumentError: a process cannot run as a job (ADF or dataflow tasks
                unless left out, a notebook task without an absolute path, no initiation task).
            NotFoundError: nothing active matches the filter.
        """
        from etl_monitor import jobs

        _check_process_filter("job_definitions", project_code, process_load)
        settings = {"catalog": self.catalog, "schema": self.schema, **options}
        return jobs.definitions(
            self._ctx, jobs.JobOptions(notebook_folder, **settings), project_code, process_load
        )

    def publish_jobs(
        self,
        workspace_client: Any,
        notebook_folder: str | None = None,
        project_code: str | None = None,
        process_load: str | None = None,
        **options: Any,
    ) -> Any:
        """Create or update the processes' jobs by name; an unchanged job is not written.

        Args:
            workspace_client: a databricks-sdk ``WorkspaceClient``.
            notebook_folder: the shipped notebooks' folder (default: the current user's
                ``/Workspace/Users/<user>/etl_monitor/sample_usage``).
            project_code: only this project's processes.
            process_load: only this process.
            **options: see `job_definitions`.

        Returns:
            A `PublishReport`: per job created / updated / unchanged and its id, and the
            SDK calls made (all and mutating).

        Raises:
            ValidationFailedError: several workspace jobs share a name; nothing was written.
            InvalidArgumentError: a process cannot run as a job (see `job_definitions`).
        """
        from etl_monitor.integrations.samples import user_folder
        from etl_monitor.jobs.publish import publish

        _check_process_filter("publish_jobs", project_code, process_load)
        if notebook_folder is None:
            notebook_folder = user_folder(workspace_client.current_user.me().user_name)
        jobs = self.job_definitions(notebook_folder, project_code, process_load, **options)
        return publish(workspace_client, jobs)

    def guide(self) -> None:
        """Print a step-by-step usage guide (setup, registration, runs, watermarks, views)."""
        print(usage_guide.text(self.catalog, self.schema))

    def publish_dashboard(
        self,
        workspace_client: Any,
        warehouse_id: str,
        parent_path: str = "/Shared/etl_monitor",
        display_name: str = "ETL Monitor",
        embed_credentials: bool = False,
    ) -> str:
        """Create or update, then publish, the Lakeview dashboard over this schema's views; returns its id.

        The drift-alerts page is included once its view exists (after
        ``monitoring().create_unified_views()``); publishing an unchanged dashboard writes
        nothing (see `etl_monitor.integrations.dashboards.publish`).
        """
        from etl_monitor.core.setup import existing_objects
        from etl_monitor.integrations.dashboards import check_arguments, optional_views_in, publish

        check_arguments(warehouse_id, parent_path, display_name)
        check_value(StrictBool, "publish_dashboard", "embed_credentials", embed_credentials)
        return publish(
            workspace_client,
            self.catalog,
            self.schema,
            warehouse_id,
            parent_path,
            display_name,
            embed_credentials,
            optional_views=optional_views_in(existing_objects(self._ctx)),
        )

    def publish_alerts(
        self,
        workspace_client: Any,
        warehouse_id: str,
        parent_path: str = "/Shared/etl_monitor/alerts",
        schedule: str = "0 0/15 * * * ?",
        timezone: str = "UTC",
        *,
        dry_run: bool = False,
    ) -> Any:
        """Create or update the Databricks SQL alerts that page each process's owner and group.

        One alert per active process over ``v_alerts`` (failures, mandatory blockers, SLA
        breaches, stale runs, freshness), one drift alert per monitoring group once
        ``v_monitor_drift_alerts`` exists, and one e-mail notification destination per
        group with addresses; a re-run with nothing changed makes no mutating call (see
        `etl_monitor.alerts`).

        Args:
            workspace_client: a ``databricks.sdk.WorkspaceClient``.
            warehouse_id: the SQL warehouse that runs the alert queries.
            parent_path: the workspace folder of the alerts (created when missing).
            schedule: quartz cron expression of the evaluations (default every 15 minutes).
            timezone: time zone id of the schedule.
            dry_run: only read, and report what would be created or updated.

        Returns:
            An ``AlertsReport``: each action with its reason and update mask, processes
            that notify nobody, and the calls made.

        Raises:
            InvalidArgumentError: a bad or unknown warehouse id, parent path, schedule or
                time zone; nothing was written.
        """
        alerts.check_settings(warehouse_id, parent_path, schedule, timezone)
        check_value(StrictBool, "publish_alerts", "dry_run", dry_run)
        targets = alerts.read_targets(self._ctx)
        return alerts.publish(
            workspace_client,
            targets,
            warehouse_id,
            parent_path,
            schedule,
            timezone,
            dry_run=dry_run,
        )

    # -- setup ---------------------------------------------------------------------------
    def setup(self, seed_data: bool = True) -> SetupReport:
        """Create or upgrade the schema, tables and views, and seed the seven stages.

        Safe to call on every job start: a second call changes no row. An older schema
        of this library gains the new columns (values copied from their earlier names).

        Args:
            seed_data: seed the seven framework stages (0-6) where they are missing.

        Returns:
            What was created, upgraded and seeded, with the statements it took.

        Raises:
            CatalogNotFoundError: the catalog does not exist; nothing was written.
        """
        check_value(StrictBool, "setup", "seed_data", seed_data)
        return run_setup(self._ctx, seed=seed_data)

    def seed_sequence_data(self) -> None:
        """Insert the seven framework stages (0-6) where missing; edited and custom stages stay."""
        seed_sequences(self._ctx, table_is_new=False, report=SetupReport(self.catalog, self.schema))

    # -- registry: each returns the framework, so calls chain ------------------------------
    @takes(OrganisationArgs)
    def register_organisation(self, a: OrganisationArgs) -> ETLMonitorFramework:
        """Add or update an organisation (ETLOrganisation)."""
        registry.register_organisation(self._ctx, a)
        return self

    @takes(ProjectArgs)
    def register_project(self, a: ProjectArgs) -> ETLMonitorFramework:
        """Add or update a project (ETLconfigProject)."""
        registry.register_project(self._ctx, a)
        return self

    @takes(ProcessArgs)
    def register_process(self, a: ProcessArgs) -> ETLMonitorFramework:
        """Add or update a domain process, one ProjectCode / ProcessLoad pair (ETLconfigProcess).

        load_frequency: D daily, W weekly (ISO week), M monthly, Y yearly, A ad hoc.
        """
        registry.register_process(self._ctx, a)
        return self

    @takes(SequenceArgs)
    def register_sequence(self, a: SequenceArgs) -> ETLMonitorFramework:
        """Add or update a custom stage; custom stages use SequenceID >= 10."""
        registry.register_sequence(self._ctx, a)
        return self

    @takes(TaskArgs)
    def register_task(self, a: TaskArgs) -> ETLMonitorFramework:
        """Add or update a task of a registered process (ETLconfigTasks).

        The initiation task is task_id=0, workflow_id=0, sequence_id=0. Tasks sharing a
        sequence_id run in parallel; a failed mandatory task blocks later stages.
        load_frequency: D daily, W weekly (ISO week), M monthly, Y yearly, A every run.
        file_name_mask: a base name (``payroll_uk`` gives ``payroll_uk_202604.csv`` for a
        monthly task) or a name with date tokens (``employees_{yyyyMMdd}``).
        source_system_code names the task's watermark parameter.

        Raises:
            InvalidArgumentError: a bad value; nothing was written.
            NotFoundError: the process or the stage is not registered.
        """
        registry.register_task(self._ctx, a)
        return self

    @takes(TaskKeyArgs)
    def deactivate_task(self, a: TaskKeyArgs) -> ETLMonitorFramework:
        """Switch a task off: later executions do not queue it, and task() skips it."""
        registry.set_task_active(self._ctx, a, False)
        return self

    @takes(TaskKeyArgs)
    def activate_task(self, a: TaskKeyArgs) -> ETLMonitorFramework:
        """Switch a deactivated task back on."""
        registry.set_task_active(self._ctx, a, True)
        return self

    reactivate_task = activate_task

    @takes(ParameterArgs)
    def register_parameter(self, a: ParameterArgs) -> ETLMonitorFramework:
        """Add or update a watermark or flag: DELTA_DATE, DELTA_ID, FLAG or SYSTEM.

        Registering again changes the description, never a value: values move with
        advance_watermark(), set_flag() and set_processing_mode().
        """
        registry.register_parameter(self._ctx, a)
        return self

    # -- executions and the queue ----------------------------------------------------------
    @staticmethod
    def generate_execution_id() -> str:
        """A new execution id (a UUID); a retry of a run gets a new one."""
        return steps.generate_execution_id()

    @takes(GenerateArgs)
    def generate_execution_steps(self, a: GenerateArgs) -> int:
        """Queue one step per active task (not those already DONE in their period); returns the count.

        processing_date defaults to the historic date in historic mode, else today (UTC).
        A repeat call for the same execution is a no-op. A new execution for a date counts
        as a retry (Attempts + 1).
        """
        return steps.generate_execution_steps(self._ctx, a)

    @takes(PendingArgs)
    def get_pending_tasks(self, a: PendingArgs) -> Any:
        """Runnable steps as a DataFrame, in workflow / stage / task order, with files and watermarks.

        Generates the steps on first call. With task_id: exactly one row, whose Status is
        the step's when it can run now and 'NULL' otherwise (done, skipped, deactivated,
        running, or not generated).
        """
        return steps.get_pending_tasks(self._ctx, a)

    @takes(TaskStatusArgs)
    def task_status(self, a: TaskStatusArgs) -> str:
        """The step's status when it can run now (NQUE, RQUE, FAIL, CANCELLED), else 'NULL'."""
        return steps.task_status(self._ctx, a)

    @takes(SkipArgs)
    def skip_task(self, a: SkipArgs) -> None:
        """Skip a queued step for this execution only (ETLProcessingSteps.ForceSkip)."""
        steps.skip_task(self._ctx, a)

    @takes(UnskipArgs)
    def unskip_task(self, a: UnskipArgs) -> None:
        """Queue a skipped step again."""
        steps.unskip_task(self._ctx, a)

    @takes(ResetArgs)
    def status_reset(self, a: ResetArgs) -> int:
        """Re-queue steps for a rerun: a day replay, an execution's failures, or named tasks; returns the count."""
        return steps.status_reset(self._ctx, a)

    # -- lifecycle -------------------------------------------------------------------------
    @takes(TaskCallArgs)
    def task(self, a: TaskCallArgs) -> TaskContext:
        """Context manager recording one task run: RUNNING, then DONE or FAIL / CANCELLED.

        Yields a TaskRun; when ``.active`` is False (DONE, skipped, deactivated or never
        generated; ``.status`` is then 'NULL') nothing is written and the body should do
        nothing. log_message, log_type and log_code are recorded with DONE. An exception
        in the body is recorded with its message and re-raised unchanged.

        Example:
            >>> with monitor.task(exec_id, "CORP", "HR_DAILY", task_id=1, workflow_id=1,
            ...                   sequence_id=2, processing_date="2026-04-09") as t:  # doctest: +SKIP
            ...     if t.active:
            ...         load()
        """
        return TaskContext(self._ctx, a)

    @takes(StartArgs)
    def start_task(self, a: StartArgs) -> TaskRun:
        """Record that a task started (for jobs and ADF that cannot use ``task()``)."""
        return lifecycle.start(self._ctx, a.key, a.event, a.expected)

    @takes(EndArgs)
    def end_task(self, a: EndArgs) -> str:
        """Record DONE (or FAIL with ``status='FAIL'``); the task's DELTA_DATE watermark advances to its start."""
        return lifecycle.finish(self._ctx, a)

    @takes(FailArgs)
    def fail_task(self, a: FailArgs) -> str:
        """Record FAIL with a message (verbatim), type and code."""
        return lifecycle.fail(self._ctx, a.key, a.event, expected=a.expected)

    # -- watermarks and modes --------------------------------------------------------------
    @takes(AdvanceArgs)
    def advance_watermark(self, a: AdvanceArgs) -> bool:
        """Move a DELTA_DATE or DELTA_ID watermark forward (never back); inside task() it lands with DONE."""
        return watermarks.advance_watermark(self._ctx, a)

    @takes(ParameterKey)
    def get_active_watermark(self, a: ParameterKey) -> Any:
        """Current value of a parameter, typed by its ParameterType (datetimes in UTC)."""
        return watermarks.get_active_watermark(self._ctx, a)

    @takes(FlagArgs)
    def set_flag(self, a: FlagArgs) -> None:
        """Set a FLAG parameter."""
        watermarks.set_flag(self._ctx, a)

    @takes(ParameterKey)
    def watermark_history(self, a: ParameterKey) -> list[dict[str, Any]]:
        """Every change of a parameter, oldest first."""
        return watermarks.watermark_history(self._ctx, a)

    @takes(RestoreArgs)
    def restore_watermark(self, a: RestoreArgs) -> Any:
        """Set a parameter back to its value before an execution changed it; returns that value."""
        return watermarks.restore_watermark(self._ctx, a)

    @takes(ModeArgs)
    def set_processing_mode(self, a: ModeArgs) -> int:
        """Bulk (full reload), historic (a past processing date) or, with no flags, live mode.

        processing_date (or historic_date) is the historic date. With parameter_name and a
        value_datetime / value_int / value_bit, sets that parameter. Returns how many
        parameters changed.
        """
        return watermarks.set_processing_mode(self._ctx, a)

    # -- reporting -------------------------------------------------------------------------
    @takes(MaintainArgs)
    def maintain(self, a: MaintainArgs) -> MaintenanceReport:
        """Keep run tracking fast after years of history; safe while tasks run.

        Compacts every table (``OPTIMIZE`` where the engine has it, else the same Delta
        operation on the table's files), optionally moves STEP events of processing dates
        older than `archive_after_days` to ``ETLProcessingEventsArchive`` (the views read
        both), and deletes unreferenced files older than 7 days. Schedule it daily.

        Args:
            archive_after_days: archive step events of dates older than this; None keeps all.
            vacuum: delete files no snapshot of the last 7 days references.

        Returns:
            The events archived and the files of each table before and after.

        Raises:
            InvalidArgumentError: archive_after_days is not a positive integer.

        Example:
            >>> monitor.maintain(archive_after_days=400)  # doctest: +SKIP
        """
        return maintenance.maintain(self._ctx, a)

    @takes(StatusArgs)
    def get_status(self, a: StatusArgs) -> Any:
        """Task detail (v_taskDetail), or run rollups with summary_mode=True (v_runSummary), as a DataFrame.

        Without processing_date and execution_id: the process's processing date.
        """
        return reporting.get_status(self._ctx, a)

    @takes(StaleArgs)
    def stale_tasks(self, a: StaleArgs) -> list[dict[str, Any]]:
        """RUNNING steps older than the stale threshold: their process probably died."""
        return reporting.stale_tasks(self._ctx, a)

    def create_job_runs_view(self, source: str = "system.lakeflow") -> str:
        """Create ``v_stepJobRuns``: each step beside its Databricks job run and task run.

        Not part of `setup()`: it reads Databricks' ``system.lakeflow`` tables, which exist only
        on Databricks and only where an account admin enabled that schema.

        Args:
            source: ``catalog.schema`` holding ``job_run_timeline`` and ``job_task_run_timeline``.

        Returns:
            The view's name.

        Raises:
            InvalidArgumentError: `source` is not ``catalog.schema``.
            NotFoundError: a timeline table is absent or unreadable; nothing was created.
        """
        return job_runs.create_job_runs_view(self._ctx, source)

    @takes(ReceiptArgs)
    def log_receipt(self, a: ReceiptArgs) -> str:
        """Store a raw run receipt in ETLsysLogs (the payload verbatim, plus what identifies the run)."""
        return reporting.log_receipt(self._ctx, a)


def _check_process_filter(function: str, project_code: Any, process_load: Any) -> None:
    """The optional project and process a call is narrowed to, checked before any read."""
    check_value(Code | None, function, "project_code", project_code)
    check_value(Code | None, function, "process_load", process_load)
